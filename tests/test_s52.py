"""Session 52: [screen] conditional (the windows' pairs picked by forward selection, v18)."""

import numpy as np
import pytest
from test_crossfit import SCREENED
from test_crossfit import _cfg as crossfit_cfg

from snpcnn.errors import InputError
from snpcnn.models import load_architecture, load_model, save_model
from snpcnn.training import _pick_conditional, screen_window_sets, train_cnn


def _block_and_weak_pair(n=800, m=60, seed=0):
    """Standardised dosages: SNPs 10-21 an LD block (copies of one haplotype signal with
    noise), y = a strong product of SNPs 14 and 16 inside it + a weak product of the
    unlinked SNPs 40 and 42 + noise."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    base_a, base_b = x[:, 14].copy(), x[:, 16].copy()
    for j in range(10, 22):  # each block SNP a noisy copy of 14 or 16
        if j in (14, 16):
            continue
        src = base_a if j < 15 else base_b
        flip = rng.random(n) < 0.12
        x[flip, j] = rng.binomial(2, 0.5, size=int(flip.sum()))
        x[~flip, j] = src[~flip]
    z = (x - x.mean(0)) / x.std(0)
    g = 1.0 * z[:, 14] * z[:, 16] + 0.35 * z[:, 40] * z[:, 42]
    y = g + rng.normal(scale=0.6, size=n)
    return z.astype(np.float32), ((y - y.mean()) / y.std())[:, None]


def _holds(sets, a, b):
    return any(a in w and b in w for w in np.asarray(sets).tolist())


def test_conditional_pick_gives_the_weak_pair_the_window_the_strong_pairs_neighbours_took():
    x, y = _block_and_weak_pair()
    plain = screen_window_sets(x, y, 4, 3, reach=8, lead=True)
    cond = screen_window_sets(x, y, 4, 3, reach=8, lead=True, conditional=True)
    # the strong pair leads a window either way
    assert [14, 16] in plain[:, :2].tolist() and [14, 16] in cond[:, :2].tolist()
    # without conditioning its LD neighbours take the other windows; with it, they score
    # only what they add to the strong pair, and the weak unlinked pair gets a window
    assert not _holds(plain, 40, 42)
    assert _holds(cond, 40, 42)
    near_block = sum(all(10 <= s <= 21 for s in w[:2]) for w in plain.tolist())
    assert near_block == 4  # every plain window went to the block
    # deterministic
    again = screen_window_sets(x, y, 4, 3, reach=8, lead=True, conditional=True)
    np.testing.assert_array_equal(cond, again)


def test_conditional_pick_with_one_window_is_the_plain_best_pair():
    x, y = _block_and_weak_pair(seed=1)
    for reach in (3, 8):
        plain = screen_window_sets(x, y, 1, 3, reach=reach, lead=True)
        cond = screen_window_sets(x, y, 1, 3, reach=reach, lead=True, conditional=True)
        np.testing.assert_array_equal(plain, cond)


def test_conditional_pick_handles_channels_missing_targets_and_few_candidates():
    x, y = _block_and_weak_pair(n=300, seed=2)
    x2 = np.stack([x, -x], axis=2)  # two channels per SNP
    y2 = np.column_stack([y[:, 0], np.where(np.arange(300) % 7 == 0, np.nan, y[:, 0])])
    sets = screen_window_sets(x2, y2, 4, 3, reach=8, lead=True, conditional=True)
    assert sets.shape == (4, 3) and [14, 16] in sets[:, :2].tolist()
    # candidates fewer than windows (tiny input): the rest repeat the best window
    tiny = _pick_conditional(
        x[:, :4], y, np.array([0, 1]), np.array([1, 1]), np.zeros(2), n_windows=3, width=2
    )
    assert tiny.shape == (3, 2) and set(map(tuple, tiny.tolist())) <= {(0, 1), (1, 2)}


def test_conditional_in_a_preset_trains_saves_and_needs_pairs_lead(tmp_path):
    arch = {
        **SCREENED,
        "name": "conditional_tiny",
        "screen": {**SCREENED["screen"], "pairs": "lead", "map_reach": 8, "conditional": True},
    }
    x, y = _block_and_weak_pair(n=500, seed=3)
    res = train_cnn(x[:400, :, None], y[:400].astype(np.float32), crossfit_cfg(model=arch), seed=0)
    layer = res.model.get_layer("cnn_part0").get_layer("screen")
    assert layer.conditional is True
    assert [14, 16] in layer.windows.numpy()[:, :2].tolist()
    again = load_model(save_model(res.model, tmp_path / "c.keras"))
    assert again.get_layer("cnn_part0").get_layer("screen").conditional is True
    p = res.model.predict(x[400:, :, None], verbose=0)[:, 0]
    np.testing.assert_allclose(
        again.predict(x[400:, :, None], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6
    )
    bad = {**SCREENED, "name": "bad", "screen": {**SCREENED["screen"], "conditional": True}}
    with pytest.raises(InputError, match=r'conditional .* pairs = "lead"') as err:
        load_architecture(bad)
    assert "\n" not in str(err.value)


def test_v18_is_v17_plus_conditional_and_the_default_is_unchanged():
    v17, v18 = load_architecture("snpcnn_default_v17"), load_architecture("snpcnn_default_v18")
    assert v18["screen"].pop("conditional") is True
    assert v18["screen"] == v17["screen"]
    assert "conditional" not in v17["screen"]  # v17, the default of sessions 51-52
    for key in ("blocks", "linear", "triple_stage"):
        assert v18.get(key) == v17.get(key)


def _reference_pick(x, y, js, ds, offsets, n_windows, width):
    """Forward selection by least squares on every step (a plain reference for one target
    without missing rows and one channel): the squared partial correlation of each candidate's
    pair feature with the target given the picked pairs' features, as a chi-square tail."""
    from scipy import stats

    from snpcnn.training import _pair_feature, _standardised, _Windows

    z = _standardised(x)
    n, p = z.shape
    t = (y[:, 0] - y[:, 0].mean()) / y[:, 0].std()
    feats = [_pair_feature(z, j, d, 1)[:, 0] for j, d in zip(js, ds)]
    picker, picked, alive = _Windows(p, n_windows, width, True), [], set(range(len(js)))
    while not picker.full and alive:
        basis = np.column_stack([np.ones(n)] + picked) if picked else np.ones((n, 1))
        proj = basis @ np.linalg.lstsq(basis, np.column_stack([t] + feats), rcond=None)[0]
        res = np.column_stack([t] + feats) - proj
        rt = res[:, 0]
        best, best_key = None, np.inf
        for i in sorted(alive):
            rf = res[:, 1 + i]
            score = (rf @ rt) ** 2 / (rf @ rf) / (rt @ rt) if rf @ rf > 1e-9 * n else 0.0
            key = stats.chi2.logsf(n * score, 1) + offsets[i]
            if key < best_key:
                best, best_key = i, key
        alive.discard(best)
        if picker.add(int(js[best]), int(ds[best])):
            picked.append(feats[best])
    return picker.sets()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conditional_pick_equals_a_least_squares_reference(seed):
    x, y = _block_and_weak_pair(n=300, seed=seed)
    rng = np.random.default_rng(seed)
    # most candidates inside the LD block (their features correlate with the picked ones)
    js = np.concatenate([rng.integers(8, 20, size=40), rng.integers(0, 55, size=20)])
    ds = rng.integers(0, 3, size=60)
    offsets = rng.choice([0.0, 1.5], size=60)  # two families
    got = _pick_conditional(x, y, js, ds, offsets, n_windows=10, width=2, lead=True)
    ref = _reference_pick(x, y, js, ds, offsets, n_windows=10, width=2)
    np.testing.assert_array_equal(got, ref)


