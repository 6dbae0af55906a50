"""The v3 default's pieces: the window screen, the square activation, cross-fitted convolutions."""

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import build_model, load_architecture, load_model, save_model
from snpcnn.training import TrainConfig, screen_window_sets, screen_windows, train_cnn

SCREENED = {
    "name": "screened_tiny",
    "linear": {"l2": 1e-3},
    "screen": {"windows": 4, "width": 3},
    "blocks": [
        {
            "type": "conv",
            "filters": 4,
            "kernel_size": 3,
            "strides": 3,
            "activation": "square",
            "kernel_initializer": "lecun_normal",
            "l2": 1e-3,
        },
        {"type": "flatten"},
    ],
}


def _epistatic(n=400, m=60, seed=0, signal=True):
    """Standardised dosages; y = product of SNPs 20 and 22 (+ noise), no additive part."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    z = (x - x.mean(0)) / x.std(0)
    g = z[:, 20] * z[:, 22] if signal else np.zeros(n)
    y = g / (g.std() if signal else 1.0) + rng.normal(scale=0.6, size=n)
    return z.astype(np.float32)[..., None], ((y - y.mean()) / y.std()).astype(np.float32)[:, None]


def test_screen_finds_the_interacting_pair_from_the_training_rows_only():
    x, y = _epistatic()
    starts = screen_windows(x, y, 4, 3)
    assert len(starts) == 4 and np.all(np.diff(starts) >= 0)
    assert any(s <= 20 and 22 <= s + 2 for s in starts)  # one window holds both SNPs
    # rows whose trait is missing (NaN) are ignored, and a pure-noise target finds no pair
    _, noise = _epistatic(signal=False, seed=3)
    assert not any(s <= 20 and 22 <= s + 2 for s in screen_windows(x, noise, 1, 3))


def test_window_gather_and_square_round_trip_through_a_keras_file(tmp_path):
    model = build_model(SCREENED, (60, 1))
    layer = model.get_layer("screen")
    assert layer.n_windows == 4 and layer.width == 3
    layer.set_starts([0, 10, 20, 57])
    assert layer.positions().tolist()[-3:] == [57, 58, 59]
    x = np.random.default_rng(0).normal(size=(5, 60, 1)).astype("float32")
    path = save_model(model, tmp_path / "m.keras")
    again = load_model(path)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert again.get_layer("screen").positions().tolist() == layer.positions().tolist()
    with pytest.raises(ValueError, match="starts"):
        layer.set_starts([0, 10, 20, 58])  # the last window would run past the sequence


def test_screen_table_is_validated_and_needs_1d_input():
    assert load_architecture(SCREENED)["screen"] == {"windows": 4, "width": 3}
    bad = {**SCREENED, "screen": {"windows": 4, "span": 3}}
    with pytest.raises(InputError, match="unknown key `span` in `screen`"):
        load_architecture(bad)
    with pytest.raises(InputError, match="1-D input"):
        build_model(SCREENED, (8, 8, 1))
    # more windows than fit: as many as fit
    assert build_model(SCREENED, (7, 1)).get_layer("screen").n_windows == 2


def _cfg(**kw):
    base = {
        "model": SCREENED,
        "epochs": 80,
        "patience": 10,
        "learning_rate": 3e-3,
        "linear_init": "ridge_loo",
        "conv_folds": 3,
    }
    return TrainConfig(**{**base, **kw})


def _variants(m: int):
    import pandas as pd

    return pd.DataFrame({"chrom": "1", "pos": np.arange(m) + 1, "id": [f"s{i}" for i in range(m)]})


def test_crossfitted_convolutions_learn_a_local_interaction_that_ridge_cannot():
    x, y = _epistatic(n=500)
    res = train_cnn(x[:400], y[:400], _cfg(), seed=0)
    info = res.conv
    assert info["folds"] == 3 and info["kept"] == [True]
    assert 0.3 < info["weight"][0] <= 1.0 and info["p_value"][0] < 0.05
    assert info["oof_r"][0] > info["oof_r_start"][0] + 0.3  # out-of-fold, on the training rows
    assert res.best_epochs[0] > 0 and res.ridge_start
    p = res.model.predict(x[400:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[400:, 0])[0, 1] > 0.5
    # fixed seed: identical on CPU
    again = train_cnn(x[:400], y[:400], _cfg(), seed=0)
    np.testing.assert_array_equal(again.model.predict(x[400:], verbose=0)[:, 0], p)
    # explain: Grad-CAM (averaged over the cross-fitted networks, mapped back through the
    # screen) and saliency both put the interacting pair on top
    from snpcnn.explain import grad_cam_status, snp_importance

    assert grad_cam_status(res.model) is None
    imp = snp_importance(res.model, x[400:], _variants(60), methods=["grad_cam", "saliency"])
    for method in ("grad_cam", "saliency"):
        top = imp.sort_values(method, ascending=False).index[:3]
        assert {20, 22} & set(top), (method, list(top))


def test_crossfitted_convolutions_are_dropped_without_signal_and_the_model_is_its_ridge():
    from snpcnn.baselines import RidgeRegression

    x, y = _epistatic(n=300, signal=False, seed=5)
    res = train_cnn(x, y, _cfg(), seed=1)
    assert res.conv["kept"] == [False] and res.conv["weight"] == [0.0]
    from snpcnn.explain import grad_cam_status

    assert "dropped" in grad_cam_status(res.model)
    assert res.best_epochs == [0]
    x2 = x.reshape(len(x), -1).astype(float)
    ridge = RidgeRegression().fit(x2, y[:, 0].astype(float))
    np.testing.assert_allclose(
        res.model.predict(x, verbose=0)[:, 0], ridge.predict(x2), rtol=1e-4, atol=1e-4
    )


def test_conv_folds_must_be_zero_or_at_least_two():
    with pytest.raises(InputError, match="conv_folds"):
        TrainConfig(conv_folds=1)


def test_cross_validation_reports_the_cnn_start_and_attributes_the_difference(tmp_path):
    """The default's CNN row is the convolutional model; its start (RR-BLUP, CNN-GP, GBLUP-AD or
    LASSO, chosen by REML or inner CV per fold) is scored beside it on the same folds, and the report splits
    CNN - GBLUP into the two parts."""
    from snpcnn.cv import HYBRID_NAME as CNN_NAME
    from snpcnn.cv import cross_validate, start_label
    from snpcnn.report import attribution_text, console_report, summary_markdown
    from snpcnn.simulate import simulate_genotypes, simulate_trait

    g = simulate_genotypes(160, 80, n_chrom=1, seed=2)
    y, _ = simulate_trait(g, "mixed", n_loci=2, seed=3)
    y.rename("t").to_frame().to_csv(tmp_path / "y.csv", index_label="sample_id")
    res = cross_validate(
        g,
        tmp_path / "y.csv",
        "t",
        folds=2,
        epochs=10,
        patience=5,
        conv_folds=2,
        baselines=["gblup"],
        refit=False,
    )
    START_NAME = start_label("snpcnn_default")
    assert START_NAME == "CNN start (RR-BLUP, CNN-GP, GBLUP-AD or LASSO, by REML or inner CV)"
    assert res.models[:2] == [CNN_NAME, START_NAME]
    m = (
        res.metrics[res.metrics["metric"] == "pearson_r"]
        .pivot_table(index="fold", columns="model", values="value", dropna=False)
        .fillna(0.0)
    )
    text = attribution_text(res, "t")
    total = (m[CNN_NAME] - m["GBLUP"]).mean()
    conv = (m[CNN_NAME] - m[START_NAME]).mean()

    def fmt(v):
        return f"{0.0 if abs(v) < 5e-4 else v:+.3f}"

    assert CNN_NAME == "CNN hybrid (start + convolutions)"
    assert f"CNN hybrid - GBLUP = {fmt(total)}" in text
    assert f"{fmt(conv)} from its trained convolutions" in text
    assert text in summary_markdown(res) and text in console_report(res)
    assert "cross-fitted in 2 parts" in console_report(res)
    kept, n = res.conv_kept()
    assert n == 2
    for h in res.histories:  # a dropped correction: the CNN is exactly its start
        if not h["conv"]["kept"][0]:
            p = res.predictions
            f = p[p["fold"] == h["fold"]].pivot_table(
                index="sample_id", columns="model", values="predicted"
            )
            np.testing.assert_allclose(f[CNN_NAME], f[START_NAME], rtol=1e-4, atol=1e-4)


def test_dominance_block_of_the_ridge_start_is_chosen_by_leave_one_out():
    """[linear] dominance = true: the start adds effects on the squared inputs, weighted by
    leave-one-out; on a heterozygote-advantage trait it takes a weight > 0, and the untrained
    network predicts exactly that start."""
    from snpcnn.training import _fit_ridge

    rng = np.random.default_rng(4)
    x = rng.binomial(2, 0.5, size=(300, 40)).astype(np.float64)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    het = (x[:, :5] == 1).sum(1)
    y = (het - het.mean() + 0.7 * rng.normal(size=300)).astype(np.float32)[:, None]
    start = _fit_ridge(z, y, dominance=True)
    assert start.dom_weight > 0 and start.coef.shape == (80, 1)
    spec = {**SCREENED, "linear": {"l2": 1e-3, "dominance": True}}
    res = train_cnn(z, y, _cfg(model=spec, epochs=0, conv_folds=2), seed=0)
    np.testing.assert_allclose(
        res.model.predict(z, verbose=0)[:, 0], res.start.predict(z)[:, 0], rtol=1e-4, atol=1e-4
    )


def test_held_out_part_is_predicted_in_bounded_batches():
    from snpcnn.training import HELD_BATCH_BYTES, _held_batch

    small = np.zeros((10, 4000, 1), dtype=np.float32)
    assert _held_batch(320, small) == 320  # every published run: one batch, as before
    wide = np.zeros((1, 50_000, 1), dtype=np.float32)
    b = _held_batch(8000, wide)
    assert b < 8000 and b * 50_000 * 4 <= HELD_BATCH_BYTES
    assert _held_batch(0, small) == 1


def test_cube_filters_express_a_three_snp_product_and_round_trip(tmp_path):
    # a square filter is a quadratic form; four cube filters over one window of 3 SNPs,
    # weighted by the polarisation identity 24 x1 x2 x3 = sum_s s1 s2 s3 (s . x)^3 over
    # s = (1, +-1, +-1), give the product of the three SNPs exactly
    spec = {**SCREENED, "screen": {"windows": 1, "width": 3}}
    spec["blocks"] = [{**SCREENED["blocks"][0], "activation": "cube"}, {"type": "flatten"}]
    model = build_model(spec, (3, 1))
    assert model.get_layer("b1_act").activation.__name__ == "cube"
    signs = np.array([[1, a, b] for a in (1, -1) for b in (1, -1)], dtype="float32")
    conv = model.get_layer("b1_conv")
    conv.set_weights([signs.T[:, None, :], np.zeros(4, dtype="float32")])
    model.get_layer("linear").set_weights(
        [np.zeros_like(w) for w in model.get_layer("linear").get_weights()]
    )
    out = model.get_layer("output")
    w, b = out.get_weights()
    w[:] = 0
    w[:4, 0] = signs.prod(axis=1) / 24  # the 4 filter outputs, then the linear path's
    out.set_weights([w, np.zeros_like(b)])
    x = np.random.default_rng(0).normal(size=(50, 3, 1)).astype("float32")
    np.testing.assert_allclose(
        model.predict(x, verbose=0)[:, 0], x[:, 0, 0] * x[:, 1, 0] * x[:, 2, 0], atol=1e-4
    )
    again = load_model(save_model(model, tmp_path / "cube.keras"))
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def _triple(n=800, m=60, seed=0, signal=True):
    """Independent dosages; y = product of the centred SNPs 20, 22 and 24 (+ noise): no
    single SNP and no pair of them carries any of the signal."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    c = x - 1.0
    y = c[:, 20] * c[:, 22] * c[:, 24] * (1.0 if signal else 0.0) + rng.normal(0, 0.5, n)
    return x, y


