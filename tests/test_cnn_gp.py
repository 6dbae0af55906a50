"""CNN-GP: the infinite-width convolutional network's kernel, checked against sampled networks."""

import numpy as np
import pytest

from snpcnn.baselines import CNNGP, GBLUP, make_baseline
from snpcnn.baselines.cnn_gp import dense_kernel, window_kernel
from snpcnn.errors import InputError


def _units(cov, hidden, rng):
    """Pre-activations of ``hidden`` units of a random layer whose input covariance is
    ``cov``: given the layer's input, Gaussian weights make them exactly ``N(0, cov)``."""
    L = np.linalg.cholesky(cov + 1e-12 * np.eye(len(cov)))
    return L @ rng.normal(size=(len(cov), hidden))


def _sampled_cov(Z, width, activation, bias, depth, hidden, rng):
    """The output covariance of a randomly drawn network of the documented architecture,
    ``hidden`` units per layer and per window (weights ~ N(0, 1/fan-in), x2 for ReLU; biases
    ~ N(0, bias)), averaged exactly over its readout: ``h h' / fan`` of the last layer.  By
    the law of large numbers over units it approaches the CNN-GP kernel."""
    feats = []
    for s in range(0, Z.shape[1], width):
        a = Z[:, s : s + width]
        u = _units(a @ a.T / a.shape[1] + bias, hidden, rng)
        feats.append(u * u if activation == "square" else np.sqrt(2.0) * np.maximum(u, 0.0))
    h = np.hstack(feats)  # flatten: windows x units
    for _ in range(depth):
        u = _units(h @ h.T / h.shape[1] + bias, hidden, rng)
        h = np.sqrt(2.0) * np.maximum(u, 0.0)
    return h @ h.T / h.shape[1]


@pytest.mark.parametrize("activation", ["relu", "square"])
def test_window_kernel_is_the_expected_output_covariance_of_random_conv_nets(activation):
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(5, 7))  # 3 windows of 3 SNPs, the last one of 1
    K, d, _ = window_kernel(Z, Z, 3, activation, 0.1)
    np.testing.assert_allclose(np.diag(K), d, rtol=1e-5)  # windows in float32
    emp = _sampled_cov(Z, 3, activation, 0.1, 0, 400_000, rng)
    # Monte Carlo over 400,000 filters per window: well under 1 per cent
    np.testing.assert_allclose(emp, K, atol=0.015 * np.abs(K).max())


def test_dense_relu_layers_match_a_wide_sampled_network():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(4, 10))
    K0, d0, _ = window_kernel(Z, Z, 5, "relu", 0.1)
    K2, d2, _ = dense_kernel(K0, d0, d0, 2, 0.1)
    np.testing.assert_allclose(np.diag(K2), d2, rtol=1e-5)
    emp = _sampled_cov(Z, 5, "relu", 0.1, 2, 400_000, rng)
    np.testing.assert_allclose(emp, K2, atol=0.015 * np.abs(K2).max())
    # without the bias terms the kernel would be off by more than that
    K2_nobias = dense_kernel(*window_kernel(Z, Z, 5, "relu", 0.0), 2, 0.0)[0]
    assert np.abs(K2_nobias - K2).max() > 0.05 * np.abs(K2).max()


def _epistatic(n=240, m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, 0.5, size=(n, m)).astype(float)
    g = (X[:, 20] - 1) * (X[:, 22] - 1) + (X[:, 40] - 1) * (X[:, 41] - 1)
    y = g / g.std() + rng.normal(scale=0.7, size=n)
    return X, y


def test_cnn_gp_learns_local_epistasis_that_gblup_cannot():
    X, y = _epistatic()
    tr, te = np.arange(180), np.arange(180, 240)
    cnn_gp = CNNGP(width=3, activation="square", depths=(0, 1)).fit(X[tr], y[tr])
    gblup = GBLUP(solver="exact").fit(X[tr], y[tr])
    r_cnn = np.corrcoef(cnn_gp.predict(X[te]), y[te])[0, 1]
    r_gblup = np.corrcoef(gblup.predict(X[te]), y[te])[0, 1]
    assert r_cnn > r_gblup + 0.15, (r_cnn, r_gblup)
    # the windows are what helps: the same network without them (one window) does worse
    mlp = make_baseline("mlp_gp", activation="square", depths=(0, 1)).fit(X[tr], y[tr])
    assert mlp.name == "MLP-GP"
    r_mlp = np.corrcoef(mlp.predict(X[te]), y[te])[0, 1]
    assert r_cnn > r_mlp + 0.1, (r_cnn, r_mlp)
    assert cnn_gp.depth_ in (0, 1) and set(cnn_gp.loglik_by_depth_) == {0, 1}
    assert cnn_gp.depth_ == max(cnn_gp.loglik_by_depth_, key=cnn_gp.loglik_by_depth_.get)


