"""[screen] order: the convolutions' windows along an LD order of the SNPs (snpcnn.ldorder),
for panels without a genetic map (session 21)."""

from dataclasses import replace

import numpy as np
import pytest
from test_crossfit import SCREENED
from test_crossfit import _cfg as crossfit_cfg

from snpcnn.errors import InputError
from snpcnn.ldorder import ld_order, order_ld, screen_order
from snpcnn.models import build_model, load_architecture, load_model, save_model
from snpcnn.simulate import simulate_genotypes, unmap
from snpcnn.training import train_cnn

# test_crossfit's tiny screened network (4 windows of 3 SNPs), its windows along an LD order
ORDERED = {**SCREENED, "name": "ordered_tiny", "screen": {**SCREENED["screen"], "order": "ld"}}


def _dosages(g):
    return np.asarray(g.dosages, dtype=np.float64)


def test_ld_order_puts_linked_snps_side_by_side_on_a_panel_without_a_map():
    g = simulate_genotypes(400, 300, n_chrom=2, seed=0)
    u, perm = unmap(g, seed=1)
    assert sorted(set(u.variants["chrom"])) == ["0"]
    assert (u.variants["id"].to_numpy() == g.variants["id"].to_numpy()[perm]).all()
    mapped, rand = order_ld(_dosages(g))
    shuffled, _ = order_ld(_dosages(u))
    order = ld_order(_dosages(u))
    assert sorted(order.tolist()) == list(range(300))
    seriated, _ = order_ld(_dosages(u)[:, order])
    # the map order carries LD, the shuffled one does not, and seriation restores most of it
    assert mapped > 10 * rand and shuffled < 2 * rand
    assert seriated > 0.6 * mapped
    np.testing.assert_array_equal(ld_order(_dosages(u)), order)  # deterministic


def test_screen_order_auto_seriates_only_where_the_file_order_carries_no_ld(monkeypatch):
    g = simulate_genotypes(300, 200, n_chrom=1, seed=2)
    u, _ = unmap(g, seed=3)
    x_map, x_u = _dosages(g).astype(np.float32), _dosages(u).astype(np.float32)
    order, rec = screen_order(x_map, "auto")
    assert order is None and rec["used"] == "file" and rec["why"] == "the file's order carries LD"
    order, rec = screen_order(x_u, "auto")
    assert rec["used"] == "ld" and rec["ld_adjacent_r2"] > 5 * rec["file_adjacent_r2"]
    assert screen_order(x_map, "file") == (None, {"mode": "file", "used": "file"})
    forced, rec = screen_order(x_map, "ld")
    assert rec["used"] == "ld" and rec["why"] == "requested" and forced is not None
    # one-hot channels (n, p, 3) are read as a dosage: the same order
    onehot = np.eye(3, dtype=np.float32)[np.asarray(u.dosages)]
    np.testing.assert_array_equal(screen_order(onehot, "auto")[0], order)
    assert rec["method"] == "average_linkage"
    # above the average-linkage limit the sparse LD tree seriates (on at most LD_ORDER_ROWS
    # evenly spaced rows), about as well
    monkeypatch.setattr("snpcnn.ldorder.LD_ORDER_MAX_SNPS", 100)
    monkeypatch.setattr("snpcnn.ldorder.LD_ORDER_ROWS", 200)
    tree, rec_tree = screen_order(x_u, "auto")
    assert rec_tree["method"] == "knn_tree" and rec_tree["rows"] == 200
    assert sorted(tree.tolist()) == list(range(200))
    assert rec_tree["ld_adjacent_r2"] > 0.7 * rec["ld_adjacent_r2"]
    # too many SNPs to seriate at all: auto keeps the file's order and says why; "ld" refuses
    monkeypatch.setattr("snpcnn.ldorder.LD_KNN_MAX_SNPS", 150)
    kept, rec = screen_order(x_u, "auto")
    assert kept is None and "more than 150 SNPs" in rec["why"]
    with pytest.raises(InputError, match="limit of 150") as err:
        screen_order(x_u, "ld")
    assert "\n" not in str(err.value)


