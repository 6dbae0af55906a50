"""Session 48: [screen] map_all_pairs (far pairs on a panel with a map)."""

import numpy as np
import pytest
from test_s47 import ARCH, _cfg, _far_pair

from snpcnn.errors import InputError
from snpcnn.models import load_architecture, load_model, save_model
from snpcnn.training import train_cnn

FAR = {**ARCH, "screen": {**ARCH["screen"], "all_pairs": True, "map_all_pairs": True}}


def test_map_all_pairs_lets_a_significant_pair_40_snps_apart_on_the_map_lead_a_window(tmp_path):
    x, y = _far_pair(a=10, b=50)
    res = train_cnn(x[:400], y[:400], _cfg(FAR), seed=0)
    windows = res.model.get_layer("cnn_part0").get_layer("screen").windows.numpy()
    assert [10, 50] in windows[:, :2].tolist()
    assert res.conv["kept"] == [True] and res.conv["p_value"][0] < 0.05
    # run.json's record: the file's order, far pairs screened and found by every network
    rec = res.conv["screen_order"]
    assert rec["used"] == "file" and rec["all_pairs"] is True
    assert min(rec["far_significant"]) >= 1 and min(rec["far_windows"]) >= 1
    p = res.model.predict(x[400:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[400:, 0])[0, 1] > 0.5
    again = load_model(save_model(res.model, tmp_path / "far.keras"))
    assert again.get_layer("cnn_part0").get_layer("screen").map_all_pairs is True
    np.testing.assert_allclose(again.predict(x[400:], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6)
    # all_pairs alone keeps to the map's reach (as v15): the pair never shares a window
    near = {**ARCH, "screen": {**ARCH["screen"], "all_pairs": True}}
    base = train_cnn(x[:400], y[:400], _cfg(near), seed=0)
    assert base.conv["kept"] == [False]
    assert "screen_order" not in base.conv
    windows = base.model.get_layer("screen").windows.numpy()
    assert [10, 50] not in windows[:, :2].tolist()


def test_map_all_pairs_changes_nothing_where_no_far_pair_is_significant():
    x, y = _far_pair(a=20, b=22)  # a near pair only: the far screen finds nothing
    with_far = train_cnn(x[:400], y[:400], _cfg(FAR), seed=0)
    without = train_cnn(x[:400], y[:400], _cfg(ARCH), seed=0)
    assert with_far.conv["screen_order"]["far_significant"] == [0, 0, 0]
    np.testing.assert_array_equal(
        with_far.model.predict(x[400:], verbose=0), without.model.predict(x[400:], verbose=0)
    )


def test_map_all_pairs_is_validated_and_only_in_the_presets_that_set_it():
    with pytest.raises(InputError, match="map_all_pairs extends all_pairs"):
        load_architecture({**ARCH, "screen": {**ARCH["screen"], "map_all_pairs": True}})
    lone = {"windows": 4, "width": 3, "all_pairs": True, "map_all_pairs": True}
    with pytest.raises(InputError, match='add all_pairs = true and pairs = "lead"'):
        load_architecture({**ARCH, "screen": lone})
    with pytest.raises(InputError, match="map_all_pairs"):
        load_architecture({**FAR, "screen": {**FAR["screen"], "map_all_pairs": "yes"}})
    assert load_architecture(FAR)["screen"]["map_all_pairs"] is True
    for name in ("snpcnn_default_v14", "snpcnn_default_v15"):
        assert "map_all_pairs" not in load_architecture(name)["screen"]
    assert load_architecture("snpcnn_default_v16")["screen"]["map_all_pairs"] is True
    assert load_architecture("snpcnn_default")["screen"]["map_all_pairs"] is True  # v16


def test_simulate_cli_takes_max_gap_and_records_it(tmp_path):
    import json

    import pandas as pd
    from click.testing import CliRunner

    from snpcnn.cli import main

    out = tmp_path / "sim"
    args = ["simulate", "--samples", "200", "--snps", "400", "--max-gap", "40", "--out", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    causal = pd.read_csv(out / "causal.csv")
    gaps = causal.groupby("group")["index"].agg(lambda s: s.max() - s.min())
    assert gaps.between(1, 40).all() and gaps.max() > 4  # the default (4) would cap them
    assert json.loads((out / "simulation.json").read_text())["trait"]["max_gap"] == 40
    # a gap no group fits: one line that names the option to change
    tight = ["simulate", "--samples", "200", "--snps", "40", "--loci", "15", "--max-gap", "1"]
    res = CliRunner().invoke(main, [*tight, "--out", str(tmp_path / "tight")])
    assert res.exit_code != 0 and "--max-gap" in res.output
    assert not (tmp_path / "tight").exists()


def test_a_recorded_interrupt_is_not_raised_again_during_its_own_clean_up():
    """Session 47's last read: once the interrupt propagated, a clean-up step that sends a
    progress event (a safe point) raised it a second time and cut the clean-up short."""
    import signal

    from snpcnn import _signals
    from snpcnn.progress import Progress

    restore = _signals.install()
    try:
        if not _signals.active():
            pytest.skip("no SIGTERM handler can be installed here")
        cleaned = []
        with pytest.raises(_signals.Terminated):
            try:
                _signals._raise(signal.SIGTERM, None)  # recorded, and raised
            finally:
                Progress(mode="off")("epoch")  # a safe point inside the clean-up
                cleaned.append(True)
        assert cleaned == [True]
        _signals.check()  # nothing left pending
        # a swallowed one (no exception on its way up) is still raised at the next safe point
        try:
            _signals._raise(signal.SIGTERM, None)
        except KeyboardInterrupt:
            pass
        with pytest.raises(_signals.Terminated):
            Progress(mode="off")("epoch")
    finally:
        restore()


def test_far_pair_records_on_a_map_are_per_start_and_leave_the_cached_order_alone():
    """A checking helper (session 48): with order = "auto" on a map, the far-pair counts were
    appended to the SNP-order record cached for the training part, so a second start's
    cross-fit doubled the lists and both starts shared one record."""
    from dataclasses import replace

    from snpcnn.training import _crossfit, _fit_ridge

    x, y = _far_pair(a=10, b=50)
    auto = {**FAR, "screen": {**FAR["screen"], "order": "auto"}}
    cfg = replace(_cfg(auto), epochs=5)
    ridge = _fit_ridge(x[:400], y[:400])
    cached = {"mode": "auto", "used": "file", "why": "the file's order carries LD"}
    orders = {"auto": (None, cached)}
    first = _crossfit(cfg, x[:400], y[:400], ridge, "regression", 0, None, 1, orders)[3]
    second = _crossfit(cfg, x[:400], y[:400], ridge, "regression", 0, None, 1, orders)[3]
    for info in (first, second):
        rec = info["screen_order"]
        assert len(rec["far_significant"]) == len(rec["far_windows"]) == 3  # K networks
        assert rec["all_pairs"] is True and rec["map_reach"] == 3  # width: no map_reach set
    assert first["screen_order"] is not second["screen_order"]
    assert cached == {"mode": "auto", "used": "file", "why": "the file's order carries LD"}


def test_a_saved_map_all_pairs_screen_keeps_all_pairs():
    from snpcnn.models import build_model
    from snpcnn.models.layers import WindowGather

    layer = build_model(FAR, (60, 1)).get_layer("screen")
    again = WindowGather.from_config(layer.get_config())
    assert again.all_pairs is True and again.map_all_pairs is True


def test_max_gap_beyond_the_snps_is_one_line_in_the_api_and_the_cli(tmp_path):
    from click.testing import CliRunner

    from snpcnn.cli import main
    from snpcnn.simulate import simulate_genotypes, simulate_trait

    g = simulate_genotypes(100, 50, n_chrom=1, seed=0)
    with pytest.raises(InputError, match=r"max_gap=\d+: give 1 to 49"):
        simulate_trait(g, max_gap=2**70)  # numpy's generator failed on it ("internal error")
    simulate_trait(g, "dominance", max_gap=2**70)  # no groups: the gap plays no part
    args = ["simulate", "--samples", "100", "--snps", "50", "--max-gap", str(2**63)]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "s")])
    assert res.exit_code != 0 and "--max-gap 9223372036854775808: give 1 to 49" in res.output
    assert not (tmp_path / "s").exists()
