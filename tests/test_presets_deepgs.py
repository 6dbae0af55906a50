"""The deepgs preset follows GPBench's DeepGS (docs/bench/deepgs_parity.md); deepgs_v1 is kept."""

from pathlib import Path

from snpcnn.bench import load_config
from snpcnn.models import build_model, count_params, get_preset

CONFIG = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "wheat_deepgs.toml"


def test_deepgs_has_gpbench_layers():
    n_snps = 1279  # the shipped wheat markers
    model = build_model("deepgs", (n_snps, 1))
    conv = model.get_layer("conv1_conv")
    assert (conv.filters, conv.kernel_size, conv.strides, conv.padding) == (8, (18,), (1,), "valid")
    pooled = (n_snps - 18 + 1 - 4) // 4 + 1  # 315
    assert model.get_layer("pool1").output.shape[1] == pooled
    fc = model.get_layer("fc1_dense")
    assert fc.units == 32 and fc.kernel.shape == (pooled * 8, 32)
    assert model.get_layer("fc1_act").activation.__name__ == "sigmoid"
    assert model.get_layer("fc1_dropout").rate == 0.1
    # GPBench drops out after the flatten (base_deepgs.py), then the dense layer
    names = [layer.name for layer in model.layers]
    assert names.index("flatten") < names.index("dropout1") < names.index("fc1_dense")
    assert model.get_layer("dropout1").rate == 0.2
    # weight decay 1e-5 as an L2 penalty of 5e-6 on the conv and dense kernels
    assert abs(float(conv.kernel_regularizer.l2) - 5e-6) < 1e-12
    assert abs(float(fc.kernel_regularizer.l2) - 5e-6) < 1e-12
    total = (18 * 8 + 8) + (pooled * 8 * 32 + 32) + (32 + 1)
    assert count_params(model)["total"] == total


def test_deepgs_v1_keeps_the_first_shipped_network():
    spec = get_preset("deepgs_v1")
    assert spec["name"] == "deepgs_v1"
    types = [b["type"] for b in spec["blocks"]]
    assert types == ["conv", "maxpool", "dropout", "flatten", "dense"]
    assert spec["blocks"][-1]["kernel_initializer"] == "glorot_uniform"
    assert count_params(build_model("deepgs_v1", (1000, 1)))["total"] == 62_937


def test_wheat_deepgs_config_uses_gpbench_training_settings(example_data):
    cfg = load_config(CONFIG)
    assert cfg.datasets[0].genotypes.exists()
    new, v1, ablation, five = cfg.models
    assert (new.name, new.architecture, v1.name, v1.architecture) == (
        "deepgs",
        "deepgs",
        "deepgs_v1",
        "deepgs_v1",
    )
    # GPBench DeepGS.py defaults: batch 32, patience 50, 6000 rounds, 10% inner split
    assert (new.batch_size, new.patience, new.epochs, new.val_fraction) == (32, 50, 6000, 0.1)
    # the settings deepgs_v1 was published with (wheat.toml [defaults])
    assert (v1.epochs, v1.patience, v1.learning_rate) == (60, 10, 1e-3)
    # the ablation: the first network with GPBench's training settings
    assert ablation.architecture == "deepgs_v1"
    assert (ablation.batch_size, ablation.patience, ablation.epochs) == (32, 50, 6000)
    # session 12: the deepgs network with the same settings, 5 networks averaged
    assert (five.architecture, five.n_seeds) == ("deepgs", 5)
    assert (five.batch_size, five.patience, five.epochs, five.learning_rate) == (32, 50, 6000, 1e-3)


def test_wheat_deepgs_seeds_config_is_the_parity_run_at_five_seeds(example_data):
    """wheat_deepgs_seeds.toml: the same single network and settings at seeds 0-4 (seed 0 is
    the parity run's own, so its numbers reproduce wheat_deepgs.toml's deepgs row)."""
    seeds = load_config(CONFIG.with_name("wheat_deepgs_seeds.toml"))
    base = load_config(CONFIG)
    assert seeds.seeds == [0, 1, 2, 3, 4] and base.seeds == [0]
    (one,) = seeds.models
    ref = base.models[0]
    keys = ("name", "architecture", "n_seeds", "batch_size", "patience", "epochs")
    keys += ("learning_rate", "val_fraction", "scaling", "encoding")
    assert {k: getattr(one, k) for k in keys} == {k: getattr(ref, k) for k in keys}
    assert seeds.datasets[0].folds == base.datasets[0].folds