def test_the_sparse_ld_tree_seriates_a_shuffled_panel_like_average_linkage():
    """knn_ld_order: no SNPs x SNPs matrix, yet linked SNPs side by side (and the chunked
    order_ld equals the one-pass one)."""
    import snpcnn.ldorder as L

    g = simulate_genotypes(500, 1200, n_chrom=3, seed=5)
    u, _ = unmap(g, seed=6)
    x = _dosages(u)
    mapped, rand = order_ld(_dosages(g))
    exact = order_ld(x[:, ld_order(x)])[0]
    tree = L.knn_ld_order(x)
    assert sorted(tree.tolist()) == list(range(1200))
    seriated = order_ld(x[:, tree])[0]
    assert seriated > 0.6 * mapped and seriated > 0.8 * exact and seriated > 20 * rand
    np.testing.assert_array_equal(L.knn_ld_order(x), tree)  # deterministic
    onehot = np.eye(3)[np.asarray(u.dosages)]
    np.testing.assert_array_equal(L.knn_ld_order(onehot), tree)
    one_pass = order_ld(x)
    limit = L.LD_ORDER_MAX_SNPS
    L.LD_ORDER_MAX_SNPS = 100  # order_ld reads column chunks above it
    try:
        np.testing.assert_allclose(order_ld(x), one_pass, rtol=1e-12)
    finally:
        L.LD_ORDER_MAX_SNPS = limit


def test_screen_order_on_streamed_rows_keeps_the_file_order():
    class Rows:  # not an ndarray: streamed genotypes
        shape = (10, 20)

    assert screen_order(Rows(), "auto")[1]["why"] == "streamed genotypes are not seriated"
    with pytest.raises(InputError, match="in memory"):
        screen_order(Rows(), "ld")


def test_screen_order_key_is_validated():
    assert load_architecture(ORDERED)["screen"]["order"] == "ld"
    plain = {**ORDERED, "screen": {"windows": 4, "width": 3}}
    assert "order" not in load_architecture(plain)["screen"]  # the default: not spelled out
    with pytest.raises(InputError, match="order") as err:
        load_architecture({**ORDERED, "screen": {"windows": 4, "width": 3, "order": "map"}})
    assert "\n" not in str(err.value)


def test_window_gather_reads_stored_snp_sets_and_saves_them(tmp_path):
    model = build_model(ORDERED, (30, 1))
    layer = model.get_layer("screen")
    sets = np.array([[0, 7, 3], [29, 1, 2], [5, 6, 8], [10, 20, 11]])
    layer.set_windows(sets)
    pos = layer.positions()
    assert pos.tolist() == sets.reshape(-1).tolist()
    x = np.random.default_rng(1).normal(size=(4, 30, 1)).astype("float32")
    import keras

    gathered = keras.Model(model.input, layer.output)
    np.testing.assert_array_equal(np.asarray(gathered(x)), x[:, pos])
    again = load_model(save_model(model, tmp_path / "m.keras"))
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert again.get_layer("screen").positions().tolist() == pos.tolist()
    assert again.get_layer("screen").ld_reach == 0
    with pytest.raises(ValueError, match="distinct"):
        layer.set_windows([[0, 0, 1]] * 4)
    with pytest.raises(ValueError, match="distinct"):
        layer.set_windows([[0, 1, 30]] * 4)
    # set_starts still works (runs of the file's order)
    layer.set_starts([0, 3, 6, 27])
    assert layer.positions().tolist()[-3:] == [27, 28, 29]
    # a layer of the file's order has no windows weight (models saved before load unchanged)
    plain = build_model({**ORDERED, "screen": {"windows": 4, "width": 3}}, (30, 1))
    assert "order" not in plain.get_layer("screen").get_config()
    assert len(plain.get_layer("screen").weights) == 1
    with pytest.raises(ValueError, match="file's order"):
        plain.get_layer("screen").set_windows(sets)


def test_window_sets_reproduce_the_runs_of_the_file_order_screen_and_reach_further():
    from snpcnn.training import screen_window_sets, screen_windows

    rng = np.random.default_rng(0)
    for _ in range(10):
        p = int(rng.integers(8, 120))
        x = rng.binomial(2, 0.4, size=(200, p)).astype(np.float32)[..., None]
        r = rng.normal(size=200)
        nw, w = int(rng.integers(1, 10)), int(min(rng.integers(1, 6), p))
        starts = screen_windows(x, r, nw, w)
        np.testing.assert_array_equal(
            screen_window_sets(x, r, nw, w, w), starts[:, None] + np.arange(w)
        )
    # a pair 9 apart: out of a window's reach in the file's order, found with reach 12
    x = rng.binomial(2, 0.5, size=(500, 40)).astype(np.float32)
    z = (x - x.mean(0)) / x.std(0)
    y = z[:, 10] * z[:, 19] + rng.normal(scale=0.5, size=500)
    sets = screen_window_sets(x[..., None], y, 2, 5, 12)
    assert any(10 in row and 19 in row for row in sets.tolist())
    assert not any(s <= 10 and 19 < s + 5 for s in screen_windows(x[..., None], y, 2, 5))


