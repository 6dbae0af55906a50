"""snpcnn.progress: ETA, rate limit, line and bar rendering, with a fake clock."""

import datetime as dt
import io
import re

import pytest

from snpcnn.progress import Progress, RateLimiter, eta_seconds, format_duration


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def _now():
    return dt.datetime(2026, 12, 1, 19, 40, 12)


def _lines(mode="lines", interval=30.0):
    clock, buf = Clock(), io.StringIO()
    return Progress(buf, mode=mode, interval=interval, clock=clock, now=_now), clock, buf


def test_format_duration_and_eta():
    assert format_duration(2.14) == "2.1 s"
    assert format_duration(42.4) == "42 s"
    assert format_duration(240) == "4 min"
    assert format_duration(3900) == "65 min"
    assert format_duration(6300) == "1 h 45 min"
    assert eta_seconds(0, 10, 5.0) is None
    assert eta_seconds(1, 4, 30.0) == pytest.approx(90.0)
    assert eta_seconds(4, 4, 30.0) == 0.0


def test_rate_limiter_allows_one_line_per_interval():
    clock = Clock()
    lim = RateLimiter(30, clock)
    assert lim.ready()
    lim.wrote()
    clock.t += 29.9
    assert not lim.ready()
    clock.t += 0.1
    assert lim.ready()


def test_lines_per_fold_baseline_and_refit_with_eta():
    p, clock, buf = _lines()
    p("start", n_splits=2, epochs=10, refit_epochs=10, baselines=["GBLUP", "ridge"])
    for _ in range(2):
        p("fold_start")
        for _ in range(10):  # 10 epochs, 5 s each: 50 s, at most one epoch line per 30 s
            clock.t += 5
            p("epoch")
        p("fold_trained", epochs_run=10)
        for name in ("GBLUP", "ridge"):
            clock.t += 5
            p("baseline_start", name=name)
            p("baseline_done", name=name, seconds=5.0)
        p("fold_done")
    p("refit_start", epochs=4, n_samples=120)
    for _ in range(4):
        clock.t += 5
        p("epoch")
    p("refit_done")
    text = buf.getvalue()
    lines = text.splitlines()
    assert all(ln.startswith("[2026-12-01 19:40:12] ") for ln in lines), text
    for i in (1, 2):
        assert f"fold {i}/2: GBLUP done (5.0 s)" in text
        assert f"fold {i}/2: ridge done (5.0 s)" in text
        assert f"fold {i}/2 done (60 s)" in text
    # fold 1 done after 60 s: one fold and the refit left at 60 s each -> 33% done, ETA 120 s
    assert "fold 1/2 done (60 s); 33% done, ETA 2 min" in text
    # epoch lines: only after 30 s without any line (the first fold's 30th s, ...)
    epoch_lines = [ln for ln in lines if " epoch " in ln]
    assert 1 <= len(epoch_lines) <= 4, epoch_lines
    assert re.search(r"fold 1/2: CNN epoch 6 of at most 10, 30 s; \d+% done, ETA", text)
    assert "refit on 120 samples, 4 epochs" in text and lines[-1].endswith("refit done (20 s)")
    assert p.fraction() == pytest.approx(1.0)


def test_early_stopping_counts_the_epochs_not_run():
    p, clock, _ = _lines()
    p("start", n_splits=4, epochs=100, refit_epochs=0, baselines=[])
    p("fold_start")
    for _ in range(10):
        clock.t += 1
        p("epoch")
    p("fold_trained", epochs_run=10)
    p("fold_done")
    assert p.fraction() == pytest.approx(0.25)
    assert "25% done, ETA 30 s" in p.eta_text()


def test_cross_fitted_networks_are_reported_per_network():
    """5 networks x 8 epochs: the line says so, not '40 epochs'."""
    p, clock, buf = _lines()
    p("start", n_splits=2, epochs=200, refit_epochs=0, baselines=[])
    p("fold_start")
    for _ in range(40):
        clock.t += 1
        p("epoch")
    p("fold_trained", epochs_run=8, networks=5)
    assert "CNN trained (8 epochs x 5 networks" in buf.getvalue()
    assert "40 epochs" not in buf.getvalue()


