"""Every named architecture at rank 1 and rank 2; hand-computed parameter counts."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import build_model, count_params, describe, get_preset, list_presets, zoo

# tiny versions for tests: width multiplier 1/16 where the preset has one
TINY = {
    "alexnet": {"width": 1 / 16},
    "vgg11": {"width": 1 / 16},
    "vgg16": {"width": 1 / 16},
    "googlenet": {"width": 1 / 16},
    "resnet18": {"width": 1 / 16},
    "resnet_small": {"width": 0.5},
    "densenet_small": {"growth_rate": 4, "layers_per_block": 2},
    "lenet5": {},
}
GENOMIC = (
    "snpcnn_default",
    "snpcnn_default_v17",
    "snpcnn_default_v18",
    "snpcnn_default_v19",
    "snpcnn_default_v20",
    "snpcnn_default_v21",
    "snpcnn_default_v16",
    "snpcnn_default_v15",
    "snpcnn_default_v14",
    "snpcnn_default_v11",
    "snpcnn_default_v12",
    "snpcnn_default_v13",
    "snpcnn_default_mt_trait",
    "snpcnn_triples_lead",
    "snpcnn_default_v10",
    "snpcnn_triples",
    "snpcnn_default_v9",
    "snpcnn_default_v8",
    "snpcnn_default_v7",
    "snpcnn_default_v6",
    "snpcnn_default_v5",
    "snpcnn_default_v4",
    "snpcnn_default_v3",
    "snpcnn_default_v2",
    "perez_enciso_2019",
    "deepgs",
    "deepgs_v1",
    "dnngp",
    "mlp",
)
#: genomic-only presets: their `screen` picks windows of SNPs (1-D input only)
SNP_ONLY = (
    "snpcnn_default",
    "snpcnn_default_v17",
    "snpcnn_default_v18",
    "snpcnn_default_v19",
    "snpcnn_default_v20",
    "snpcnn_default_v21",
    "snpcnn_default_v16",
    "snpcnn_default_v15",
    "snpcnn_default_v14",
    "snpcnn_default_v11",
    "snpcnn_default_v12",
    "snpcnn_default_v13",
    "snpcnn_default_mt_trait",
    "snpcnn_triples_lead",
    "snpcnn_default_v10",
    "snpcnn_triples",
    "snpcnn_default_v9",
    "snpcnn_default_v8",
    "snpcnn_default_v7",
    "snpcnn_default_v6",
    "snpcnn_default_v5",
    "snpcnn_default_v4",
    "snpcnn_default_v3",
)
SHAPES = {1: (64, 1), 2: (32, 32, 3)}


def test_list_presets():
    assert set(list_presets()) == set(TINY) | set(GENOMIC)


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("preset", sorted(set(TINY) | set(GENOMIC)))
def test_every_preset_builds_at_rank_1_and_2(preset, rank):
    shape = SHAPES[rank]
    if rank == 2 and preset in SNP_ONLY:
        with pytest.raises(InputError, match="needs 1-D input"):
            build_model(preset, shape, n_outputs=2)
        return
    model = build_model(preset, shape, n_outputs=2, **TINY.get(preset, {}))
    assert model.output_shape == (None, 2)
    assert model.input_shape == (None, *shape)
    assert model.name == preset
    convs = [
        layer
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv1D | keras.layers.Conv2D)
    ]
    if preset != "mlp":
        assert convs and all(len(c.kernel_size) == rank for c in convs)
    x = np.random.default_rng(0).normal(size=(2, *shape)).astype("float32")
    out = np.asarray(model(x, training=False))
    assert out.shape == (2, 2) and np.isfinite(out).all()
    text = describe(model)
    assert f"{count_params(model)['total']:,} total" in text


def test_lenet5_param_count_by_hand():
    # MNIST LeNet-5 (ReLU, max-pool, first conv 'same' on 28x28x1, 10 classes)
    c1 = 5 * 5 * 1 * 6 + 6  # 156; output 28x28x6, pool -> 14x14x6
    c3 = 5 * 5 * 6 * 16 + 16  # 2,416; 'valid' -> 10x10x16, pool -> 5x5x16
    f5 = (5 * 5 * 16) * 120 + 120  # 48,120
    f6 = 120 * 84 + 84  # 10,164
    out = 84 * 10 + 10  # 850
    model = build_model("lenet5", (28, 28, 1), head="multiclass", n_outputs=10)
    assert count_params(model) == {
        "trainable": c1 + c3 + f5 + f6 + out,
        "non_trainable": 0,
        "total": 61_706,
    }
    assert c1 + c3 + f5 + f6 + out == 61_706
    # same code at rank 1 on 64 SNPs: 64 -same-> 64 -pool-> 32 -valid 5-> 28 -pool-> 14
    c1 = 5 * 1 * 6 + 6
    c3 = 5 * 6 * 16 + 16
    f5 = (14 * 16) * 120 + 120
    model = build_model("lenet5", (64, 1))
    assert count_params(model)["total"] == c1 + c3 + f5 + f6 + (84 + 1)


def test_lenet5_original_variant():
    model = build_model("lenet5", (32, 32, 1), activation="tanh", pooling="avg", padding="valid")
    assert model.get_layer("c1_act").activation.__name__ == "tanh"
    assert isinstance(model.get_layer("s2"), keras.layers.AveragePooling2D)
    assert model.get_layer("c1_conv").output.shape[1:3] == (28, 28)
    assert model.get_layer("flatten").output.shape[-1] == 5 * 5 * 16


def test_deepgs_param_count_by_hand():
    n_snps = 1000
    conv = 18 * 1 * 8 + 8  # 152; 'valid' -> 1000 - 18 + 1 = 983 positions
    pooled = (983 - 4) // 4 + 1  # max-pool 4, stride 4 -> 245
    dense = pooled * 8 * 32 + 32  # 62,752
    out = 32 + 1
    model = build_model("deepgs", (n_snps, 1))
    assert model.get_layer("pool1").output.shape[1] == 245
    assert count_params(model)["total"] == conv + dense + out == 62_937


def test_snpcnn_default_sees_screened_windows_through_square_convolutions():
    model = build_model("snpcnn_default", (10_000, 1))
    screen = model.get_layer("screen")
    assert (screen.n_windows, screen.width) == (32, 5)
    conv = model.get_layer("conv1_conv")
    assert conv.strides == conv.kernel_size == (5,) and conv.output.shape[1] == 32
    assert model.get_layer("conv1_act").activation.__name__ == "square"
    assert model.get_layer("linear").kernel.shape == (10_000, 1)  # every SNP, additive
    assert model.get_layer("flatten").output.shape[-1] == 32 * 8
    # a sequence shorter than the windows: as many windows as fit
    assert build_model("snpcnn_default", (12, 1)).get_layer("screen").n_windows == 2


def test_snpcnn_default_v2_downsamples_early_and_keeps_dense_fan_in_small():
    model = build_model("snpcnn_default_v2", (10_000, 1))
    first = model.get_layer("conv1_conv")
    assert first.strides == first.kernel_size == (4,)
    assert model.get_layer("conv1_conv").output.shape[1] == 2500
    fan_in = model.get_layer("flatten").output.shape[-1]
    assert fan_in == 157 * 32 < 20_000
    assert model.get_layer("fc1_dense").kernel_initializer.__class__.__name__ == "HeNormal"
    # works for any length, even shorter than the total stride
    assert build_model("snpcnn_default_v2", (5, 1)).output_shape == (None, 1)


def test_vgg_configurations():
    for name, n_conv in (("vgg11", 8), ("vgg16", 13)):
        model = build_model(name, (32, 32, 3), width=1 / 16)
        convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert len(convs) == n_conv
        assert convs[0].filters == 4 and convs[-1].filters == 32
    spec = get_preset("vgg16", width=1.0)
    assert [b["filters"] for b in spec["blocks"] if b["type"] == "vgg"] == [64, 128, 256, 512, 512]


def test_resnet18_structure():
    model = build_model("resnet18", (32, 32, 3), width=1 / 16)
    adds = [layer for layer in model.layers if isinstance(layer, keras.layers.Add)]
    projections = [layer for layer in model.layers if layer.name.endswith("_proj_conv")]
    assert len(adds) == 8 and len(projections) == 3
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) - len(projections) == 17  # 1 stem + 16 in blocks (+ the dense = 18)


def test_googlenet_has_nine_inception_modules():
    model = build_model("googlenet", (64, 1), width=1 / 16)
    concats = [layer for layer in model.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(concats) == 9
    # 5b: 384 + 384 + 128 + 128 channels scaled by 1/16
    assert model.get_layer("inception5b_concat").output.shape[-1] == 24 + 24 + 8 + 8


def test_width_multiplier_and_preset_errors():
    with pytest.raises(InputError, match="Received width=0"):
        get_preset("vgg11", width=0)
    with pytest.raises(InputError, match="unknown preset 'vgg19'"):
        get_preset("vgg19")
    with pytest.raises(InputError, match="preset parameters of 'vgg16': width"):
        build_model("vgg16", (32, 32, 3), widht=0.5)
    with pytest.raises(InputError, match="Received blocks_per_stage=0"):
        zoo.resnet_small(blocks_per_stage=0)


def test_toml_preset_takes_block_overrides():
    model = build_model("snpcnn_default_v2", (256, 1), activation="relu", l2=1e-3)
    assert model.get_layer("conv1_act").activation.__name__ == "relu"
    assert model.get_layer("fc1_dense").kernel_regularizer.l2 == pytest.approx(1e-3)


def test_presets_are_plain_data():
    for name in list_presets():
        spec = get_preset(name)
        assert spec["name"] == name
        assert all(isinstance(b, dict) and "type" in b for b in spec["blocks"])


@pytest.mark.parametrize(
    "preset, params, match",
    [
        # "12" * 2 gave filters='1212'
        (
            "densenet_small",
            {"growth_rate": "12"},
            r"densenet_small'.*`growth_rate`.*Received growth_rate='12'",
        ),
        ("densenet_small", {"layers_per_block": True}, "Received layers_per_block=True"),
        ("densenet_small", {"n_blocks": 2.0}, "Received n_blocks=2.0"),
        ("densenet_small", {"compression": "0.5"}, "Received compression='0.5'"),
        ("vgg11", {"dense_units": "64"}, r"`dense_units`.*Received dense_units='64'"),
        ("vgg11", {"global_pool": 1}, "Received global_pool=1"),
        ("lenet5", {"padding": "vaild"}, "Received padding='vaild'"),
    ],
)
def test_preset_parameters_are_type_checked(preset, params, match):
    with pytest.raises(InputError, match=match) as e:
        get_preset(preset, **params)
    assert "\n" not in str(e.value)
