"""Session 53: [screen] conditional_alpha (forward selection only while a pair is
significant) and conditional_fill (the windows still open: the marginal order, or the
windows forward selection opened, repeated: v19)."""

import numpy as np
import pytest
from test_crossfit import SCREENED
from test_crossfit import _cfg as crossfit_cfg
from test_s52 import _block_and_weak_pair, _holds

from snpcnn.errors import InputError
from snpcnn.models import load_architecture, load_model, save_model
from snpcnn.training import screen_window_sets, train_cnn


def test_alpha_stops_forward_selection_and_fills_from_the_marginal_order():
    x, y = _block_and_weak_pair()
    plain = screen_window_sets(x, y, 6, 3, reach=8, lead=True)
    cond = screen_window_sets(x, y, 6, 3, reach=8, lead=True, conditional=True)
    info = {}
    v19 = screen_window_sets(
        x, y, 6, 3, reach=8, lead=True, conditional=True, conditional_alpha=0.05, info=info
    )
    # the strong pair and the weak unlinked one are significant: forward selection opens
    # their windows, then stops
    k = info["conditional_windows"]
    assert 2 <= k < 6
    assert _holds(v19, 14, 16) and _holds(v19, 40, 42)
    # the other windows are the plain screen's best (the strong pair's LD neighbours), not
    # the pairs that forward selection would have gone on to (nothing significant)
    rows = {tuple(w) for w in v19.tolist()}
    assert len(rows & {tuple(w) for w in plain.tolist()}) >= 6 - k
    assert rows != {tuple(w) for w in cond.tolist()}
    in_block = sum(all(10 <= s <= 21 for s in w[:2]) for w in v19.tolist())
    assert in_block >= 6 - k  # the fill went to the block, as the plain screen's windows
    # alpha = 0 is v18's forward selection to the last window, bit for bit
    zero = screen_window_sets(
        x, y, 6, 3, reach=8, lead=True, conditional=True, conditional_alpha=0.0
    )
    np.testing.assert_array_equal(zero, cond)


def test_alpha_where_nothing_is_significant_gives_the_plain_windows():
    rng = np.random.default_rng(7)
    x = rng.binomial(2, 0.4, size=(400, 50)).astype(np.float32)
    y = rng.standard_normal((400, 1))  # no signal
    for kw in ({}, {"all_pairs": True}):
        plain = screen_window_sets(x, y, 8, 3, reach=6, lead=True, **kw)
        info = {}
        v19 = screen_window_sets(
            x, y, 8, 3, 6, lead=True, conditional=True, conditional_alpha=0.05, info=info, **kw
        )
        assert info["conditional_windows"] == 0
        np.testing.assert_array_equal(v19, plain)
        # v18 goes on picking by forward selection and differs
        v18 = screen_window_sets(x, y, 8, 3, reach=6, lead=True, conditional=True, **kw)
        assert not np.array_equal(v18, plain)


def test_alpha_with_far_pairs_fills_from_the_merged_order():
    rng = np.random.default_rng(5)
    z = rng.standard_normal((600, 40)).astype(np.float32)
    z[:, 31] = z[:, 30] + 0.3 * rng.standard_normal(600)  # an LD neighbour of SNP 30
    y = (z[:, 3] * z[:, 30] + 0.3 * rng.standard_normal(600))[:, None]
    kw = dict(reach=6, all_pairs=True, lead=True)
    info16, info19 = {}, {}
    v16 = screen_window_sets(z, y, 4, 3, info=info16, **kw)
    v19 = screen_window_sets(
        z, y, 4, 3, info=info19, conditional=True, conditional_alpha=0.05, **kw
    )
    assert info19["far_significant"] >= 1 and info19["conditional_windows"] >= 1
    assert [3, 30] in v19[:, :2].tolist()
    # the far pair's neighbour (3, 31) is not significant given (3, 30) but gets a window
    # from the marginal order, as in v16
    assert [3, 31] in v16[:, :2].tolist() and [3, 31] in v19[:, :2].tolist()
    assert info19["far_windows"] == info16["far_windows"]