def test_a_second_cross_fit_on_the_cnn_gp_start_grows_the_work_and_says_why():
    """Where REML proposes the CNN-GP, train_cnn cross-fits the convolutions twice: the
    fold's work grows by one run instead of stalling at 'CNN trained', the log says why the
    fold takes longer, and the percentage does not jump (it counted the maximum epochs of
    every network as done: '37% done' after fold 1 of 10 on wheat)."""
    p, clock, buf = _lines(interval=0.0)  # every epoch line
    p("start", n_splits=2, epochs=10, refit_epochs=0, baselines=["GBLUP"])
    p("fold_start")
    for _ in range(4):  # early stop after 4 of 10 epochs
        clock.t += 1
        p("epoch")
    before = p.fraction()
    p("cnn_second_start", start="the CNN-GP", gain=3.7)
    assert before <= p.fraction() <= 0.5  # fold 1 of 2 is not done
    for _ in range(5):
        clock.t += 1
        p("epoch")
    assert p.fraction() > before  # the second run moves the bar
    assert "fold 1/2: CNN on the CNN-GP start epoch" in buf.getvalue()
    p("fold_trained", epochs_run=5)
    p("baseline_done", name="GBLUP", seconds=1.0)
    p("fold_done")
    assert p.fraction() == pytest.approx(0.5)  # 9 s of 18: one fold of two, timed
    out = buf.getvalue()
    assert "REML prefers the CNN-GP as the start (REML log-likelihood +3.7)" in out
    # ... and which start the out-of-fold comparison then kept
    p(
        "cnn_start_chosen",
        start="RR-BLUP",
        other="CNN-GP",
        mse={"ridge": 0.5, "cnn_gp": 0.49},
        p=0.13,
    )
    assert (
        "kept the RR-BLUP start (out-of-fold squared error 0.5 on RR-BLUP vs 0.49 on the "
        "CNN-GP; one-sided p 0.13)" in buf.getvalue()
    )
    p("fold_start")
    for _ in range(10):
        p("epoch")
    p("fold_trained", epochs_run=10)
    p("baseline_done", name="GBLUP", seconds=1.0)
    p("fold_done")
    assert p.fraction() == pytest.approx(1.0)
    assert "fold 2/2: CNN on" not in buf.getvalue()  # a new fold's first run


def test_benchmark_units_give_an_overall_eta():
    p, clock, buf = _lines()
    p("step_start", name="loading dataset 'small'")
    clock.t += 2
    p("dataset", dataset="small", n_samples=100, n_snps=200)
    info = dict(total=2, dataset="small", trait="GY", seed=3)
    p("unit_start", index=1, model="baselines", n_splits=2, **info)
    p("cv", event="start", n_splits=2, epochs=0, refit_epochs=0, baselines=["GBLUP"])
    for f in range(2):
        p("cv", event="fold_start", repeat=0, fold=f)
        clock.t += 10
        p("cv", event="baseline_start", name="GBLUP")
        p("cv", event="baseline_done", name="GBLUP", seconds=10.0)
        p("cv", event="fold_done", repeat=0, fold=f)  # ignored: sent as "fold"
        p("fold", repeat=0, fold=f, index=1, model="baselines", **info)
    summary = {"GBLUP": (0.5, 0.1)}
    done = dict(computed=2, resumed=0, seconds=20.0, metric="pearson_r", summary=summary)
    p("unit_done", index=1, model="baselines", **info, **done)
    text = buf.getvalue()
    assert "loading dataset 'small' ..." in text
    assert "small: 100 samples with a phenotype x 200 SNPs (loaded in 2.0 s)" in text
    assert (
        "[1/2] small GY seed 3 baselines: fold 1/2: GBLUP done (10 s); 25% done, ETA 36 s" in text
    )
    assert "[1/2] small GY seed 3 baselines: fold 2/2 done" in text
    assert (
        "[1/2] small GY seed 3 baselines: 2 folds run in 20.0 s; mean pearson_r: GBLUP 0.500"
        in text
    )
    assert text.splitlines()[-1].endswith("50% done, ETA 22 s")