def test_cnn_gp_uses_training_rows_only_and_covariates():
    X, y = _epistatic(seed=1)
    C = np.random.default_rng(2).normal(size=(len(y), 1))
    y = y + 2.0 * C[:, 0]
    a = make_baseline("cnn_gp").fit(X[:150], y[:150], C[:150])
    assert a.name == "CNN-GP"
    assert a.beta_[1] == pytest.approx(2.0, abs=0.4)
    p1 = a.predict(X[150:], C[150:])
    X2 = X.copy()
    X2[150:] = 2 - X2[150:]  # other test rows: the fit cannot change
    b = make_baseline("cnn_gp").fit(X2[:150], y[:150], C[:150])
    np.testing.assert_array_equal(b.dual_coef_, a.dual_coef_)
    np.testing.assert_allclose(a.predict(X[150:], C[150:]), p1)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"width": 0}, "width"),
        ({"width": 2.5}, "width"),
        ({"activation": "tanh"}, "activation"),
        ({"depths": (-1,)}, "depths"),
        ({"depths": ()}, "depths"),
        ({"depths": ("a",)}, "depths"),
        ({"depths": (1.5,)}, "depths"),
        ({"bias": -1.0}, "bias"),
        ({"bias": "big"}, "bias"),
    ],
)
def test_bad_parameters_are_one_line_errors(kw, match):
    X, y = _epistatic(n=40)
    with pytest.raises(InputError, match=match):
        CNNGP(**kw).fit(X, y)


def test_window_kernel_is_the_same_bit_for_bit_on_one_thread_or_two():
    from snpcnn.baselines.cnn_gp import window_kernel
    from snpcnn.threads import apply_threads, current_threads

    rng = np.random.default_rng(5)
    A, B = rng.normal(size=(40, 23)), rng.normal(size=(7, 23))
    before = current_threads()
    try:
        for act in ("relu", "square"):
            apply_threads(1)
            one = window_kernel(A, B, 5, act, 0.1)
            apply_threads(2)
            two = window_kernel(A, B, 5, act, 0.1)
            assert all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    finally:
        apply_threads(before)


def _plain_window_kernel(A, B, width, activation, bias):
    """The window kernel written plainly (one full float32 map per window, the formula of
    the module docstring), to check the blocked, in-place version against."""
    from snpcnn.baselines.cnn_gp import _arccos

    K, da, db = np.zeros((len(A), len(B))), np.zeros(len(A)), np.zeros(len(B))
    A32, B32, b32 = A.astype(np.float32), B.astype(np.float32), np.float32(bias)
    starts = range(0, A.shape[1], width)
    for s in starts:
        a, b = A32[:, s : s + width], B32[:, s : s + width]
        w = np.float32(a.shape[1])
        kab = a @ b.T / w + b32
        kaa = np.einsum("ij,ij->i", a, a) / w + b32
        kbb = np.einsum("ij,ij->i", b, b) / w + b32
        if activation == "square":
            K += 2.0 * kab * kab + np.outer(kaa, kbb)
            da += 3.0 * kaa * kaa
            db += 3.0 * kbb * kbb
        else:
            K += _arccos(kab, kaa, kbb)
            da += kaa
            db += kbb
    return K / len(starts), da / len(starts), db / len(starts)


@pytest.mark.parametrize("activation", ["relu", "square"])
@pytest.mark.parametrize("block", [7, 40, 64, 1 << 16])
def test_blocked_window_kernel_equals_the_plain_formula_bit_for_bit(monkeypatch, activation, block):
    import snpcnn.baselines.cnn_gp as cg

    monkeypatch.setattr(cg, "_BLOCK_ELEMENTS", block)
    rng = np.random.default_rng(11)
    A, B = rng.normal(size=(37, 23)), rng.normal(size=(9, 23))  # 23 SNPs: a last window of 3
    for a, b in ((A, B), (A, A), (B, A), (A[:1], B), (A[:3], B)):
        got = cg.window_kernel(a, b, 5, activation, 0.1)
        want = _plain_window_kernel(a, b, 5, activation, 0.1)
        for g, w in zip(got, want, strict=True):
            assert np.array_equal(g, w)


def test_fit_standardises_without_touching_the_input_and_float32_gives_the_same_fit():
    """CNNGP.fit standardises a private float64 copy in place (memory: one n x m float64 array
    alive); a caller's float64 array must stay as it was, and a float32 input gives the same
    numbers bit for bit as its float64 copy."""
    from snpcnn.baselines import CNNGP

    rng = np.random.default_rng(3)
    x64 = rng.integers(0, 3, size=(60, 40)).astype(np.float64)
    y = x64[:, :5].sum(axis=1) + rng.normal(size=60)
    before = x64.copy()
    a = CNNGP().fit(x64, y)
    np.testing.assert_array_equal(x64, before)
    x32 = x64.astype(np.float32)
    b = CNNGP().fit(x32, y)
    np.testing.assert_array_equal(x32, before.astype(np.float32))
    np.testing.assert_array_equal(a.dual_coef_, b.dual_coef_)
    np.testing.assert_array_equal(a.Z_train_, b.Z_train_)
    assert a.loglik_ == b.loglik_ and a.depth_ == b.depth_
    xv = x64[:, ::1]  # a view of a larger array: never standardised in place either
    big = np.hstack([x64, x64])
    c = CNNGP().fit(big[:, :40], y)
    np.testing.assert_array_equal(big[:, :40], before)
    np.testing.assert_array_equal(a.predict(xv), c.predict(xv))