def test_triple_screen_finds_a_pure_three_snp_interaction_and_changes_nothing_without_one():
    x, y = _triple()
    info: dict = {}
    starts = screen_windows(x, y, 4, 5, triples=True, info=info)
    assert info["triple_significant"] >= 1 and info["triple_windows"] >= 1
    assert any(s <= 20 and 24 <= s + 4 for s in starts)  # one window holds all three SNPs
    # on noise no triple passes the Bonferroni gate and the windows are the pairs' own
    _, noise = _triple(signal=False, seed=5)
    info = {}
    same = screen_windows(x, noise, 4, 5, triples=True, info=info)
    assert info["triple_significant"] == 0
    np.testing.assert_array_equal(same, screen_windows(x, noise, 4, 5))
    # the same in an LD order's window sets
    sets = screen_window_sets(x, y, 4, 5, 8, all_pairs=True, triples=True, info=info)
    assert any({20, 22, 24} <= set(w) for w in sets.tolist())


def test_square_cube_squares_the_first_half_of_the_filters_and_cubes_the_rest():
    from snpcnn.models.layers import square_cube

    v = np.arange(1.0, 6.0, dtype="float32").reshape(1, 1, 5)
    np.testing.assert_allclose(np.asarray(square_cube(v))[0, 0], [1, 4, 9, 64, 125])