def test_steps_count_and_eta():
    p, clock, buf = _lines()
    for i, m in enumerate(["saliency", "gradxinput"], 1):
        p("step_start", name=m, index=i, total=2)
        clock.t += 4
        p("step_done", name=m, index=i, total=2)
    text = buf.getvalue()
    assert "saliency (1/2) done (4.0 s); ETA 4.0 s" in text
    assert "gradxinput (2/2) done (4.0 s)" in text


def test_off_mode_and_env_are_silent(monkeypatch):
    p, _, buf = _lines(mode="off")
    p("start", n_splits=2, epochs=1, refit_epochs=0, baselines=["GBLUP"])
    p("fold_done")
    assert buf.getvalue() == ""
    monkeypatch.setenv("SNPCNN_PROGRESS", "off")
    assert Progress(io.StringIO()).mode == "off"
    monkeypatch.delenv("SNPCNN_PROGRESS")
    assert Progress(io.StringIO()).mode == "lines"  # not a terminal

    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert Progress(Tty()).mode == "bar"


def test_bar_mode_follows_the_work_with_tqdm():
    p, clock, buf = _lines(mode="bar")
    p("start", n_splits=2, epochs=3, refit_epochs=3, baselines=["GBLUP"])
    bar = p.bar
    assert bar is not None and bar.total == 100  # percent
    seen = []
    for _ in range(2):
        p("fold_start")
        for _ in range(2):  # early stop after 2 of 3 epochs
            clock.t += 1
            p("epoch")
            seen.append(bar.n)
        p("fold_trained", epochs_run=2)
        p("baseline_start", name="GBLUP")
        assert "GBLUP" in bar.desc
        clock.t += 1
        p("baseline_done", name="GBLUP", seconds=1.0)
        p("fold_done")
        seen.append(bar.n)
    # two folds of 3 s: the refit is expected to take as long as one
    assert bar.n == pytest.approx(100 * 6 / 9)
    assert "ETA 3.0 s" in str(bar)
    p("refit_start", epochs=3, n_samples=10)
    for _ in range(3):
        clock.t += 1
        p("epoch")
        seen.append(bar.n)
    p("refit_done")
    assert seen == sorted(seen) and bar.n == bar.total
    p.close()
    assert "100%" in buf.getvalue() and "[2026-" not in buf.getvalue()


def test_parallel_tasks_lines_are_rate_limited_but_the_last_is_kept():
    p, clock, buf = _lines(interval=30.0)
    base = dict(dataset="small", total=4, running=2, queued=0, resumed=0)
    p("tasks", done=0, unit=None, eta_seconds=None, **base)
    for done in (1, 2, 3):
        clock.t += 3
        p("tasks", done=done, unit="k", eta_seconds=9.0, **base)
    clock.t += 10
    p("tasks", done=4, unit="k", eta_seconds=0.0, **{**base, "running": 0})
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2, lines  # the first, then the last (the others within 10 s)
    assert lines[0].endswith("small: folds 0/4 done, 2 running, 0 queued")
    assert lines[1].endswith("small: folds 4/4 done, 0 running, 0 queued")


def test_cross_fitted_networks_count_in_the_work():
    p, clock, buf = _lines()
    p("start", n_splits=1, epochs=3 * 5, refit_epochs=3 * 5, nets=5, baselines=[])
    assert "1 folds x (CNN up to 3 epochs x 5 networks)" in buf.getvalue()
    p("fold_start")
    for _ in range(15):
        p("epoch")
    p("fold_trained", epochs_run=15)
    p("fold_done")
    assert p.fraction() == pytest.approx(0.5)
    p("refit_start", epochs=2, n_samples=50)  # the median epoch, per network
    assert p.refit_epochs == 10
    assert "refit on 50 samples, 2 epochs x 5 networks" in buf.getvalue()