def _unmapped_pair(n=500, seed=0):
    """An LD panel, y = the product of two adjacent SNPs on the map, then the columns
    shuffled: returns (centred dosages (n, p, 1), y (n, 1), the pair's shuffled columns)."""
    g = simulate_genotypes(n, 60, n_chrom=1, seed=seed)
    x = _dosages(g)
    z = (x - x.mean(0)) / np.where(x.std(0) > 0, x.std(0), 1)
    a, b = 20, 21
    gval = z[:, a] * z[:, b]
    rng = np.random.default_rng(seed + 1)
    y = gval / gval.std() + rng.normal(scale=0.6, size=n)
    u, perm = unmap(g, seed=seed + 5)
    where = np.argsort(perm)
    xu = _dosages(u)
    xu = (xu - xu.mean(0)).astype(np.float32)[..., None]
    return xu, ((y - y.mean()) / y.std()).astype(np.float32)[:, None], (where[a], where[b])


def test_crossfit_finds_a_local_pair_on_an_unmapped_panel_through_the_ld_order():
    x, y, (a, b) = _unmapped_pair()
    assert abs(int(a) - int(b)) > 2  # shuffled apart: no window of 3 file columns holds both
    res = train_cnn(x[:400], y[:400], crossfit_cfg(model=ORDERED), seed=0)
    rec = res.conv["screen_order"]
    assert rec["used"] == "ld" and rec["mode"] == "ld"
    assert res.conv["kept"] == [True] and res.conv["oof_r"][0] > res.conv["oof_r_start"][0] + 0.2
    # the cross-fitted networks' windows hold both SNPs of the pair (in file columns)
    from snpcnn.explain import _window_gather

    members = [m for m in res.model.layers if hasattr(m, "layers") and _window_gather(m)]
    assert members
    for m in members:
        w = _window_gather(m)
        pos = w.positions().reshape(w.n_windows, w.width)
        assert any(a in row and b in row for row in pos.tolist())
    p = res.model.predict(x[400:], verbose=0)[:, 0]
    r_ld = np.corrcoef(p, y[400:, 0])[0, 1]
    assert r_ld > 0.7
    # the same network along the file's (shuffled) order cannot see the pair in one window
    # (measured: out-of-fold r 0.18 and test r 0.48, against 0.81 and 0.86 in LD order)
    in_file = {**ORDERED, "screen": {**ORDERED["screen"], "order": "file"}}
    res_file = train_cnn(x[:400], y[:400], crossfit_cfg(model=in_file))
    assert "screen_order" not in res_file.conv
    assert res.conv["oof_r"][0] > res_file.conv["oof_r"][0] + 0.3
    p_file = res_file.model.predict(x[400:], verbose=0)[:, 0]
    assert r_ld > np.corrcoef(p_file, y[400:, 0])[0, 1] + 0.2


