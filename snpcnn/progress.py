"""Progress of every long step on stderr: a tqdm bar in a terminal, timestamped lines in a log.

:class:`Progress` is the callback that ``snpcnn fit``, ``benchmark`` and ``explain``
pass as ``progress=`` to :func:`snpcnn.cv.cross_validate`,
:func:`snpcnn.bench.run_benchmark` and :func:`snpcnn.explain.snp_importance`.  They
call it as ``progress(kind, **info)``; the kinds it understands are

* cross-validation: ``start`` (n_splits, epochs, refit_epochs, baselines),
  ``fold_start``, ``epoch``, ``cnn_second_start`` (start, gain or basis: the start
  choice cross-fits the convolutions again, on the proposed start), ``cnn_start_chosen``
  (start, other, mse, p: the start the out-of-fold comparison kept), ``fold_trained`` (epochs_run),
  ``baseline_start`` /
  ``baseline_done`` (name, seconds), ``fold_done``, ``refit_start`` (epochs,
  n_samples), ``refit_done``;
* benchmark: ``dataset``, ``unit_start``, ``cv`` (a cross-validation event of the
  unit, its kind in ``event``), ``fold``, ``unit_done``, ``writing``;
* any long step: ``step_start`` / ``step_done`` (name, seconds, optional
  index/total), e.g. reading genotypes or one attribution method.

Where stderr is a terminal a tqdm bar follows the work (epochs and baseline fits of
each fold, then the refit).  Anywhere else (a log file, a pipe, a cluster job) it
writes lines such as::

    [2026-12-01 19:40:12] fold 3/10: GBLUP done (2.1 s); 28% done, ETA 4 min

at least one per fold, baseline fit, refit and step; epoch lines only when nothing
was written for ``interval`` seconds (30 by default).  ``SNPCNN_PROGRESS=bar``,
``lines`` or ``off`` overrides the choice (``off``: silent).
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import numpy as np

__all__ = ["Progress", "RateLimiter", "eta_seconds", "format_duration"]

MODES = ("auto", "bar", "lines", "off")


def format_duration(seconds: float) -> str:
    """'0.4 s', '42 s', '4 min', '1 h 05 min'."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"{minutes:.0f} min"
    h, m = divmod(int(round(minutes)), 60)
    return f"{h} h {m:02d} min"


def eta_seconds(done: float, total: float, elapsed: float) -> float | None:
    """Time left if the rest goes at the rate so far; None before anything is done."""
    if total <= 0 or done <= 0 or elapsed <= 0:
        return None
    return elapsed * max(total - done, 0.0) / done