def test_eta_expects_the_epochs_early_stopping_ran_not_the_maximum():
    """10 folds of 100 epochs (0.5 s each) and 3 baseline fits (10/3 s each), maximum 1000
    epochs: after the first fold the ETA is the ~9.5 min left, not a multiple of it."""
    p, clock, buf = _lines()
    p("start", n_splits=10, epochs=1000, refit_epochs=1000, baselines=["GBLUP", "ridge", "RKHS"])

    def fold(n_epochs=100):
        p("fold_start")
        for _ in range(n_epochs):
            clock.t += 0.5
            p("epoch")
        p("fold_trained", epochs_run=n_epochs)
        for b in ("GBLUP", "ridge", "RKHS"):
            clock.t += 10 / 3
            p("baseline_done", name=b, seconds=10 / 3)
        p("fold_done")

    fold()
    p("fold_start")
    for _ in range(60):  # halfway through fold 2's CNN (30 s)
        clock.t += 0.5
        p("epoch")
    # left: 20 s of this CNN + 10 s of baselines + 8 folds x 60 s + a 50 s refit = 560 s
    eta = eta_seconds(p.fraction(), 1.0, clock.t - 1000.0)
    assert 500 < eta < 620, eta
    assert "ETA 9 min" in buf.getvalue().splitlines()[-1]


def test_the_default_announces_its_cross_fitted_networks(example_data, tmp_path):
    """The default's start row is named after all its starts (v6 and later); the progress
    announcements still count its cross-fitted networks, and the refit is 'up to' epochs
    (they said 1 network and a refit of 0 epochs)."""
    import numpy as np
    import pandas as pd

    from snpcnn.cv import cross_validate
    from snpcnn.genotypes import Genotypes

    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=80).iloc[:, :41]
    ids = x["sample_id"].astype(str).to_numpy()
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph.set_index("sample_id").loc[ids, ["GY_E1"]].reset_index()
    ph.to_csv(tmp_path / "p.csv", index=False)
    geno = Genotypes((x.iloc[:, 1:].to_numpy() * 2).astype(np.int8), ids)
    events = []
    res = cross_validate(
        geno, tmp_path / "p.csv", ["GY_E1"], folds=2, epochs=1, conv_folds=2,
        baselines=["gblup"], progress=lambda e, **kw: events.append((e, kw)),
    )  # fmt: skip
    # run.json and the bundle say what the saved model predicts
    from snpcnn.training import START_LABELS

    assert res.config["refit_start"] in START_LABELS.values()
    assert isinstance(res.config["refit_conv_kept"], bool)
    assert res.final_bundle.config["refit_start"] == res.config["refit_start"]
    start = next(kw for e, kw in events if e == "start")
    refit = next(kw for e, kw in events if e == "refit_start")
    assert start["nets"] == 2 and start["epochs"] == 2
    assert refit["up_to"] is True and refit["epochs"] == 1


def test_first_fold_eta_does_not_count_the_start_fit_as_epoch_time():
    """A slow start fit (500 s) before the first epoch printed 'ETA 501 h': the elapsed
    time over the fraction done counted it as one epoch's time (session 34)."""
    p, clock, buf = _lines(interval=0.0)
    p("start", n_splits=5, epochs=100, refit_epochs=100, baselines=["GBLUP"])
    p("fold_start")
    clock.t += 500  # the start's fit
    clock.t += 1
    p("epoch")
    assert buf.getvalue().splitlines()[-1].endswith("% done"), buf.getvalue()  # no rate yet
    for _ in range(9):
        clock.t += 1
        p("epoch")
    # at most 5 x 101 + 100 - 10 = 595 epoch units at 1 s, and 500 s of set-up for each of
    # the 4 folds left and the refit: 3,095 s, not the 500 s x 60 of the old extrapolation
    last = buf.getvalue().splitlines()[-1]
    assert last.endswith("ETA up to 52 min"), last
    p("fold_trained", epochs_run=10)
    p("baseline_done", name="GBLUP", seconds=1.0)
    assert "ETA up to" not in buf.getvalue().splitlines()[-1]  # the epochs are known now