def test_reports_say_where_the_windows_ran_along_an_ld_order(tmp_path):
    from snpcnn.cv import cross_validate
    from snpcnn.report import conv_kept_text, summary_markdown
    from snpcnn.simulate import simulate_trait

    g = simulate_genotypes(160, 80, n_chrom=1, seed=2)
    y, _ = simulate_trait(g, "local_epistasis", n_loci=2, seed=3)
    u, _ = unmap(g, seed=4)
    y.rename("t").to_frame().to_csv(tmp_path / "y.csv", index_label="sample_id")
    kw = dict(folds=2, epochs=5, patience=5, conv_folds=2, baselines=["gblup"], refit=False)
    res = cross_validate(u, tmp_path / "y.csv", "t", model=ORDERED, **kw)
    orders = res.screen_orders()
    assert orders["fits"] == 2 and orders["ld"] == 2 and orders["file"] == 0
    assert orders["file_adjacent_r2"] < 2 * orders["random_r2"]
    text = conv_kept_text(res)
    assert "LD order of the SNPs" in text and "in 2 of 2 fits" in text
    assert "LD order of the SNPs" in summary_markdown(res)
    # too many SNPs to seriate: the report says the windows grouped unlinked SNPs
    import snpcnn.ldorder

    limit = snpcnn.ldorder.LD_KNN_MAX_SNPS
    snpcnn.ldorder.LD_KNN_MAX_SNPS = 50
    try:
        auto = {**ORDERED, "screen": {**ORDERED["screen"], "order": "auto"}}
        res_big = cross_validate(u, tmp_path / "y.csv", "t", model=auto, **kw)
    finally:
        snpcnn.ldorder.LD_KNN_MAX_SNPS = limit
    assert res_big.screen_orders()["unseriated"] == 2
    text = conv_kept_text(res_big)
    assert "not seriated (the file's order carries no LD, but more than 50 SNPs)" in text
    assert "grouped unlinked SNPs" in conv_kept_text(res_big, short=True)
    # the file's order (map order here): no record, no note
    plain = {**ORDERED, "screen": {"windows": 4, "width": 3}}
    res = cross_validate(g, tmp_path / "y.csv", "t", model=plain, **kw)
    assert res.screen_orders() is None and "LD order" not in conv_kept_text(res)


def test_a_simulated_benchmark_dataset_can_be_unmapped_and_keeps_its_truth():
    from snpcnn.bench import DatasetSpec, _simulate_dataset

    sim = {
        "n_samples": 50,
        "n_snps": 40,
        "n_chrom": 1,
        "seed": 3,
        "traits": [{"name": "t", "architecture": "local_epistasis", "n_loci": 2, "seed": 1}],
    }
    spec = DatasetSpec(name="s", genotypes=None, phenotypes=None, traits=("t",), simulate=sim)
    g, csv, truth = _simulate_dataset(spec)
    spec_u = replace(spec, simulate={**sim, "shuffle_snps": 7})
    gu, csv_u, truth_u = _simulate_dataset(spec_u)
    ids = g.variants["id"].to_numpy()[truth["t"]["causal_snps"]]
    ids_u = gu.variants["id"].to_numpy()[truth_u["t"]["causal_snps"]]
    assert ids.tolist() == ids_u.tolist()  # the same SNPs, at their new columns
    assert truth_u["t"]["causal_snps"] != truth["t"]["causal_snps"]
    assert open(csv).read() == open(csv_u).read()  # the same trait values
    assert sorted(set(gu.variants["chrom"])) == ["0"]
    import shutil

    for path in (csv, csv_u):
        shutil.rmtree(path.parent, ignore_errors=True)


def test_v8_equals_v7_where_the_file_order_carries_ld(tmp_path):
    """v8 (the default) only changes the windows' SNP order where the file's order has no
    LD: on a mapped panel its predictions are v7's, bit for bit."""
    from snpcnn.cv import cross_validate
    from snpcnn.simulate import simulate_trait

    g = simulate_genotypes(160, 80, n_chrom=1, seed=5)
    y, _ = simulate_trait(g, "local_epistasis", n_loci=2, seed=6)
    y.rename("t").to_frame().to_csv(tmp_path / "y.csv", index_label="sample_id")
    kw = dict(folds=2, epochs=5, patience=5, conv_folds=2, baselines=["gblup"], refit=False)
    v7 = cross_validate(g, tmp_path / "y.csv", "t", model="snpcnn_default_v7", **kw)
    v8 = cross_validate(g, tmp_path / "y.csv", "t", model="snpcnn_default_v8", **kw)
    np.testing.assert_array_equal(
        v8.predictions["predicted"].to_numpy(), v7.predictions["predicted"].to_numpy()
    )
    orders = v8.screen_orders()
    assert orders is not None and orders["ld"] == 0 and orders["file"] >= 2


def test_info_says_whether_the_column_order_follows_a_map():
    g = simulate_genotypes(120, 200, n_chrom=2, missing_rate=0.02, seed=8)
    u, _ = unmap(g, seed=9)
    assert g.summary()["snp_order"]["map_order"] is True
    assert u.summary()["snp_order"]["map_order"] is False
    assert "the columns follow a map" in g.format_summary()
    line = [x for x in u.format_summary().splitlines() if x.startswith("SNP order:")]
    assert len(line) == 1 and "no LD along the column order" in line[0]
    tiny = simulate_genotypes(2, 2, n_chrom=1, seed=0)
    assert tiny.summary()["snp_order"] is None and "SNP order" not in tiny.format_summary()