def test_conditional_alpha_in_a_preset_trains_records_saves_and_is_checked(tmp_path):
    screen = {**SCREENED["screen"], "pairs": "lead", "map_reach": 8, "conditional": True}
    arch = {**SCREENED, "name": "alpha_tiny", "screen": {**screen, "conditional_alpha": 0.05}}
    x, y = _block_and_weak_pair(n=500, seed=3)
    res = train_cnn(x[:400, :, None], y[:400].astype(np.float32), crossfit_cfg(model=arch), seed=0)
    layer = res.model.get_layer("cnn_part0").get_layer("screen")
    assert layer.conditional_alpha == 0.05
    counts = res.conv["screen_order"]["conditional_windows"]
    assert len(counts) >= 2 and all(1 <= c <= layer.n_windows for c in counts)
    again = load_model(save_model(res.model, tmp_path / "a.keras"))
    assert again.get_layer("cnn_part0").get_layer("screen").conditional_alpha == 0.05
    p = res.model.predict(x[400:, :, None], verbose=0)[:, 0]
    np.testing.assert_allclose(
        again.predict(x[400:, :, None], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6
    )
    bad = {**SCREENED, "name": "bad", "screen": {**screen, "conditional": False}}
    bad["screen"]["conditional_alpha"] = 0.05
    with pytest.raises(InputError, match="conditional_alpha .* conditional = true") as err:
        load_architecture(bad)
    assert "\n" not in str(err.value)
    for value in (1.5, -0.1, "high"):
        with pytest.raises(InputError, match="conditional_alpha"):
            load_architecture(
                {**arch, "screen": {**screen, "conditional_alpha": value}, "name": "b2"}
            )


def test_v19_is_v18_plus_conditional_alpha_and_repeat_fill_and_the_default_since_s53():
    v18, v19 = load_architecture("snpcnn_default_v18"), load_architecture("snpcnn_default_v19")
    assert v19["screen"].pop("conditional_alpha") == 0.05
    assert v19["screen"].pop("conditional_fill") == "repeat"
    assert v19["screen"] == v18["screen"]
    for key in ("blocks", "linear", "triple_stage"):
        assert v19.get(key) == v18.get(key)
    # the default of sessions 53-54: v19 apart from its name and description; since session
    # 55 (v20) plus [linear] backfit, since session 56 (v21) plus backfit_lasso
    default = load_architecture("snpcnn_default")
    assert default.pop("name") == "snpcnn_default" and v19.pop("name") == "snpcnn_default_v19"
    assert default.pop("description") != v19.pop("description")
    v19["screen"].update(conditional_alpha=0.05, conditional_fill="repeat")
    assert default["linear"]["backfit"] == 2 and v19["linear"]["backfit"] == 0
    default["linear"]["backfit"] = 0
    assert default["linear"]["backfit_lasso"] is True and v19["linear"]["backfit_lasso"] is False
    default["linear"]["backfit_lasso"] = False
    assert default == v19


def test_repeat_fill_cycles_the_significant_windows_and_else_gives_the_plain_ones():
    x, y = _block_and_weak_pair()
    info = {}
    kw = dict(reach=8, lead=True, conditional=True, conditional_alpha=0.05)
    rep = screen_window_sets(x, y, 7, 3, info=info, conditional_fill="repeat", **kw)
    marg = screen_window_sets(x, y, 7, 3, conditional_fill="marginal", **kw)
    k = info["conditional_windows"]
    assert 2 <= k < 7
    rows = [tuple(w) for w in rep.tolist()]
    # only the k windows forward selection opened, each used ceil or floor of 7 / k times
    assert len(set(rows)) == k
    counts = sorted(rows.count(w) for w in set(rows))
    assert counts[0] >= 7 // k and counts[-1] <= -(-7 // k)
    assert _holds(rep, 14, 16) and _holds(rep, 40, 42)
    # its k distinct windows are those the marginal fill starts from
    assert set(rows) <= {tuple(w) for w in marg.tolist()}
    assert len({tuple(w) for w in marg.tolist()}) > k
    # where nothing is significant: the plain windows, as with the marginal fill
    rng = np.random.default_rng(7)
    xn = rng.binomial(2, 0.4, size=(400, 50)).astype(np.float32)
    yn = rng.standard_normal((400, 1))
    np.testing.assert_array_equal(
        screen_window_sets(xn, yn, 8, 3, conditional_fill="repeat", **{**kw, "reach": 6}),
        screen_window_sets(xn, yn, 8, 3, reach=6, lead=True),
    )


def test_conditional_fill_needs_alpha_and_a_known_value_and_is_saved(tmp_path):
    screen = {**SCREENED["screen"], "pairs": "lead", "map_reach": 8, "conditional": True}
    with pytest.raises(InputError, match="conditional_fill .* conditional_alpha") as err:
        load_architecture(
            {**SCREENED, "name": "f1", "screen": {**screen, "conditional_fill": "repeat"}}
        )
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="conditional_fill"):
        load_architecture(
            {
                **SCREENED,
                "name": "f2",
                "screen": {**screen, "conditional_alpha": 0.05, "conditional_fill": "cycle"},
            }
        )
    arch = {
        **SCREENED,
        "name": "fill_tiny",
        "screen": {**screen, "conditional_alpha": 0.05, "conditional_fill": "repeat"},
    }
    x, y = _block_and_weak_pair(n=500, seed=3)
    res = train_cnn(x[:400, :, None], y[:400].astype(np.float32), crossfit_cfg(model=arch), seed=0)
    layer = res.model.get_layer("cnn_part0").get_layer("screen")
    wins = [tuple(w) for w in layer.windows.numpy().tolist()]
    assert len(set(wins)) == res.conv["screen_order"]["conditional_windows"][0] < len(wins)
    again = load_model(save_model(res.model, tmp_path / "f.keras"))
    assert again.get_layer("cnn_part0").get_layer("screen").conditional_fill == "repeat"