TRIPLES_TOML = """
name = "triples_tiny"
[linear]
l2 = 1e-3
[screen]
windows = 2
width = 5
triples = "only"
[[blocks]]
type = "conv"
filters = 4
kernel_size = 5
strides = 5
activation = "cube"
kernel_initializer = "lecun_normal"
l2 = 1e-3
[[blocks]]
type = "flatten"
"""


def test_triple_stage_learns_a_pure_three_snp_product_and_is_absent_without_one(tmp_path):
    from snpcnn.explain import grad_cam_status

    (tmp_path / "triples_tiny.toml").write_text(TRIPLES_TOML)
    staged = {
        **SCREENED,
        "triple_stage": {"model": str(tmp_path / "triples_tiny.toml"), "learning_rate": 3e-3},
    }
    x, y = _triple(n=900)
    z = ((x - x.mean(0)) / x.std(0)).astype(np.float32)[..., None]
    y = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    res = train_cnn(z[:700], y[:700], _cfg(model=staged), seed=0)
    rec = res.conv["triple_stage"]
    # the first stage (square filters) cannot express the product; the triple is
    # significant in its out-of-fold residuals and the cube filters' correction is kept
    assert rec["ran"] and rec["triple_significant"] >= 1 and rec["kept"], rec
    assert rec["oof_r"] > rec["oof_r_start"] + 0.2 and rec["p_value"] < 0.05
    assert res.best_epochs[0] > 0  # counted as convolutions kept
    p = res.model.predict(z[700:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[700:, 0])[0, 1] > 0.4
    assert grad_cam_status(res.model) is None
    # Grad-CAM (over both stages' networks) and saliency find the triple
    from snpcnn.explain import snp_importance

    imp = snp_importance(res.model, z[700:], _variants(60), methods=["grad_cam", "saliency"])
    for method in ("grad_cam", "saliency"):
        top = imp.sort_values(method, ascending=False).index[:5]
        assert len({20, 22, 24} & set(top)) >= 2, (method, list(top))
    names = {layer.name for layer in res.model.layers}
    assert {"triple_part0", "cnn_part0"} <= names
    again = load_model(save_model(res.model, tmp_path / "staged.keras"))
    np.testing.assert_allclose(again.predict(z[700:], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6)
    # on noise no triple passes: no second stage, the model is the first stage's bit for bit
    _, noise = _triple(n=900, signal=False, seed=5)
    noise = ((noise - noise.mean()) / noise.std()).astype(np.float32)[:, None]
    res = train_cnn(z[:700], noise[:700], _cfg(model=staged), seed=0)
    assert res.conv["triple_stage"]["ran"] is False
    assert res.conv["triple_stage"]["triple_significant"] == 0
    plain = train_cnn(z[:700], noise[:700], _cfg(), seed=0)
    np.testing.assert_array_equal(
        res.model.predict(z[700:], verbose=0), plain.model.predict(z[700:], verbose=0)
    )


def test_a_bad_triple_stage_model_fails_before_any_training(tmp_path):
    x, y = _epistatic(n=60)
    bad = {**SCREENED, "triple_stage": {"model": "no_such_preset"}}
    with pytest.raises(InputError, match="no_such_preset"):
        train_cnn(x, y, _cfg(model=bad), seed=0)
    # an architecture without a screen cannot be a second stage
    (tmp_path / "plain.toml").write_text(
        TRIPLES_TOML.split("[screen]")[0] + '[[blocks]]\ntype = "flatten"\n'
    )
    bad = {**SCREENED, "triple_stage": {"model": str(tmp_path / "plain.toml")}}
    with pytest.raises(InputError, match="needs a `linear` and a `screen` table"):
        train_cnn(x, y, _cfg(model=bad), seed=0)


def test_triple_stage_table_is_validated():
    with pytest.raises(InputError, match="triple_stage.*learning_rate"):
        load_architecture({**SCREENED, "triple_stage": {"learning_rate": 0}})
    with pytest.raises(InputError, match="unknown key `lr` in `triple_stage`"):
        load_architecture({**SCREENED, "triple_stage": {"lr": 1e-3}})
    bare = {k: v for k, v in SCREENED.items() if k != "screen"}
    with pytest.raises(InputError, match="`triple_stage` corrects a wide & deep model"):
        load_architecture({**bare, "triple_stage": {}})
    spec = load_architecture({**SCREENED, "triple_stage": {}})
    assert spec["triple_stage"] == {
        "model": "snpcnn_triples_lead",
        "learning_rate": 3e-4,
        "epochs": 0,
    }
    assert load_architecture("snpcnn_triples")["screen"]["triples"] == "only"
    assert load_architecture("snpcnn_default_v10")["triple_stage"]["model"] == "snpcnn_triples"


def test_reports_count_where_the_triple_stage_ran_and_was_kept():
    from types import SimpleNamespace

    from snpcnn.cv import CVResults
    from snpcnn.report import _triple_stage_text

    hist = [
        {"conv": {"triple_stage": {"ran": True, "kept": True}}},
        {"conv": {"triple_stage": {"ran": True, "kept": False}}},
        {"conv": {"triple_stage": {"ran": False, "triple_significant": 0}}},
        {"conv": {}},
    ]
    counts = CVResults.triple_stages(SimpleNamespace(histories=hist))
    assert counts == {"fits": 3, "ran": 2, "kept": 1}
    text = _triple_stage_text(counts, short=False)
    assert "ran in 2 of 3 fits" in text and "kept in 1" in text
    assert CVResults.triple_stages(SimpleNamespace(histories=hist[3:])) is None
    assert _triple_stage_text(None, short=True) == ""


def test_lead_windows_start_with_their_triple_and_the_cube_filters_start_on_its_product():
    import tomllib

    import keras

    from snpcnn.training import _polarise, _triple_sets

    keras.utils.set_random_seed(0)
    x, y = _triple()
    sets = _triple_sets(x, y, 3, 5, lead=True)
    assert sets.shape == (3, 5) and all(len(set(w)) == 5 for w in sets.tolist())
    assert sets[0, :3].tolist() == [20, 22, 24]  # the best triple leads the best window
    assert sets[0, 3:].tolist() == [21, 23]  # then the rest of its run, in order
    lead = TRIPLES_TOML.replace('triples = "only"', 'triples = "lead"\norder = "auto"')
    spec = load_architecture(tomllib.loads(lead))
    model = build_model(spec, (60, 1))
    screen = model.get_layer("screen")
    screen.set_windows(sets[:2])
    z = (x - x.mean(0))[..., None].astype(np.float32)
    _polarise(model, screen, z[:, sets[:2], 0])
    conv = next(la for la in model.layers if isinstance(la, keras.layers.Conv1D))
    feats = keras.Model(model.input, conv.output)(z).numpy()  # rows x windows x filters
    cubes = feats[:, 0, :] ** 3  # window 0's four cube features
    design = np.column_stack([cubes, np.ones(len(z))])
    target = z[:, 20, 0] * z[:, 22, 0] * z[:, 24, 0]
    fit = design @ np.linalg.lstsq(design, target, rcond=None)[0]
    assert np.corrcoef(fit, target)[0, 1] > 0.99  # the product is in the filters' span
    # [screen] polarised = 2: two filters start on the product, the others keep their draw
    half = build_model(
        load_architecture(
            tomllib.loads(lead.replace("[[blocks]]", "polarised = 2\n[[blocks]]", 1))
        ),
        (60, 1),
    )
    screen = half.get_layer("screen")
    assert screen.polarised == 2
    screen.set_windows(sets[:2])
    conv = next(la for la in half.layers if isinstance(la, keras.layers.Conv1D))
    before = conv.kernel.numpy().copy()
    _polarise(half, screen, z[:, sets[:2], 0])
    after = conv.kernel.numpy()
    np.testing.assert_array_equal(after[:, :, 2:], before[:, :, 2:])
    assert not np.allclose(after[:, :, :2], before[:, :, :2])
    assert load_architecture("snpcnn_triples_lead")["screen"]["triples"] == "lead"
    with pytest.raises(InputError, match='Expected true, false, "only" or "lead"'):
        load_architecture(tomllib.loads(TRIPLES_TOML.replace('"only"', '"leed"')))
    v11 = load_architecture("snpcnn_default_v11")
    assert v11["triple_stage"]["model"] == "snpcnn_triples_lead"


def test_a_lead_triple_stage_learns_the_product_and_round_trips(tmp_path):
    lead = TRIPLES_TOML.replace('triples = "only"', 'triples = "lead"')  # the file's order
    (tmp_path / "lead_tiny.toml").write_text(lead.replace("triples_tiny", "lead_tiny"))
    staged = {
        **SCREENED,
        "triple_stage": {"model": str(tmp_path / "lead_tiny.toml"), "learning_rate": 3e-3},
    }
    x, y = _triple(n=900)
    z = ((x - x.mean(0)) / x.std(0)).astype(np.float32)[..., None]
    y = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    res = train_cnn(z[:700], y[:700], _cfg(model=staged), seed=0)
    rec = res.conv["triple_stage"]
    assert rec["ran"] and rec["kept"] and rec["p_value"] < 0.05, rec
    windows = res.model.get_layer("triple_part0").get_layer("screen").windows.numpy()
    assert [20, 22, 24] in windows[:, :3].tolist()  # a window led by the true triple
    p = res.model.predict(z[700:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[700:, 0])[0, 1] > 0.4
    again = load_model(save_model(res.model, tmp_path / "lead.keras"))
    np.testing.assert_allclose(again.predict(z[700:], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6)


def test_pair_lead_windows_start_with_their_pair_and_the_square_filters_start_on_its_product():
    import keras

    from snpcnn.training import PAIR_SIGNS, _pick_from, _polarise

    # the picking rule: the pair that opened a window comes first, then the rest in order
    sets = _pick_from(np.array([20, 5]), np.array([2, 0]), 60, 2, 5, lead=True)
    assert sets.tolist() == [[5, 3, 4, 6, 7], [20, 22, 19, 21, 23]]
    plain = _pick_from(np.array([20, 5]), np.array([2, 0]), 60, 2, 5)
    assert [sorted(w) for w in sets.tolist()] == plain.tolist()  # the same SNPs
    # the screen: the interacting pair leads a window
    x, y = _epistatic(n=500)
    lead = screen_window_sets(x, y, 4, 3, reach=3, lead=True)
    assert [20, 22] in lead[:, :2].tolist()
    same = screen_window_sets(x, y, 4, 3, reach=3)
    assert sorted(map(sorted, lead.tolist())) == sorted(map(sorted, same.tolist()))
    # the filters: their squares span the pair's product
    arch = {**SCREENED, "screen": {"windows": 4, "width": 3, "pairs": "lead"}}
    model = build_model(arch, (60, 1))
    screen = model.get_layer("screen")
    assert screen.pairs == "lead" and screen.stored_sets
    screen.set_windows(lead)
    _polarise(model, screen, x[:, lead], PAIR_SIGNS)
    conv = next(la for la in model.layers if isinstance(la, keras.layers.Conv1D))
    feats = keras.Model(model.input, conv.output)(x).numpy() ** 2  # rows x windows x filters
    w = lead[:, :2].tolist().index([20, 22])
    design = np.column_stack([feats[:, w, :], np.ones(len(x))])
    target = x[:, 20, 0] * x[:, 22, 0]
    fit = design @ np.linalg.lstsq(design, target, rcond=None)[0]
    assert np.corrcoef(fit, target)[0, 1] > 0.99
    with pytest.raises(InputError, match='Expected false or "lead"'):
        load_architecture({**SCREENED, "screen": {"windows": 4, "width": 3, "pairs": "first"}})


def test_pair_lead_convolutions_learn_the_product_and_round_trip(tmp_path):
    arch = {**SCREENED, "screen": {"windows": 4, "width": 3, "pairs": "lead"}}
    x, y = _epistatic(n=500)
    res = train_cnn(x[:400], y[:400], _cfg(model=arch), seed=0)
    assert res.conv["kept"] == [True] and res.conv["p_value"][0] < 0.05
    windows = res.model.get_layer("cnn_part0").get_layer("screen").windows.numpy()
    assert [20, 22] in windows[:, :2].tolist()
    p = res.model.predict(x[400:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[400:, 0])[0, 1] > 0.5
    again = load_model(save_model(res.model, tmp_path / "pairs.keras"))
    np.testing.assert_allclose(again.predict(x[400:], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6)
    assert again.get_layer("cnn_part0").get_layer("screen").pairs == "lead"
