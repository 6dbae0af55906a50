"""Rank-1 == rank-2 with height-1 kernels; save/load round trips; RandomGenotypeMask."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import (
    RandomGenotypeMask,
    build_model,
    compile_model,
    conv_layer_names,
    load_model,
    save_model,
)


def _spec(rank: int) -> dict:
    """The same network at rank 1, or at rank 2 with height-1 kernels/strides/pools."""

    def ax(v):
        return v if rank == 1 else [1, v]

    return {
        "name": f"eq{rank}",
        "blocks": [
            {
                "name": "c1",
                "type": "conv",
                "filters": 6,
                "kernel_size": ax(5),
                "strides": ax(2),
                "batch_norm": True,
            },
            {"name": "p1", "type": "maxpool", "pool_size": ax(2)},
            {
                "name": "r1",
                "type": "residual",
                "filters": 8,
                "kernel_size": ax(3),
                "strides": ax(2),
            },
            {"name": "se", "type": "squeeze_excite", "ratio": 0.5},
            {
                "name": "s1",
                "type": "separable_conv",
                "filters": 5,
                "kernel_size": ax(3),
                "activation": "elu",
            },
            {
                "name": "i1",
                "type": "inception",
                "filters_1x1": 2,
                "filters_3x3_reduce": 2,
                "filters_3x3": 3,
                "filters_5x5_reduce": 1,
                "filters_5x5": 2,
                "filters_pool_proj": 2,
            }
            if rank == 1
            else None,
            {"name": "flatten", "type": "flatten"},
            {"name": "fc", "type": "dense", "units": 7, "activation": "tanh"},
        ],
    }


def _drop_none(spec):
    spec["blocks"] = [b for b in spec["blocks"] if b is not None]
    return spec


def test_rank1_and_rank2_height1_compute_the_same():
    n_snps, channels = 48, 3
    spec1 = _drop_none(_spec(1))
    spec1["blocks"] = [b for b in spec1["blocks"] if b["type"] != "inception"]
    spec2 = _drop_none(_spec(2))
    m1 = build_model(spec1, (n_snps, channels), n_outputs=2)
    m2 = build_model(spec2, (1, n_snps, channels), n_outputs=2)
    rng = np.random.default_rng(0)
    # random weights everywhere (BN moving variances positive) so nothing is trivially equal
    weights1 = []
    for w in m1.weights:
        value = rng.normal(scale=0.3, size=w.shape).astype("float32")
        if "variance" in w.path:
            value = np.abs(value) + 0.5
        weights1.append(value)
    m1.set_weights(weights1)
    # copy by layer name: rank-1 kernels (k, cin, cout) become (1, k, cin, cout)
    for layer2 in m2.layers:
        layer1 = m1.get_layer(layer2.name)
        src = layer1.get_weights()
        assert len(src) == len(layer2.weights), layer2.name
        layer2.set_weights([w.reshape(v.shape) for w, v in zip(src, layer2.weights)])
    x = rng.normal(size=(5, n_snps, channels)).astype("float32")
    y1 = np.asarray(m1(x, training=False))
    y2 = np.asarray(m2(x[:, None], training=False))
    assert np.abs(y1).max() > 1e-3  # a non-trivial output
    np.testing.assert_allclose(y1, y2, rtol=1e-4, atol=1e-5)
    # the rank-2 model really uses 2-D layers
    assert type(m2.get_layer("c1_conv")).__name__ == "Conv2D"
    assert conv_layer_names(m1)[0] == "c1_conv" and conv_layer_names(m1) == conv_layer_names(m2)


@pytest.mark.parametrize("rank", [1, 2])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, rank):
    shape = (64, 3) if rank == 1 else (16, 16, 1)
    keras.utils.set_random_seed(1)
    model = build_model(
        "snpcnn_default" if rank == 1 else "lenet5", shape, n_outputs=2, augment=0.1
    )
    compile_model(model, "regression")
    x = np.random.default_rng(1).normal(size=(4, *shape)).astype("float32")
    y = np.array([[1.0, np.nan]] * 4, dtype="float32")
    model.train_on_batch(x, y)  # non-initial weights and optimizer state
    path = save_model(model, tmp_path / "model.keras")
    assert path.is_file()
    loaded = load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert isinstance(loaded.get_layer("augment_mask"), RandomGenotypeMask)
    assert loaded.get_layer("augment_mask").rate == pytest.approx(0.1)
    assert type(loaded.loss).__name__ == "MaskedMSE"
    assert np.isfinite(loaded.train_on_batch(x, y, return_dict=True)["loss"])  # masked loss
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temp file left


def test_save_refuses_overwrite_and_bad_paths(tmp_path):
    model = build_model("mlp", (8, 1))
    target = tmp_path / "m.keras"
    save_model(model, target)
    before = target.read_bytes()
    with pytest.raises(InputError, match="already exists; pass force=True"):
        save_model(model, target)
    assert target.read_bytes() == before
    save_model(model, target, force=True)
    with pytest.raises(InputError, match="must end in '.keras'"):
        save_model(model, tmp_path / "m.h5")
    with pytest.raises(InputError, match="no such folder"):
        save_model(model, tmp_path / "nope" / "m.keras")
    with pytest.raises(InputError, match="no such model file"):
        load_model(tmp_path / "missing.keras")
    junk = tmp_path / "junk.keras"
    junk.write_text("not a zip")
    with pytest.raises(InputError, match="junk.keras: not a .keras model file"):
        load_model(junk)


def test_random_genotype_mask_training_only():
    layer = RandomGenotypeMask(0.3, seed=7)
    x = np.random.default_rng(0).uniform(1, 2, size=(8, 500, 3)).astype("float32")
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)  # default: inference
    out = np.asarray(layer(x, training=True))
    zeroed = out == 0
    # a masked SNP has all its channels zero, the others are untouched (no rescaling)
    assert (zeroed.all(axis=-1) == zeroed.any(axis=-1)).all()
    kept = ~zeroed.any(axis=-1)
    np.testing.assert_array_equal(out[kept], x[kept])
    assert 0.25 < zeroed.all(axis=-1).mean() < 0.35
    # masks differ between samples
    assert not (zeroed[0] == zeroed[1]).all()


def test_random_genotype_mask_in_a_model_and_config():
    model = build_model("mlp", (200, 1), augment={"mask_rate": 0.5, "seed": 3})
    x = np.ones((2, 200, 1), "float32")
    np.testing.assert_array_equal(
        np.asarray(model(x, training=False)), np.asarray(model(x, training=False))
    )
    masked = np.asarray(model.get_layer("augment_mask")(x, training=True))
    assert 0 < masked.sum() < x.sum()
    clone = RandomGenotypeMask.from_config(RandomGenotypeMask(0.2, seed=5).get_config())
    assert clone.rate == 0.2 and clone.seed == 5
    with pytest.raises(InputError, match="Received augment=1.0"):
        build_model("mlp", (20, 1), augment=1.0)
    with pytest.raises(InputError, match="mask_rate"):
        build_model("mlp", (20, 1), augment={"rate": 0.1})