def test_conditional_keys_pairs_inside_a_window_and_further_apart_as_two_families(monkeypatch):
    import snpcnn.training as tr

    seen = {}

    def spy(x, r, js, ds, offsets, n_windows, width, lead=False, *rest):
        seen.update(js=js, ds=ds, offsets=offsets)
        return real(x, r, js, ds, offsets, n_windows, width, lead, *rest)

    real = tr._pick_conditional
    monkeypatch.setattr(tr, "_pick_conditional", spy)
    x, y = _block_and_weak_pair(n=300)
    p = x.shape[1]
    screen_window_sets(x, y, 4, 3, reach=8, lead=True, conditional=True)
    usable = seen["js"] + seen["ds"] < p
    near = seen["ds"] < 3
    assert np.allclose(seen["offsets"][near], np.log((usable & near).sum()))
    assert np.allclose(seen["offsets"][~near], np.log((usable & ~near).sum()))
    # with far pairs past their gate (every pair a candidate): a third family, far pairs'
    # offset the log of every far pair scored
    seen.clear()
    z = np.random.default_rng(5).standard_normal((600, 40)).astype(np.float32)
    yf = (z[:, 3] * z[:, 30] + 0.3 * np.random.default_rng(6).standard_normal(600))[:, None]
    info = {}
    screen_window_sets(z, yf, 4, 3, reach=6, all_pairs=True, info=info, lead=True, conditional=True)
    assert info["far_significant"] >= 1
    far = seen["ds"] >= 6
    assert far.any() and (seen["js"][far] == 3).any()
    n_far = sum(40 - j - 6 for j in range(40 - 6))  # pairs at least 6 columns apart
    assert np.allclose(seen["offsets"][far], np.log(n_far))
    mid = (seen["ds"] >= 3) & ~far
    assert np.allclose(seen["offsets"][mid], np.log((40 - np.arange(3, 6)).sum()))


def test_train_cnn_passes_conditional_to_the_screen(monkeypatch):
    import snpcnn.training as tr

    calls = []
    real = tr._pick_conditional

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(tr, "_pick_conditional", spy)
    x, y = _block_and_weak_pair(n=300, seed=4)
    screen = {**SCREENED["screen"], "pairs": "lead", "map_reach": 8}
    plain = {**SCREENED, "name": "plain_tiny", "screen": screen}
    cfg = crossfit_cfg(model=plain, epochs=5)
    train_cnn(x[:, :, None], y.astype(np.float32), cfg, seed=0)
    assert calls == []
    cond = {**plain, "name": "cond_tiny", "screen": {**screen, "conditional": True}}
    train_cnn(x[:, :, None], y.astype(np.float32), crossfit_cfg(model=cond, epochs=5), seed=0)
    assert len(calls) >= 1