def test_default_is_v12():
    """The default preset is the v12 candidate that was measured, apart from its name; v12 is
    v11 with the first stage's windows led by their pair (filters started on its product); v11
    is v10 with the second stage's filters started on the triple products; v10 is v9 plus the
    second stage over SNP triples; v9 is v8 with every SNP pair a screen candidate in the LD
    order.  Since session 34 the default adds the multi-trait start for several traits
    ([linear] multitrait; v13), and since session 35 the multi-trait CNN-GP there
    ([linear] multitrait_cnn_gp; v14), which fits of one trait never use."""
    a, b = load_architecture("snpcnn_default"), load_architecture("snpcnn_default_v12")
    v13 = load_architecture("snpcnn_default_v13")
    # since session 53 (v19): v17 whose screen picks its pairs by forward selection while one
    # is significant, the windows left repeating those
    v19 = load_architecture("snpcnn_default_v19")
    # since session 56 (v21): v20 whose LASSO start, too, is refitted around kept convolutions
    v21 = load_architecture("snpcnn_default_v21")
    assert a.pop("description") != v21.pop("description")
    assert {**a, "name": "x"} == {**v21, "name": "x"}  # v21 as measured, apart from its name
    assert a["linear"]["backfit_lasso"] is True
    a["linear"]["backfit_lasso"] = False
    # since session 55 (v20): v19 whose GBLUP start is refitted around kept convolutions
    v20 = load_architecture("snpcnn_default_v20")
    assert v20.pop("description")
    assert {**a, "name": "x"} == {**v20, "name": "x"}  # v20 as measured, apart from its name
    assert a["linear"]["backfit"] == 2
    a["linear"]["backfit"] = 0
    assert v19.pop("description")
    assert {**a, "name": "x"} == {**v19, "name": "x"}  # v19 as measured, apart from its name
    assert a["screen"].pop("conditional") is True
    assert a["screen"].pop("conditional_alpha") == 0.05
    assert a["screen"].pop("conditional_fill") == "repeat"
    # since session 51 (v17): v16 whose LASSO start also takes heterozygote indicators
    v17 = load_architecture("snpcnn_default_v17")
    v17.pop("description")
    assert {**a, "name": "x"} == {**v17, "name": "x"}
    # since session 48 (v16): v15 with far pairs on a map leading a window where significant
    v15, v16 = load_architecture("snpcnn_default_v15"), load_architecture("snpcnn_default_v16")
    assert a["linear"]["lasso_dominance"] is True and v16["linear"]["lasso_dominance"] is False
    a["linear"]["lasso_dominance"] = False  # the earlier versions' (filled) value
    v16.pop("description")
    assert {**a, "name": "x"} == {**v16, "name": "x"}
    assert a["screen"].pop("map_all_pairs") is True and "map_all_pairs" not in v15["screen"]
    v15.pop("description")
    assert {**a, "name": "x"} == {**v15, "name": "x"}
    # since session 47 (v15): v14 with pairs up to 15 SNPs apart on a map leading a window
    v14 = load_architecture("snpcnn_default_v14")
    assert a["screen"].pop("map_reach") == 16 and "map_reach" not in v14["screen"]
    v14.pop("description")
    assert {**a, "name": "x"} == {**v14, "name": "x"}
    a["description"] = "v14 on"
    assert a.pop("name") == "snpcnn_default" and b.pop("name") == "snpcnn_default_v12"
    assert v13.pop("name") == "snpcnn_default_v13"
    a.pop("description"), b.pop("description"), v13.pop("description")
    assert a["linear"]["multitrait_cnn_gp"] is True and v13["linear"]["multitrait_cnn_gp"] is False
    a["linear"]["multitrait_cnn_gp"] = False
    assert a == v13  # v14 = v13 + the multi-trait CNN-GP
    assert a["linear"]["multitrait"] is True and b["linear"]["multitrait"] is False
    a["linear"]["multitrait"] = False  # the rest is v12, v11, ... as measured
    assert a == b
    v11 = load_architecture("snpcnn_default_v11")
    v11.pop("name"), v11.pop("description")
    assert a["screen"].pop("pairs") == "lead" and "pairs" not in v11["screen"]
    assert a == v11
    v10 = load_architecture("snpcnn_default_v10")
    v10.pop("name"), v10.pop("description")
    assert v10.pop("triple_stage")["model"] == "snpcnn_triples"
    stage = a.pop("triple_stage")
    assert stage == {"model": "snpcnn_triples_lead", "learning_rate": 3e-4, "epochs": 0}
    assert a == v10
    lead, only = load_architecture("snpcnn_triples_lead"), load_architecture("snpcnn_triples")
    assert lead["screen"].pop("triples") == "lead" and only["screen"].pop("triples") == "only"
    assert lead["blocks"] == only["blocks"] and lead["screen"] == only["screen"]
    v9 = load_architecture("snpcnn_default_v9")
    v9.pop("name"), v9.pop("description")
    assert a == v9
    assert a["screen"] == {
        "windows": 32,
        "width": 5,
        "order": "auto",
        "ld_reach": 16,
        "all_pairs": True,
    }
    v8 = load_architecture("snpcnn_default_v8")
    v8.pop("name"), v8.pop("description")
    assert v8 == {**a, "screen": {k: v for k, v in a["screen"].items() if k != "all_pairs"}}


