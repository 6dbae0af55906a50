"""Session 47: [screen] map_reach (pairs further apart than a window on a map)."""

import numpy as np
import pytest
from test_crossfit import SCREENED
from test_crossfit import _cfg as crossfit_cfg

from snpcnn.errors import InputError
from snpcnn.models import load_architecture, load_model, save_model
from snpcnn.training import screen_window_sets, train_cnn

# test_crossfit's tiny screened architecture, with windows led by their pair
ARCH = {**SCREENED, "name": "map_reach_tiny", "screen": {**SCREENED["screen"], "pairs": "lead"}}


def _far_pair(n=500, m=60, a=20, b=30, seed=0):
    """Standardised dosages; y = product of SNPs a and b (10 apart on the map) + noise."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    z = (x - x.mean(0)) / x.std(0)
    g = z[:, a] * z[:, b]
    y = g / g.std() + rng.normal(scale=0.6, size=n)
    return z.astype(np.float32)[..., None], ((y - y.mean()) / y.std()).astype(np.float32)[:, None]


def _cfg(arch):
    return crossfit_cfg(model=arch)  # test_crossfit's training settings


def test_map_reach_lets_a_pair_ten_snps_apart_on_the_map_lead_a_window(tmp_path):
    x, y = _far_pair()
    near = screen_window_sets(x, y, 4, 3, reach=3, lead=True)
    assert [20, 30] not in near[:, :2].tolist()  # a window's span cannot hold them
    far = screen_window_sets(x, y, 4, 3, reach=12, lead=True)
    assert [20, 30] in far[:, :2].tolist()
    # through training (the file's order is the map: no LD order here)
    wide = {**ARCH, "screen": {**ARCH["screen"], "map_reach": 12}}
    res = train_cnn(x[:400], y[:400], _cfg(wide), seed=0)
    windows = res.model.get_layer("cnn_part0").get_layer("screen").windows.numpy()
    assert [20, 30] in windows[:, :2].tolist()
    assert res.conv["kept"] == [True] and res.conv["p_value"][0] < 0.05
    p = res.model.predict(x[400:], verbose=0)[:, 0]
    assert np.corrcoef(p, y[400:, 0])[0, 1] > 0.5
    again = load_model(save_model(res.model, tmp_path / "wide.keras"))
    assert again.get_layer("cnn_part0").get_layer("screen").map_reach == 12
    np.testing.assert_allclose(again.predict(x[400:], verbose=0)[:, 0], p, rtol=1e-5, atol=1e-6)
    # without it the pair is out of reach and its product is not learned
    base = train_cnn(x[:400], y[:400], _cfg(ARCH), seed=0)
    assert base.conv["kept"] == [False]  # the model is then its first network, unaveraged
    windows = base.model.get_layer("screen").windows.numpy()
    assert [20, 30] not in windows[:, :2].tolist()
    q = base.model.predict(x[400:], verbose=0)[:, 0]
    assert np.corrcoef(q, y[400:, 0])[0, 1] < 0.3
    # its convolutions dropped: the Python API's Grad-CAM / HiResCAM give no map (NaN) and say
    # why; they returned zeros without a word, which sorted the SNPs in file order (a checking
    # helper, session 47; the CLI already skipped them with a note)
    import pandas as pd

    from snpcnn.explain import snp_importance

    variants = pd.DataFrame(
        {"chrom": "1", "pos": np.arange(1, 61), "id": [f"s{i}" for i in range(60)]}
    )
    with pytest.warns(UserWarning, match="correction was dropped"):
        imp = snp_importance(
            base.model, x[400:], variants, methods=("saliency", "grad_cam", "hirescam")
        )
    assert imp["grad_cam"].isna().all() and imp["hirescam"].isna().all()
    assert np.isfinite(imp["saliency"]).all() and imp["saliency"].max() > 0
    kept = snp_importance(res.model, x[400:], variants, methods=("hirescam",))
    assert np.isfinite(kept["hirescam"]).all() and kept["hirescam"].max() > 0


def test_map_reach_is_validated_and_absent_from_architectures_that_do_not_set_it():
    with pytest.raises(InputError, match="map_reach widens the pairs that lead a window"):
        load_architecture({**ARCH, "screen": {"windows": 4, "width": 3, "map_reach": 12}})
    with pytest.raises(InputError, match="map_reach"):
        load_architecture({**ARCH, "screen": {**ARCH["screen"], "map_reach": -1}})
    assert (
        load_architecture({**ARCH, "screen": {**ARCH["screen"], "map_reach": 12}})["screen"][
            "map_reach"
        ]
        == 12
    )
    for name in ("snpcnn_default_v12", "snpcnn_default_v13", "snpcnn_default_v14"):
        assert "map_reach" not in load_architecture(name)["screen"]
    assert load_architecture("snpcnn_default_v15")["screen"]["map_reach"] == 16
    assert load_architecture("snpcnn_default")["screen"]["map_reach"] == 16  # v15, session 47


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_sigterm_swallowed_in_a_gc_callback_stops_the_run_at_the_next_check():
    """A checking helper (session 47): SIGTERM's exception, raised while JAX's garbage-
    collection callback ran, was printed as "Exception ignored" and dropped; `snpcnn tune` went
    on to the end and exited 0.  The handler now records it, and the run's safe points (every
    epoch, every progress event, every finished Ray task) raise it again."""
    import gc
    import os
    import signal

    from snpcnn import _signals
    from snpcnn.progress import Progress

    restore = _signals.install()
    try:
        if not _signals.active():
            pytest.skip("no SIGTERM handler can be installed here")
        fired = []

        def callback(phase, info):
            if not fired:
                fired.append(phase)
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10_000):  # the handler runs here; gc drops its exception
                    pass

        gc.callbacks.append(callback)
        try:
            gc.collect()
        finally:
            gc.callbacks.remove(callback)
        assert fired  # the run went on past the signal
        with pytest.raises(_signals.Terminated):
            Progress(mode="off")("epoch")
        _signals.check()  # raised once: nothing pending any more
        # Ctrl-C the same way, where Python's own SIGINT handler was in force
        if signal.getsignal(signal.SIGINT) is _signals._interrupt:
            try:
                _signals._interrupt(signal.SIGINT, None)
            except KeyboardInterrupt:
                pass
            with pytest.raises(KeyboardInterrupt) as caught:
                _signals.check()
            assert not isinstance(caught.value, _signals.Terminated)
    finally:
        restore()
    _signals._pending.append(signal.SIGTERM)
    _signals.check()  # not installed: a no-op
    _signals._pending.clear()


def test_predictions_far_from_the_training_mean_are_warned_about():
    """A table counting the other allele at 11 % of the SNPs (under the orientation
    warning's 15 %) moved every prediction by about 9 trait SDs, without a word (a checking
    helper, session 47): predict now warns where the mean prediction of 5 or more samples is
    3 or more training SDs away, and names the SNPs that look flipped."""
    from types import SimpleNamespace

    from snpcnn.bundle import MissingSnpWarning, ModelBundle

    fake = SimpleNamespace(head="regression", traits=["GY"])
    g = SimpleNamespace(source="new.csv")
    rng = np.random.default_rng(0)
    far = rng.normal(9.3, 0.5, size=(20, 1))
    match = {"suspect_flipped": {"n": 130, "of": 1200, "example": "snp7"}}
    with pytest.warns(MissingSnpWarning) as caught:
        ModelBundle._warn_shift(fake, g, match, far, [])
    text = str(caught[0].message)
    assert "new.csv: the mean prediction of 'GY' over 20 samples is +9." in text
    assert "130 of the 1,200 SNPs" in text and "'snp7'" in text
    with pytest.warns(MissingSnpWarning, match="may count the other allele at some SNPs"):
        ModelBundle._warn_shift(fake, g, {}, -far, [])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ModelBundle._warn_shift(fake, g, match, rng.normal(0.5, 1, size=(20, 1)), [])
        ModelBundle._warn_shift(fake, g, match, far[:4], [])  # too few samples to say
        ModelBundle._warn_shift(fake, g, match, far[:6], [0, 1])  # uncalled left out
        ModelBundle._warn_shift(SimpleNamespace(head="binary", traits=["c"]), g, match, far, [])


def test_estimator_predict_batch_without_a_2_is_not_called_minus_one_coded():
    """A one-row predict batch of 0/1 calls with a missing -1 was told "add 1 to give dosages
    0/1/2", which would corrupt valid dosages (a checking helper, session 47): at predict
    the hint needs a training X without a 2 as well.  And encoding='onehot' with a scaling
    is refused, as snpcnn fit refuses it (it was ignored without a word)."""
    import warnings

    from snpcnn.estimator import SNPCNNRegressor
    from tests.test_estimator import TINY_KW

    rng = np.random.default_rng(1)
    X = rng.binomial(2, 0.4, size=(60, 24)).astype(float)
    y = X[:, 0] + rng.normal(0, 0.5, 60)
    est = SNPCNNRegressor(**TINY_KW).fit(X, y)
    row = np.zeros((1, 24))
    row[0, ::3] = 1
    row[0, 7] = -1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(est.predict(row)).all()
    coded = X - 1  # rrBLUP's -1/0/1 at fit: warned, and again at predict
    with pytest.warns(UserWarning, match="add 1 to give dosages"):
        est = SNPCNNRegressor(**TINY_KW).fit(coded, y)
    with pytest.warns(UserWarning, match="add 1 to give dosages"):
        est.predict(row)
    with pytest.raises(InputError, match="encoding='onehot' feeds 0/1 genotype indicators"):
        SNPCNNRegressor(**{**TINY_KW, "encoding": "onehot", "scaling": "standardize"}).fit(X, y)