def _timed_fold(p, clock, setup=40.0, epochs=200, second=True):
    """A default fold: the start choice and data preparation before the first epoch, the
    5 cross-fitted networks (epochs network-epochs), a second run on the CNN-GP start, then
    3 baseline fits of 1 s."""
    p("fold_start")
    clock.t += setup
    for run in range(2 if second else 1):
        if run:
            p("cnn_second_start", start="the CNN-GP", gain=20.0)
        for _ in range(epochs):
            clock.t += 0.02
            p("epoch")
    p("fold_trained", epochs_run=epochs // 5, networks=5)
    for b in ("GBLUP", "ridge", "RKHS"):
        clock.t += 1
        p("baseline_done", name=b, seconds=1.0)
    p("fold_done")


def test_after_k_folds_the_eta_is_the_folds_left_at_their_measured_time_plus_a_refit():
    """Wheat, 10 folds of ~50 s that spend most of it before the first epoch: after fold 1
    the log said '37% done, ETA 31 s' with 195 s left (the second run counted 1,000 units
    done; the time before the first epoch was not counted)."""
    p, clock, buf = _lines()
    p("start", n_splits=10, epochs=1000, refit_epochs=1000, nets=5, baselines=["G", "r", "R"])
    _timed_fold(p, clock)  # 40 + 8 + 3 = 51 s
    line = buf.getvalue().splitlines()[-1]
    # 9 folds and the refit at 51 s each: 510 s
    assert p._seconds_left() == pytest.approx(10 * 51)
    assert line.endswith("fold 1/10 done (51 s); 9% done, ETA 8 min"), line
    for _ in range(4):
        _timed_fold(p, clock)
    assert p._seconds_left() == pytest.approx(6 * 51)
    # 255 s of 255 + 306
    assert buf.getvalue().splitlines()[-1].endswith("fold 5/10 done (51 s); 45% done, ETA 5 min")


def test_the_percentage_never_goes_back_and_the_refit_counts_as_a_fold():
    """Mice: 'fold 5/5 done ... 86% done' then 'refit epoch 1 of at most 1000 ... 55% done':
    the refit's share grew from the epochs the folds ran to its maximum when it started."""
    p, clock, buf = _lines(interval=0.0)
    p("start", n_splits=5, epochs=1000, refit_epochs=1000, nets=5, baselines=["G", "r", "R"])
    seen = []
    for k in range(5):
        _timed_fold(p, clock, setup=10.0 * (k + 1), epochs=50 * (k + 1), second=k % 2 == 0)
        seen.append(p.fraction())
    assert seen == sorted(seen)
    assert 0.75 < seen[-1] < 0.9  # the refit: one fold's time of 6
    p("refit_start", epochs=200, n_samples=1000, up_to=True)
    clock.t += 30
    for _ in range(400):
        clock.t += 0.05
        p("epoch")
        seen.append(p.fraction())
    p("refit_done")
    seen.append(p.fraction())
    assert seen == sorted(seen) and seen[-1] == 1.0
    pcts = [int(m) for m in re.findall(r"(\d+)% done", buf.getvalue())]
    assert pcts == sorted(pcts), pcts
    assert max(pcts[:-1]) <= 99


def test_epoch_lines_count_network_epochs_as_the_header_does():
    """The header said 'up to 200 epochs x 5 networks', the lines 'epoch 1 of at most 1000'."""
    p, clock, buf = _lines(interval=0.0)
    p("start", n_splits=2, epochs=1000, refit_epochs=1000, nets=5, baselines=[])
    p("fold_start")
    p("epoch")
    text = buf.getvalue()
    assert "2 folds x (CNN up to 200 epochs x 5 networks)" in text
    assert "fold 1/2: CNN network-epoch 1 of at most 1,000 (200 epochs x 5 networks), " in text
    p, clock, buf = _lines(interval=0.0)
    p("start", n_splits=2, epochs=200, refit_epochs=200, nets=1, baselines=[])
    p("fold_start")
    p("epoch")
    assert "fold 1/2: CNN epoch 1 of at most 200, " in buf.getvalue()


def test_step_eta_weighs_the_steps_by_their_cost():
    """explain: gradxinput done, 'ETA 1.8 s', then integrated gradients took 3 min."""
    p, clock, buf = _lines()
    costs = {"saliency": 1, "gradxinput": 0, "integrated_gradients": 65}
    done = 0
    for i, m in enumerate(costs, 1):
        p("step_start", name=m, index=i, total=3)
        clock.t += 4 * costs[m]
        done += costs[m]
        p("step_done", name=m, index=i, total=3, work_done=done, work_total=66)
    text = buf.getvalue()
    assert "saliency (1/3) done (4.0 s); ETA 4 min" in text  # 65 passes at 4 s
    assert "gradxinput (2/3) done (0.0 s); ETA 4 min" in text
    assert text.splitlines()[-1].endswith("integrated_gradients (3/3) done (4 min)")


def _unit(p, clock, index, model, seconds, info, dataset="small"):
    p("unit_start", index=index, model=model, n_splits=2, **{**info, "dataset": dataset})
    clock.t += seconds
    done = dict(computed=2, resumed=0, seconds=float(seconds), metric="pearson_r", summary={})
    p("unit_done", index=index, model=model, **{**info, "dataset": dataset}, **done)


def test_benchmark_eta_weighs_units_by_their_measured_kind():
    """Baseline units take seconds, CNN units minutes: once each kind has run, the units left
    cost what their kind took (counted as equals, the ETA was far off; session 37)."""
    p, clock, buf = _lines()
    info = dict(total=6, trait="GY", seed=0)
    p("plan", units=[("small", m) for m in ["baselines", "cnn"] * 3])
    _unit(p, clock, 1, "baselines", 2, info)
    # only the baselines are measured: the ETA counts units as equals (2 s per unit)
    assert buf.getvalue().splitlines()[-1].endswith("17% done, ETA 10 s")
    _unit(p, clock, 2, "cnn", 100, info)
    # 2 baseline units (2 s) and 2 CNN units (100 s) left: 204 s, not 4 x 51 s
    assert buf.getvalue().splitlines()[-1].endswith("33% done, ETA 3 min")
    assert p._units_left_seconds() == pytest.approx(204.0)
    p("unit_start", index=3, model="baselines", n_splits=2, dataset="small", **info)
    clock.t += 1
    # this unit's half left (1 s) + 1 baseline unit + 2 CNN units
    assert p._units_left_seconds() == pytest.approx(1.0 + 2.0 + 200.0)


@pytest.mark.parametrize("mode", ["lines", "bar"])
def test_a_worker_folds_report_prints_its_lines_in_both_modes(mode):
    """fit --workers: each fold's lines as its task finishes (lost before session 41), in a
    log (lines) and above the bar in a terminal (a reviewer, session 41)."""
    import io

    out = io.StringIO()
    p = Progress(out, mode=mode)
    p(
        "fold_report",
        index=2,
        total=3,
        seconds=4.0,
        events=[
            ("cnn_second_start", {"start": "the CNN-GP", "gain": 8.2}),
            ("cnn_start_chosen", {"start": "CNN-GP", "other": "CNN-GP",
                                  "mse": {"a": 0.77, "b": 0.72}, "p": 0.0002}),
            ("fold_trained", {"epochs_run": 40, "networks": 5, "seconds": 12.0}),
        ],
    )  # fmt: skip
    text = out.getvalue()
    assert "fold 2/3: REML prefers the CNN-GP as the start (REML log-likelihood +8.2)" in text
    assert "fold 2/3: kept the CNN-GP start (out-of-fold squared error 0.77 on RR-BLUP" in text
    assert "fold 2/3: CNN trained (40 epochs x 5 networks, 12 s)" in text
    assert "fold 2/3 done on a worker (4.0 s)" in text