def test_far_pair_scores_equal_the_dense_screen_for_every_pair_beyond_reach():
    """The all-pairs screen's matrix-product scores are the product-feature correlations of
    the dense screen (dosages and one-hot channels, a target with missing rows)."""
    from snpcnn.training import far_pair_scores, screen_scores

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(200, 60)).astype(np.float32)
    r = rng.normal(size=200)
    r[:5] = np.nan
    dense = screen_scores(x, r, 60)
    j, d, s, n = far_pair_scores(x, r, 7, keep=10**6)
    assert n == len(s) == (60 - 7) * (61 - 7) // 2
    assert d.min() == 7 and (j + d).max() == 59
    np.testing.assert_allclose(s, dense[j, d], atol=1e-6)
    # keep: the best pairs only, sorted by position
    j5, d5, s5, _ = far_pair_scores(x, r, 7, keep=5)
    np.testing.assert_allclose(np.sort(s5), np.sort(s)[-5:], atol=1e-7)
    assert np.all(np.diff(j5 * 100 + d5) > 0)
    x3 = np.eye(3, dtype=np.float32)[x.astype(int)]
    dense3 = screen_scores(x3, r, 60).reshape(60, 3, 60).sum(axis=1)
    j3, d3, s3, _ = far_pair_scores(x3, r, 7, keep=40)
    np.testing.assert_allclose(s3, dense3[j3, d3], atol=1e-6)


def test_all_pairs_screen_finds_a_pair_far_apart_and_keeps_near_pairs():
    """[screen] all_pairs: a strong pair 30 columns apart (beyond reach) gets a window holding
    both SNPs; without all_pairs it does not, and a near pair is found either way."""
    from snpcnn.training import screen_window_sets

    rng = np.random.default_rng(1)
    x = rng.binomial(2, 0.5, size=(600, 80)).astype(np.float32)
    z = (x - x.mean(0)) / x.std(0)
    y = z[:, 10] * z[:, 40] + z[:, 60] * z[:, 62] + rng.normal(scale=0.7, size=600)
    on = screen_window_sets(x, y, 4, 5, 8, all_pairs=True).tolist()
    off = screen_window_sets(x, y, 4, 5, 8).tolist()
    assert any(10 in w and 40 in w for w in on)
    assert not any(10 in w and 40 in w for w in off)
    assert any(60 in w and 62 in w for w in on) and any(60 in w and 62 in w for w in off)
    # on noise a far pair is significant after Bonferroni (5% family-wise) in few draws; in
    # the others the windows are the near screen's, bit for bit
    changed = 0
    for seed in range(20):
        y1 = np.random.default_rng(seed).normal(size=600)
        changed += not np.array_equal(
            screen_window_sets(x, y1, 4, 5, 8, all_pairs=True), screen_window_sets(x, y1, 4, 5, 8)
        )
    assert changed <= 3