class RateLimiter:
    """Allows a line only when ``interval`` seconds have passed since the last line written."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic):
        self.interval = float(interval)
        self.clock = clock
        self.last: float | None = None

    def wrote(self) -> None:
        """Record that a line was just written."""
        self.last = self.clock()

    def ready(self) -> bool:
        return self.last is None or self.clock() - self.last >= self.interval


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


#: the events of a fold that the console prints as lines, and that a fold run as a
#: ``--workers`` task records and sends back with its result (``fold_report``)
FOLD_REPORT_EVENTS = ("cnn_second_start", "cnn_start_chosen", "fold_trained")


def _second_start_text(start: str, gain: float | None, basis: str | None) -> str:
    why = f" (REML log-likelihood +{gain:.1f})" if gain is not None else ""
    said = basis or f"REML prefers {start} as the start{why}"
    return f"{said}; cross-fitting the convolutions on it too, to compare out-of-fold errors"


def _start_chosen_text(start: str, other: str, mse: dict | None, p: float | None) -> str:
    errs = list((mse or {}).values())
    said = (
        f" (out-of-fold squared error {errs[0]:.4g} on RR-BLUP vs {errs[1]:.4g} on the "
        f"{other}; one-sided p {p:.2g})"
        if len(errs) == 2 and p is not None
        else ""
    )
    return f"kept the {start} start{said}"


def _trained_text(epochs_run: int | None, networks: int, seconds: float | None) -> str:
    # epochs of each network (the default trains 5 cross-fitted networks side by side)
    each = f" x {networks} networks" if networks > 1 else ""
    run = f"{epochs_run} epochs{each}" if epochs_run is not None else ""
    took = format_duration(seconds) if seconds is not None else ""
    inside = ", ".join(x for x in (run, took) if x)
    return f"CNN trained ({inside})" if inside else "CNN trained"


class Progress:
    """The ``progress(kind, **info)`` callback that renders a bar or log lines.

    Parameters
    ----------
    stream : file, optional
        Where to write (default: ``sys.stderr`` at the time of each write).
    mode : {"auto", "bar", "lines", "off"}
        ``auto``: a bar if ``stream`` is a terminal, else lines; the environment
        variable ``SNPCNN_PROGRESS`` overrides ``auto``.
    interval : float
        Epoch lines (lines mode) only after this many seconds without any line.
    clock, now : callables
        Monotonic seconds and wall-clock time (replaceable in tests).
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        mode: str = "auto",
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], _dt.datetime] = _dt.datetime.now,
    ):
        if mode == "auto":
            env = os.environ.get("SNPCNN_PROGRESS", "").strip().lower()
            if env in MODES[1:]:
                mode = env
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        self._stream = stream
        if mode == "auto":
            mode = "bar" if _isatty(self.stream) else "lines"
        self.mode = mode
        self.clock = clock
        self.now = now
        self.limiter = RateLimiter(interval, clock)
        # parallel fold tasks finish often: a line at most every tasks_interval seconds
        self.tasks_interval = min(10.0, float(interval))
        self._tasks_t = -float("inf")
        self.bar = None
        self.t0 = clock()
        # outer level (benchmark units): (units finished, units in all, label of this unit)
        self.units_done = 0
        self.units_total = 0
        self.unit_label = ""
        # the benchmark's units in run order, (dataset, model) each, and the measured seconds
        # per computed fold of each kind: the ETA weighs the units left by their own costs
        self.plan: list[tuple[str, str]] = []
        self.kind_fold_seconds: dict[tuple[str, str], list[float]] = {}
        self.splits_of: dict[str, int] = {}
        self.unit_key: tuple[str, str] | None = None
        self.in_unit = False
        self.unit_t0 = self.t0
        self._reset_cv()

    # ------------------------------------------------------------------ output
    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    def line(self, text: str) -> None:
        """Write one line (timestamped in lines mode; above the bar in bar mode)."""
        if self.mode == "off":
            return
        if self.mode == "lines":
            stamp = self.now().strftime("%Y-%m-%d %H:%M:%S")
            text = f"[{stamp}] {text}"
        if self.bar is not None:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()
        self.limiter.wrote()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # ------------------------------------------------------------------ state
    def _reset_cv(self) -> None:
        self.n_splits = 0
        self.nets = 1
        self.epochs = 0
        self.refit_epochs = 0
        self.n_baselines = 0
        self.split_index = 0
        self.folds_done = 0
        self.epochs_in_fold = 0
        self.cnn_done = False  # the current fold's CNN is trained
        self.baselines_in_fold = 0
        self.epochs_run: list[int] = []  # epochs each finished fold's CNN ran (early stopping)
        self.fold_t0 = self.cv_t0 = self.refit_t0 = self.clock()
        self.refitting = False
        # the current fold's first epoch: when it ended, and epochs since (for the ETA)
        self._first_epoch_t: float | None = None
        self._epochs_since_first = 0
        self.refit_finished = False
        self.refit_planned = False  # the start announced a refit (its epochs may shrink to 0)
        # a fold whose start choice cross-fits the convolutions twice (once on each start):
        # the first run's epochs, counted as done and as extra work of the fold
        self.extra_now = 0.0
        self.cnn_on = ""  # the start of the current fold's second run, if any
        # measured: seconds of each fold that ran here (a resumed fold ran nothing), and
        # whether the current fold ran anything
        self.fold_seconds: list[float] = []
        self.ran_in_fold = False
        self._shown = 0.0  # the highest fraction reported: it never goes back

    def _fold_units(self) -> tuple[float, float]:
        """(done, total) work units of the current fold, or of the refit while it runs.

        Used only until a fold has been timed: its CNN's epochs (those the finished
        folds ran, the maximum before any finished) plus one unit per baseline fit, plus
        a first run's epochs where the start choice trains the convolutions twice.
        """
        if self.refitting:
            cap = float(self.refit_epochs)
            return min(float(self.epochs_in_fold), cap), cap or 1.0
        cap = max(self.epochs, 0)
        expect = min(cap, float(np.mean(self.epochs_run))) if self.epochs_run else cap
        total = expect + self.n_baselines + self.extra_now
        cnn = expect if self.cnn_done else min(float(self.epochs_in_fold), expect)
        done = self.extra_now + cnn + self.baselines_in_fold
        return min(done, total), total or 1.0

    def _seconds_left(self) -> float | None:
        """Seconds left in this cross-validation, from the folds timed so far (None before
        one finished): each fold left and the refit take their mean time (data preparation,
        the start's fit, the CNN's epochs and the baseline fits included), the current one
        that mean less its time so far.  The refit fits no baseline but runs on all samples:
        on wheat (599 samples, 10 folds) it took about one fold's time."""
        if not self.fold_seconds:
            return None
        fold = float(np.mean(self.fold_seconds))
        if self.refit_finished:
            return 0.0
        if self.refitting:
            return max(fold - (self.clock() - self.refit_t0), 0.0)
        in_fold = self.split_index > self.folds_done
        current = max(fold - (self.clock() - self.fold_t0), 0.0) if in_fold else 0.0
        later = max(self.n_splits - (self.split_index if in_fold else self.folds_done), 0)
        return current + (later + (1 if self.refit_planned else 0)) * fold

    def _cv_fraction(self) -> float:
        """Fraction of this cross-validation done; never lower than one reported before.

        Once a fold has been timed: time so far / (time so far + seconds left).  Before:
        the folds and the refit as equal parts, the current one by its work units.
        """
        if not self.n_splits:
            return 0.0
        if self.refit_finished or (self.folds_done >= self.n_splits and not self.refit_planned):
            f = 1.0
        else:
            left, spent = self._seconds_left(), self.clock() - self.cv_t0
            if left is not None and spent + left > 0:
                f = spent / (spent + left)
            else:
                parts = self.n_splits + (1 if self.refit_planned else 0)
                done = float(self.folds_done)
                if self.refitting or self.split_index > self.folds_done:
                    d, t = self._fold_units()
                    done = (self.n_splits if self.refitting else self.folds_done) + d / t
                f = done / parts
            f = min(f, 0.99)  # not finished: never 100%
        self._shown = max(self._shown, f)
        return self._shown

    def _sync_bar(self) -> None:
        if self.bar is None:
            return
        self.bar.update(100 * self._cv_fraction() - self.bar.n)
        eta = self._cv_eta()
        self.bar.set_postfix_str(eta or "", refresh=False)

    def fraction(self) -> float:
        """Fraction of all the work done (benchmark units included)."""
        cv = self._cv_fraction()
        if self.units_total:
            return min(1.0, (self.units_done + cv) / self.units_total)
        return cv

    def _cv_eta(self) -> str:
        """'ETA 4 min' for this cross-validation ('ETA up to ...' while the first fold's CNN
        trains), or '' where nothing can be estimated yet or nothing is left."""
        f = self._cv_fraction()
        if f >= 1:
            return ""
        if self._first_cnn_running():
            return self._first_cnn_eta()
        left = self._seconds_left()
        if left is None:  # a fold's CNN is trained, none finished: the rate so far
            left = eta_seconds(f, 1.0, self.clock() - self.cv_t0)
        return f"ETA {format_duration(left)}" if left else ""

    def eta_text(self) -> str:
        f = self.fraction()
        pct = f"{100 * f:.0f}% done"
        if self.units_total:  # benchmark units: by their measured costs, else as equals
            eta = self._units_left_seconds()
            if eta is None:
                eta = eta_seconds(f, 1.0, self.clock() - self.t0)
            return pct if eta is None or f >= 1 else f"{pct}, ETA {format_duration(eta)}"
        eta = self._cv_eta()
        return f"{pct}, {eta}" if eta else pct

    def _unit_cost(self, key: tuple[str, str]) -> float | None:
        """Expected seconds of a unit: its kind's measured seconds per fold (same dataset and
        model; else the same model on another dataset) times its dataset's folds."""
        dataset, model = key
        per_fold = self.kind_fold_seconds.get(key)
        if not per_fold:
            per_fold = [s for (_d, m), v in self.kind_fold_seconds.items() if m == model for s in v]
        splits = self.splits_of.get(dataset) or self.n_splits
        if not per_fold or not splits:
            return None
        return float(np.mean(per_fold)) * splits

    def _units_left_seconds(self) -> float | None:
        """Seconds left in the benchmark where every unit left (and this one) has a measured
        kind: a baseline unit and a CNN unit differ by orders of magnitude, so counting them
        as equals put the ETA far off.  None where a kind is not measured yet."""
        if not self.plan or len(self.plan) != self.units_total:
            return None
        running = self.in_unit and self.unit_key is not None
        costs = [self._unit_cost(k) for k in self.plan[self.units_done + running :]]
        if any(c is None for c in costs):
            return None
        now = 0.0
        if running:
            cost = self._unit_cost(self.unit_key)
            if cost is None:
                return None
            now = max(0.0, cost - (self.clock() - self.unit_t0))
        return now + float(sum(costs))

    def _first_cnn_running(self) -> bool:
        """The first fold's CNN is training: no fold has told how many epochs it takes."""
        return (
            not self.units_total
            and bool(self.epochs)
            and not self.epochs_run
            and self.split_index >= 1
            and not self.cnn_done
            and not self.refitting
        )

    def _first_cnn_eta(self) -> str:
        """ETA while the first fold's CNN trains: its epochs at the rate measured since its
        first epoch, plus the time before that epoch (the start's fit, data preparation) once
        per fold left and for the refit.  The elapsed time over the fraction done counted
        that set-up as epoch time: a slow start printed 'ETA 501 h' (session 34).  Until a
        fold ends, every fold is assumed to run to the epoch limit: an upper bound."""
        first, since = self._first_epoch_t, self._epochs_since_first
        if first is None or since < 1:
            return ""  # one epoch gives no rate
        rate = (self.clock() - first) / since
        setup = max(0.0, first - self.fold_t0 - rate)
        done, total = self._fold_units()
        units = total - done + (self.n_splits - self.split_index) * (self.epochs + self.n_baselines)
        units += self.refit_epochs
        folds_left = self.n_splits - self.split_index + (1 if self.refit_epochs else 0)
        eta = max(units, 0.0) * rate + setup * folds_left
        return f"ETA up to {format_duration(eta)}"

    def _fold_name(self) -> str:
        name = f"fold {self.split_index}/{self.n_splits}"
        return f"{self.unit_label}: {name}" if self.unit_label else name

    def _describe(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_description_str(what, refresh=False)

    # ------------------------------------------------------------------ events
    def __call__(self, kind: str, **info: Any) -> None:
        from snpcnn import _signals

        _signals.check()  # an interrupt swallowed in a callback stops the run here
        if self.mode == "off":
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(**info)

    # cross-validation
    def _on_start(self, n_splits=0, epochs=0, refit_epochs=0, baselines=(), nets=1, **_):
        self.close()
        self._reset_cv()
        self.nets = max(int(nets), 1)
        self.n_splits = int(n_splits)
        self.epochs = int(epochs)
        self.refit_epochs = int(refit_epochs)
        self.refit_planned = self.refit_epochs > 0
        self.n_baselines = len(baselines)
        parts = []
        if self.epochs:
            per_net = self.epochs // self.nets
            nets = f" x {self.nets} networks" if self.nets > 1 else ""
            parts.append(f"CNN up to {per_net} epochs{nets}")
        if baselines:
            parts.append(", ".join(baselines))
        plan = f"{self.n_splits} folds x ({' + '.join(parts) or 'nothing'})"
        if self.refit_epochs:
            plan += ", then the refit on all samples"
        if self.mode == "bar":
            from tqdm import tqdm

            # in percent of this cross-validation; the ETA is this module's (the postfix),
            # not tqdm's rate so far
            self.bar = tqdm(
                total=100,
                desc=self.unit_label or "cross-validation",
                file=self.stream,
                dynamic_ncols=True,
                leave=not self.unit_label,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]",
            )
        else:
            self.line(f"{self.unit_label + ': ' if self.unit_label else ''}{plan}")

    def _on_fold_start(self, **_):
        self.split_index += 1
        self.epochs_in_fold = 0
        self.cnn_done = False
        self.baselines_in_fold = 0
        self.ran_in_fold = False
        self.extra_now = 0.0
        self.cnn_on = ""
        self.fold_t0 = self.clock()
        self._first_epoch_t, self._epochs_since_first = None, 0
        self._describe(self._fold_name() + (": CNN" if self.epochs else ""))
        self._sync_bar()

    def _on_epoch(self, **_):
        self.epochs_in_fold += 1
        self.ran_in_fold = True
        if not self.refitting:
            if self._first_epoch_t is None:
                self._first_epoch_t = self.clock()
            else:
                self._epochs_since_first += 1
        if self.refitting:
            cap = self.refit_epochs
            where = (f"{self.unit_label}: " if self.unit_label else "") + "refit"
            t0 = self.refit_t0
        else:
            cap = self.epochs
            where = self._fold_name() + ": CNN"
            if self.cnn_on:
                where += f" on {self.cnn_on} start"
            t0 = self.fold_t0
        self._sync_bar()
        if self.mode == "lines" and self.limiter.ready():
            # each network's epoch calls back: with several, count network-epochs and say so
            n = self.epochs_in_fold
            if self.nets > 1:
                of = f" of at most {cap:,} ({cap // self.nets} epochs x {self.nets} networks)"
                what = f"network-epoch {n:,}{of if n <= cap else ''}"
            else:
                what = f"epoch {n:,}{f' of at most {cap:,}' if n <= cap else ''}"
            self.line(f"{where} {what}, {format_duration(self.clock() - t0)}; {self.eta_text()}")

    def _on_cnn_second_start(self, start="the CNN-GP", gain=None, basis=None, **_):
        """The start choice cross-fits the convolutions a second time, on the other start
        (``snpcnn.training.train_cnn``): the fold's CNN work grows by about one run."""
        if self.refitting:
            where = (f"{self.unit_label}: " if self.unit_label else "") + "refit"
        else:
            where = self._fold_name()
        if not self.refitting:  # the first run's epochs are done work of the fold
            self.extra_now += self.epochs_in_fold
            self.epochs_in_fold = 0
            self.cnn_on = start
        self._sync_bar()
        self._describe(f"{where}: CNN on {start} start")
        self.line(f"{where}: {_second_start_text(start, gain, basis)}")

    def _on_cnn_start_chosen(self, start="RR-BLUP", other="", mse=None, p=None, **_):
        """Which start the out-of-fold comparison of the two pipelines kept."""
        where = "refit" if self.refitting else self._fold_name()
        if self.refitting and self.unit_label:
            where = f"{self.unit_label}: {where}"
        self.line(f"{where}: {_start_chosen_text(start, other, mse, p)}")

    def _on_fold_trained(self, epochs_run=None, networks=1, **_):
        ran = self.epochs_in_fold if epochs_run is None else int(epochs_run) * max(1, networks)
        self.epochs_run.append(min(ran, self.epochs) if self.epochs else ran)
        self.cnn_done = True
        self._sync_bar()
        took = self.clock() - self.fold_t0
        self.line(f"{self._fold_name()}: {_trained_text(epochs_run, networks, took)}")

    def _on_fold_report(self, index=0, total=0, events=(), seconds=None, **_):
        """A fold run as a ``--workers`` task has finished: what it said while it ran (its
        start choice, its training), which the serial run prints as it goes; before session
        41 these lines were lost with --workers (a checking helper, session 40).  Printed in
        both modes (above the bar in a terminal), as the serial run prints them."""
        where = f"fold {index}/{total}"
        if self.unit_label:
            where = f"{self.unit_label}: {where}"
        for kind, info in events:
            if kind == "cnn_second_start":
                text = _second_start_text(
                    info.get("start", "the CNN-GP"), info.get("gain"), info.get("basis")
                )
            elif kind == "cnn_start_chosen":
                text = _start_chosen_text(
                    info.get("start", "RR-BLUP"),
                    info.get("other", ""),
                    info.get("mse"),
                    info.get("p"),
                )
            elif kind == "fold_trained":
                text = _trained_text(
                    info.get("epochs_run"), info.get("networks", 1), info.get("seconds")
                )
            else:
                continue
            self.line(f"{where}: {text}")
        if seconds is not None:
            self.line(f"{where} done on a worker ({format_duration(seconds)})")

    def _on_baseline_start(self, name="baseline", **_):
        self._describe(f"{self._fold_name()}: {name}")

    def _on_baseline_done(self, name="baseline", seconds=None, **_):
        if self.epochs and not self.cnn_done:  # a caller that does not send fold_trained
            self.cnn_done = True
        self.baselines_in_fold += 1
        self.ran_in_fold = True
        self._sync_bar()
        took = f" ({format_duration(seconds)})" if seconds is not None else ""
        if self.mode == "lines":
            self.line(f"{self._fold_name()}: {name} done{took}; {self.eta_text()}")

    def _on_fold_done(self, **_):
        if self.split_index == self.folds_done:  # a caller that does not send fold_start
            self.split_index += 1
        if self.epochs and not self.cnn_done:
            self.epochs_run.append(min(self.epochs_in_fold, self.epochs) or self.epochs)
        self.folds_done = self.split_index
        ran = self.ran_in_fold
        if ran:  # a fold resumed from disk ran nothing: not a fold's time
            self.fold_seconds.append(self.clock() - self.fold_t0)
            self.ran_in_fold = False
        self.extra_now = 0.0
        self.cnn_done = False
        self.epochs_in_fold = 0
        self.baselines_in_fold = 0
        self._sync_bar()
        if self.mode == "lines" and ran:
            # a fold that ran nothing here (run as a --workers task, or resumed from disk)
            # prints no "done (0.0 s)": the task lines or the resume count said it
            self.line(
                f"{self._fold_name()} done ({format_duration(self.clock() - self.fold_t0)}); "
                f"{self.eta_text()}"
            )
        if self.folds_done >= self.n_splits and not self.refit_epochs and self.unit_label:
            self.close()

    def _on_refit_start(self, epochs=None, n_samples=None, up_to=False, **_):
        self.refitting = True
        self.epochs_in_fold = 0
        self.refit_t0 = self.clock()
        if epochs is not None and self.refit_epochs:
            # the refit runs the folds' median epoch (per network): the work left shrinks
            self.refit_epochs = min(self.refit_epochs, int(epochs) * self.nets)
        self._sync_bar()
        self._describe((f"{self.unit_label}: " if self.unit_label else "") + "refit")
        if self.mode == "lines":
            on = f" on {n_samples:,} samples" if n_samples else ""
            nets = f" x {self.nets} networks" if self.nets > 1 else ""
            most = "up to " if up_to else ""
            ep = f", {most}{epochs} epochs{nets}" if epochs is not None else ""
            self.line(f"{self.unit_label + ': ' if self.unit_label else ''}refit{on}{ep}")

    def _on_refit_done(self, **_):
        self.refitting = False
        self.refit_finished = True
        self._sync_bar()
        if self.mode == "lines":
            took = format_duration(self.clock() - self.refit_t0)
            self.line(f"{self.unit_label + ': ' if self.unit_label else ''}refit done ({took})")
        if self.unit_label:
            self.close()

    # any long step
    def _on_step_start(self, name="step", index=None, total=None, **_):
        self._step_t0 = self.clock()
        counted = index is not None and bool(total)
        if counted and (index <= 1 or not hasattr(self, "_steps_t0")):
            self._steps_t0 = self._step_t0
        if self.mode == "bar" and counted:
            if self.bar is None:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=int(total),
                    initial=int(index) - 1,
                    file=self.stream,
                    unit="step",
                    dynamic_ncols=True,
                    bar_format="{desc}: {n}/{total}|{bar}| [{elapsed}<{remaining}]",
                )
            self._describe(str(name))
            return
        of = f" ({index}/{total})" if counted else ""
        self.line(f"{name}{of} ...")

    def _on_step_done(
        self,
        name="step",
        seconds=None,
        index=None,
        total=None,
        detail="",
        work_done=None,
        work_total=None,
        **_,
    ):
        if seconds is None:
            seconds = self.clock() - getattr(self, "_step_t0", self.clock())
        counted = index is not None and bool(total)
        if self.mode == "bar" and counted and self.bar is not None:
            self.bar.update(1)
            if index >= total:
                self.close()
            return
        of = f" ({index}/{total})" if counted else ""
        eta = ""
        if counted:
            # steps of unequal cost (explain: integrated gradients takes steps + 1 gradient
            # passes, saliency one) give their costs: the ETA is the cost left at the rate so far
            done, all_ = (index, total) if work_total is None else (work_done, work_total)
            left = eta_seconds(done, all_, self.clock() - getattr(self, "_steps_t0", self.t0))
            eta = f"; ETA {format_duration(left)}" if left else ""
        self.line(f"{name}{of} done ({format_duration(seconds)}){detail}{eta}")

    # benchmark
    def _on_dataset(self, dataset="", n_samples=0, n_snps=0, **_):
        took = ""
        if hasattr(self, "_step_t0"):
            took = f" (loaded in {format_duration(self.clock() - self._step_t0)})"
        self.line(f"{dataset}: {n_samples:,} samples with a phenotype x {n_snps:,} SNPs{took}")

    def _on_plan(self, units=(), **_):
        """The benchmark's units in run order, ``(dataset, model)`` each (for the ETA)."""
        self.plan = [(str(d), str(m)) for d, m in units]

    def _on_unit_start(
        self, index=1, total=1, dataset="", trait="", seed="", model="", n_splits=0, **_
    ):
        self.units_total = int(total)
        self.units_done = int(index) - 1
        self.unit_label = f"[{index}/{total}] {dataset} {trait} seed {seed} {model}"
        self.unit_key = (str(dataset), str(model))
        self.in_unit = True
        self.unit_t0 = self.clock()
        if n_splits:
            self.splits_of[str(dataset)] = int(n_splits)
        self._reset_cv()

    def _on_cv(self, event="", **info):
        if event != "fold_done":  # the benchmark sends fold_done as "fold"
            self(event, **info)

    def _on_fold(self, **info):
        self._on_fold_done(**info)

    def _on_unit_done(self, **info):
        self.close()
        self.units_done = int(info.get("index", self.units_done + 1))
        self.in_unit = False
        computed, seconds = int(info.get("computed") or 0), info.get("seconds")
        if computed > 0 and seconds is not None and self.unit_key is not None:
            # resumed folds ran nothing here: the time is the computed folds'
            self.kind_fold_seconds.setdefault(self.unit_key, []).append(float(seconds) / computed)
        self._reset_cv()
        summary = info.get("summary", {})
        best = ", ".join(f"{m} {mean:.3f}" for m, (mean, _sd) in summary.items())
        resumed = f", {info['resumed']} resumed" if info.get("resumed") else ""
        self.line(
            f"[{info['index']}/{info['total']}] {info['dataset']} {info['trait']} "
            f"seed {info['seed']} {info['model']}: {info['computed']} folds run{resumed} "
            f"in {info['seconds']:.1f} s; mean {info['metric']}: {best}; {self.eta_text()}"
        )
        self.unit_label = ""

    def _on_tasks(
        self,
        dataset="",
        done=0,
        total=0,
        running=0,
        queued=0,
        resumed=0,
        eta_seconds=None,
        unit=None,
        **_,
    ):
        """Parallel runs (``--workers``): fold tasks done / running / queued."""
        last = done >= total
        if self.mode == "bar":
            if self.bar is None and not last:
                from tqdm import tqdm

                self.bar = tqdm(
                    total=int(total),
                    desc=f"{dataset}: fold tasks",
                    file=self.stream,
                    unit="fold",
                    dynamic_ncols=True,
                )
            if self.bar is not None:
                self.bar.update(int(done) - self.bar.n)
                self.bar.set_postfix_str(f"{running} running, {queued} queued", refresh=True)
                if last:
                    self.close()
            return
        if unit is not None and not last and self.clock() - self._tasks_t < self.tasks_interval:
            return
        self._tasks_t = self.clock()
        eta = (
            f", ETA {format_duration(eta_seconds)}" if eta_seconds is not None and not last else ""
        )
        was = f" ({resumed} resumed)" if resumed else ""
        self.line(
            f"{dataset}: folds {done}/{total} done{was}, {running} running, {queued} queued{eta}"
        )

    def _on_writing(self, out="", **_):
        self.close()
        self.line(f"all units done in {format_duration(self.clock() - self.t0)}; writing {out}/")