def test_alpha_holds_its_level_on_heavy_tailed_residuals_and_rare_snps():
    # no signal: rare SNPs (products of two rare genotypes are rare indicators) and t(3)
    # residuals; scored against the raw residuals, forward selection opened a window in 17
    # of 20 such fits (session 53), against their normal scores in 1 of 20
    opened = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        x = rng.binomial(2, 0.05, size=(500, 200)).astype(np.float32)
        r = rng.standard_t(3, size=(500, 1))
        info = {}
        screen_window_sets(
            x, r, 8, 5, reach=16, lead=True, conditional=True, conditional_alpha=0.05, info=info
        )
        opened += info["conditional_windows"] > 0
    assert opened <= 2


def test_no_record_without_alpha_and_a_zero_record_without_targets():
    x, y = _block_and_weak_pair(n=300)
    info = {}
    screen_window_sets(x, y, 4, 3, reach=8, lead=True, conditional=True, info=info)
    assert "conditional_windows" not in info  # v18's records unchanged
    screen = {**SCREENED["screen"], "pairs": "lead", "map_reach": 8, "conditional": True}
    res = train_cnn(
        x[:, :, None],
        y.astype(np.float32),
        crossfit_cfg(model={**SCREENED, "name": "v18_tiny", "screen": screen}, epochs=5),
        seed=0,
    )
    assert "conditional_windows" not in (res.conv.get("screen_order") or {})
    info = {}
    nan = np.full_like(y, np.nan)
    plain = screen_window_sets(x, nan, 4, 3, reach=8, lead=True)
    got = screen_window_sets(
        x, nan, 4, 3, reach=8, lead=True, conditional=True, conditional_alpha=0.05, info=info
    )
    assert info["conditional_windows"] == 0
    np.testing.assert_array_equal(got, plain)


def test_repeat_fill_starts_with_the_first_window_picked_and_far_windows_count_once():
    x, y = _block_and_weak_pair()
    info = {}
    kw = dict(reach=8, lead=True, conditional=True, conditional_alpha=0.05)
    rep = screen_window_sets(x, y, 7, 3, info=info, conditional_fill="repeat", **kw)
    k = info["conditional_windows"]
    first = [w for w in rep.tolist() if w[:2] == [14, 16]]  # the strongest pair's window
    assert len(first) == -(-7 // k)  # picked first: it gets the extra copies first
    # far pairs: a repeated window holding a far pair counts once in far_windows
    rng = np.random.default_rng(5)
    z = rng.standard_normal((600, 40)).astype(np.float32)
    z[:, 31] = z[:, 30] + 0.3 * rng.standard_normal(600)
    yf = (z[:, 3] * z[:, 30] + 0.3 * rng.standard_normal(600))[:, None]
    fk = dict(reach=6, all_pairs=True, lead=True, conditional=True, conditional_alpha=0.05)
    info = {}
    sets = screen_window_sets(z, yf, 8, 3, info=info, conditional_fill="repeat", **fk)
    distinct = {tuple(w) for w in sets.tolist()}
    assert len(distinct) == info["conditional_windows"] < 8
    assert [3, 30] in sets[:, :2].tolist()
    assert 1 <= info["far_windows"] <= len(distinct)


def test_conditional_alpha_with_triples_is_refused_in_one_line():
    screen = {
        **SCREENED["screen"],
        "pairs": "lead",
        "conditional": True,
        "conditional_alpha": 0.05,
        "triples": True,
    }
    with pytest.raises(InputError, match="conditional_alpha .* triples") as err:
        load_architecture({**SCREENED, "name": "t1", "screen": screen})
    assert "\n" not in str(err.value)