def test_far_pair_gate_counts_only_the_rows_that_have_the_target():
    """The gate's chi-square statistic is rows x score with the rows that have the target:
    rows whose target is missing add nothing to the evidence, so appending copies of the
    rows with a missing target changes neither the far pairs that pass nor the windows."""
    from snpcnn.training import screen_window_sets

    rng = np.random.default_rng(3)
    x = rng.binomial(2, 0.5, size=(300, 60)).astype(np.float32)
    z = (x - x.mean(0)) / x.std(0)
    passed = []
    for scale in (1.0, 2.2, 4.0, 6.0):  # from clearly significant to below the gate
        y = z[:, 5] * z[:, 45] + rng.normal(scale=scale, size=300)
        info, info2 = {}, {}
        w = screen_window_sets(x, y, 4, 5, 8, all_pairs=True, info=info)
        x2 = np.concatenate([x, x, x])  # the same means and SDs: the same standardised rows
        y2 = np.concatenate([y, np.full(600, np.nan)])
        w2 = screen_window_sets(x2, y2, 4, 5, 8, all_pairs=True, info=info2)
        assert info2 == info
        np.testing.assert_array_equal(w2, w)
        passed.append(info["far_significant"])
    assert passed[0] >= 1 and passed[-1] == 0  # the scenario spans both sides of the gate


def test_far_pair_gate_holds_its_level_with_heavy_tailed_residuals_and_rare_genotypes():
    """Inbred-like 0/2 dosages with rare alleles and heavy-tailed residuals (t, 2 df): the
    product of two rare genotypes is a rare indicator, and Pearson's chi-square on the raw
    residuals lets far pairs through in most null draws; against the residuals' normal
    scores (what the gate uses) the family-wise level holds, and a true far pair is still
    found under the same noise."""
    from scipy import stats

    from snpcnn.training import FAR_PAIR_ALPHA, far_pair_scores, normal_scores, screen_window_sets

    rng = np.random.default_rng(0)
    n, p = 300, 120
    maf = rng.uniform(0.02, 0.5, size=p)
    x = (2 * (rng.random((n, p)) < maf)).astype(np.float32)
    raw = gated = 0
    for seed in range(20):
        t = np.random.default_rng(seed).standard_t(2, size=n)
        info = {}
        screen_window_sets(x, t, 4, 5, 8, all_pairs=True, info=info)
        gated += info["far_significant"] > 0
        _, _, sc, n_far = far_pair_scores(x, t, 8, keep=4)
        raw += bool(np.any(stats.chi2.logsf(n * sc, 1) + np.log(n_far) < np.log(FAR_PAIR_ALPHA)))
    assert raw >= 8 and gated <= 2
    # normal scores: ranks through the normal quantiles, missing rows kept missing
    r = np.array([3.0, np.nan, -1.0, 10.0])
    np.testing.assert_allclose(
        normal_scores(r, 4)[:, 0], [0.0, np.nan, stats.norm.ppf(1 / 6), stats.norm.ppf(5 / 6)]
    )
    # power: a pair of common SNPs 60 columns apart under the same heavy-tailed noise
    z = (x - x.mean(0)) / x.std(0)
    a, b = np.argsort(-np.abs(maf - 0.5))[-2:]  # the two SNPs with the most even frequencies
    a, b = min(a, b), max(a, b)
    y = z[:, a] * z[:, b] + 0.5 * np.random.default_rng(99).standard_t(2, size=n)
    w = screen_window_sets(x, y, 4, 5, 8, all_pairs=True).tolist()
    assert b - a >= 8 and any(a in s and b in s for s in w)


def test_all_pairs_key_is_validated_saved_and_only_kept_where_set(tmp_path):
    spec = {**ORDERED, "screen": {**ORDERED["screen"], "all_pairs": True}}
    m = build_model(spec, (30, 1))
    assert m.get_layer("screen").all_pairs is True
    save_model(m, tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").get_layer("screen").all_pairs is True
    assert "all_pairs" not in build_model(ORDERED, (30, 1)).get_layer("screen").get_config()
    assert "all_pairs" not in load_architecture("snpcnn_default_v8")["screen"]
    assert load_architecture("snpcnn_default_v9")["screen"]["all_pairs"] is True
    with pytest.raises(InputError, match="all_pairs"):
        build_model({**ORDERED, "screen": {**ORDERED["screen"], "all_pairs": 3}}, (30, 1))


def test_panel_order_of_all_missing_genotypes_is_no_map_and_quiet():
    import warnings

    from snpcnn.ldorder import panel_order

    d = np.full((30, 40), -1, dtype=np.int8)
    d[:, :20] = np.random.default_rng(0).integers(0, 3, size=(30, 20))
    d[:, 25] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert panel_order(np.full((30, 40), -1, dtype=np.int8))["map_order"] is False
        panel_order(d)
