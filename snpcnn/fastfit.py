"""One traced training step shared by identically built networks (TensorFlow and JAX).

snpcnn trains many small networks of one architecture: the default CNN's five
cross-fitted networks per training part, in every fold, every refit and every tuning trial.
``model.fit`` costs each of them two fixed overheads that dwarf the arithmetic on genomic
data sets of a few hundred to a few thousand rows:

* it traces a new ``tf.function`` for every model object (about 0.6 s per network);
* it builds a new ``tf.data`` pipeline and iterator for every call and every epoch, which
  embeds the training rows in the graph (about 10 ms per epoch).

A :class:`SharedStepper` keeps one *template* network per architecture and input shape
(cached for the life of the process) whose ``train_step`` is traced once.  Training network
``k`` copies its variables (and its own optimizer state) into the template, runs the epochs
batch by batch through the traced step, and copies the result back.  Every network keeps its
own initial weights, optimizer state and shuffling, so the networks stay independent; the
batches are drawn by a NumPy generator the caller seeds, so a fixed seed gives identical
results on CPU.  The step is Keras' own ``train_step`` (same loss, regularisation, optimizer
and constraints as ``model.fit``).

Calling a traced function costs about as much as a small network's step, so the rest of the
per-step work runs inside traced calls too: an epoch's full batches are staged as one array
(in chunks of at most :data:`STAGE_BYTES`) and stepped through in a loop inside one call, the
last, partial batch included; a network's weights and optimizer state move in and out of the
template in one traced call each; and :meth:`SharedStepper.predict` runs the template's
traced forward pass.  The batches, their order and the step are the same as one call per
batch, and the results bit-identical (tests/test_fastfit.py; README command 1 gives the very
same metrics.csv and predictions.csv, ``benchmarks/bench_readme_fit.py``).

The batches come as NumPy arrays, from an in-memory array or from streamed rows
(:class:`snpcnn.datapath.EncodedRows`, encoded per stage), so both paths feed the very same
numbers to the very same step.  On Keras's JAX backend :class:`JaxSharedStepper` does the
same with one compiled program per architecture (Keras's JAX step is stateless: it takes
every network's variables as arguments).  Other backends, or models whose variables differ
from the template's, fall back to ``model.fit``.
"""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from snpcnn import _signals
from snpcnn.backend import pad_rows_pow2

log = logging.getLogger(__name__)

#: templates kept per process (architecture x input shape x head x optimizer settings)
MAX_TEMPLATES = 4

#: most bytes of training rows staged for one traced call of several steps
STAGE_BYTES = 32 * 2**20

_TEMPLATES: OrderedDict[Any, SharedStepper] = OrderedDict()


def _batch(x, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``x`` as a float32 array (streamed rows are encoded here)."""
    if isinstance(x, np.ndarray):
        return x[idx]
    from snpcnn.datapath import EncodedRows

    if isinstance(x, EncodedRows):
        return x.pre.transform_block(x.genotypes.batch(x.rows[idx]))
    return np.asarray(x[idx])


class SharedStepper:
    """A compiled template network whose traced ``train_step`` trains look-alike networks.

    Build it with :func:`stepper_for`.  :meth:`train` trains one network for some epochs;
    the network's optimizer state lives in ``self.states`` between calls (keyed by the
    network object), so a network can be trained in several chunks, as
    :func:`snpcnn.training._crossfit` does.
    """

    def __init__(self, template, jit_compile: bool = False) -> None:
        import tensorflow as tf

        self.template = template
        opt = template.optimizer
        opt.build(template.trainable_variables)
        self._fresh = [tf.constant(v.numpy()) for v in opt.variables]
        # keyed by the network itself, weakly: an entry goes with its network, so a new
        # network that Python gives a dead one's id() never inherits its optimizer state
        self.states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        t_vars, o_vars = list(template.variables), list(opt.variables)

        # a network's weights and optimizer state in and out of the template in one traced
        # call each (the networks' own tf.Variables are arguments: traced once per template)
        def load(weights, state):
            for tv, w in zip(t_vars, weights):
                tv.assign(w)
            for ov, s in zip(o_vars, state):
                ov.assign(s)
            return tf.constant(0)

        def store(weights):
            for tv, w in zip(t_vars, weights):
                w.assign(tv.value)
            return [tf.identity(ov.value) for ov in o_vars]

        self._load_fn = tf.function(load, autograph=False)
        self._store_fn = tf.function(store, autograph=False)

        def step(xb, yb):
            return template.train_step((xb, yb))

        # ``jit_compile`` (``snpcnn fit --xla``): the steps and the forward pass by XLA, which
        # compiles once per distinct batch shape and gives other last digits than TF's kernels
        xla = bool(jit_compile)
        self._step = tf.function(step, reduce_retracing=True, jit_compile=xla)

        def steps(xs, ys, xl=None, yl=None, reset=False):
            # full batches xs[0], xs[1], ... then the partial batch (xl, yl) if given, in
            # order, inside one traced call: the very same train_step as ``step`` (Keras'
            # own steps_per_execution loops the same way); ``reset`` starts a new epoch
            if reset:
                for m in template.metrics:
                    m.reset_state()
            logs = template.train_step((xs[0], ys[0]))

            def body(i, logs):
                return i + 1, template.train_step((xs[i], ys[i]))

            _, logs = tf.while_loop(lambda i, _: i < tf.shape(xs)[0], body, (tf.constant(1), logs))
            if xl is not None:
                logs = template.train_step((xl, yl))
            return logs

        self._steps = tf.function(steps, reduce_retracing=True, autograph=False, jit_compile=xla)
        self._forward = tf.function(
            lambda xb: template(xb, training=False),
            reduce_retracing=True,
            autograph=False,
            jit_compile=xla,
        )
        # (a weak reference to) the network whose weights the template holds since train()
        self._holds: Callable[[], Any] | None = None

    def fits(self, model) -> bool:
        """True if ``model``'s variables line up with the template's (shapes, trainability)."""
        t, m = self.template, model
        if len(t.variables) != len(m.variables) or len(t.trainable_variables) != len(
            m.trainable_variables
        ):
            return False
        return all(
            tuple(a.shape) == tuple(b.shape) and a.dtype == b.dtype
            for a, b in zip(t.variables, m.variables)
        ) and all(
            tuple(a.shape) == tuple(b.shape)
            for a, b in zip(t.trainable_variables, m.trainable_variables)
        )

    def _load(self, model) -> None:
        self._holds = None
        self._load_fn([mv.value for mv in model.variables], self.states.get(model, self._fresh))

    def _store(self, model) -> None:
        self.states[model] = self._store_fn([mv.value for mv in model.variables])

    def train(
        self,
        model,
        x,
        y: np.ndarray,
        epochs: int,
        batch_size: int,
        rng: np.random.Generator,
        on_epoch: Callable[[], None] | None = None,
        rows: np.ndarray | None = None,
        steps_per_call: int | None = None,
    ) -> list[float]:
        """Train ``model`` on ``(x, y)`` (only the rows ``rows`` of both, if given: no copy
        of ``x`` is made) for ``epochs`` epochs of shuffled minibatches (``rng`` draws each
        epoch's order); returns each epoch's mean training loss, as ``model.fit``'s history
        reports it (regularisation included).

        The full batches of an epoch are staged in groups of up to ``steps_per_call`` (by
        default as many as fit in :data:`STAGE_BYTES`) and each group runs in one traced
        call, the epoch's last, partial batch inside its last group's call.  The batches,
        their order and the step are the same for every ``steps_per_call`` (1 = one call
        per batch)."""
        rows = np.arange(len(y)) if rows is None else np.asarray(rows)
        n = len(rows)
        n_full = n // batch_size
        if steps_per_call is None:
            row_bytes = 4 * int(np.prod(x.shape[1:]))
            steps_per_call = STAGE_BYTES // max(row_bytes * batch_size, 1)
        per_call = max(1, int(steps_per_call))
        self._load(model)
        losses: list[float] = []
        t = self.template
        try:
            for _ in range(epochs):
                _signals.check()  # an interrupt swallowed in a callback (e.g. a gc one)
                order = rng.permutation(n)
                logs = None
                if per_call == 1 or n_full == 0:
                    for m in t.metrics:
                        m.reset_state()
                    for s in range(0, n, batch_size):
                        idx = rows[order[s : s + batch_size]]
                        logs = self._step(_batch(x, idx), y[idx])
                else:
                    for b in range(0, n_full, per_call):
                        nb = min(per_call, n_full - b)
                        idx = rows[order[b * batch_size : (b + nb) * batch_size]]
                        xb, yb = _batch(x, idx), y[idx]
                        xb = xb.reshape((nb, batch_size) + xb.shape[1:])
                        yb = yb.reshape((nb, batch_size) + yb.shape[1:])
                        tail = {}
                        if b + nb == n_full and n > n_full * batch_size:
                            last = rows[order[n_full * batch_size :]]
                            tail = {"xl": _batch(x, last), "yl": y[last]}
                        logs = self._steps(xb, yb, reset=b == 0, **tail)
                losses.append(float(logs["loss"]) if logs is not None else float("nan"))
                if on_epoch is not None:
                    on_epoch()
        finally:
            self._store(model)
        self._holds = weakref.ref(model)
        return losses

    def predict(self, model, x, batch_size: int) -> np.ndarray:
        """``model``'s predictions for the rows of ``x`` (an array or streamed rows), in
        batches of ``batch_size``, through the template's traced forward pass: what
        :func:`snpcnn.datapath.predict_rows` returns, without running the network eagerly.

        Meant right after :meth:`train` of ``model`` (the template still holds its weights);
        otherwise ``model``'s weights are loaded first.  Do not change ``model``'s weights
        between the two calls."""
        if self._holds is None or self._holds() is not model:
            self._load(model)
            self._holds = weakref.ref(model)
        n = len(x)
        parts = [
            np.asarray(self._forward(_batch(x, np.arange(s, min(s + batch_size, n)))))
            for s in range(0, n, max(1, int(batch_size)))
        ]
        if not parts:
            return np.zeros((0, *self.template.output_shape[1:]), np.float32)
        return np.concatenate(parts)


def _pow2_at_least(n: int) -> int:
    """The smallest power of two >= ``n`` (1 for n <= 1)."""
    return 1 << max(0, int(n) - 1).bit_length()


def _flat_layers(model):
    """Every layer inside ``model``, nested models' included."""
    seen = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop()
        seen.append(layer)
        stack.extend(getattr(layer, "layers", []))
    return seen


class JaxSharedStepper(SharedStepper):
    """The JAX counterpart of :class:`SharedStepper`: one compiled program per architecture.

    On Keras's JAX backend ``model.fit`` jit-compiles a new program for every model object
    (its step is a closure over the model), and another for every distinct batch shape: a
    10-fold wheat fit of the default compiled about 1,000 programs, and on a GPU compiling
    and dispatching those tiny networks took longer than training them (docs/bench/
    full_runs.md, "GPU").  Keras's JAX step is *stateless*: ``train_step(state, batch)``
    takes every variable's value as an argument and returns the new values.  So one
    compiled step of a template network trains every network of its architecture, fed each
    network's own weights, optimizer state and batches.

    Shapes are kept few so that the compiled programs are reused across networks, folds and
    data sets of similar size:

    * an epoch's batches are staged as one ``(slots, batch, ...)`` array, ``slots`` a power
      of two, and stepped through by a loop *inside* the program whose trip count is an
      argument, so every epoch of every network of a fit runs the same program;
    * a regression model whose loss ignores missing targets (:class:`MaskedMSE`,
      ``MaskedMAE``) and that has no batch-statistics layer (``BatchNormalization``) gets
      its last, partial batch padded to a full one with missing targets: the padded rows
      contribute neither loss nor gradient, so the step is the partial batch's step.  Other
      models step the partial batch on its own (one program per distinct size);
    * predictions run in batches padded to a power of two.

    The batches and their order are those of :class:`SharedStepper` (the same ``rng``
    draws), so a fixed seed gives identical results on CPU.  What differs from ``model.fit``
    is only the order of floating-point sums inside a batch, the dropout masks of padded
    batches, and the epoch's reported mean loss, which counts padded rows.
    """

    def __init__(self, template, input_shape, n_out: int) -> None:
        import jax

        self.template = template
        opt = template.optimizer
        opt.build(template.trainable_variables)
        # the loss, the metrics and every layer built, as model.fit does before its first step
        example = (
            np.zeros((1, *tuple(int(d) for d in input_shape)), np.float32),
            np.zeros((1, int(n_out)), np.float32),
        )
        if hasattr(template, "_symbolic_build"):
            template._symbolic_build(data_batch=example)
        else:  # pragma: no cover - older Keras: one step builds the same state
            template.train_on_batch(*example)
            opt.build(template.trainable_variables)
        for m in template.metrics:
            m.reset_state()
        self._fresh = [v.value for v in opt.variables]
        self._fresh_metrics = [v.value for v in template.metrics_variables]
        self.states: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        import keras

        loss_name = type(getattr(template, "loss", None)).__name__
        self.pad_partial = loss_name in ("MaskedMSE", "MaskedMAE") and not any(
            isinstance(layer, keras.layers.BatchNormalization) for layer in _flat_layers(template)
        )

        def _tuple(state):
            return tuple(tuple(part) for part in state)

        def run(state, xs, ys, count):
            # steps xs[0] .. xs[count - 1]: one program for every trip count
            def body(i, carry):
                state, _ = carry
                logs, state = template.train_step(state, (xs[i], ys[i]))
                return _tuple(state), logs["loss"]

            return jax.lax.fori_loop(0, count, body, (_tuple(state), np.float32(0.0)))

        def one(state, xb, yb):
            logs, state = template.train_step(state, (xb, yb))
            return _tuple(state), logs["loss"]

        def forward(trainable, non_trainable, xb):
            out, _ = template.stateless_call(trainable, non_trainable, xb, training=False)
            return out

        self._run = jax.jit(run)
        self._one = jax.jit(one)
        self._forward_fn = jax.jit(forward)

    def _values(self, model):
        return (
            tuple(v.value for v in model.trainable_variables),
            tuple(v.value for v in model.non_trainable_variables),
        )

    def train(
        self,
        model,
        x,
        y: np.ndarray,
        epochs: int,
        batch_size: int,
        rng: np.random.Generator,
        on_epoch: Callable[[], None] | None = None,
        rows: np.ndarray | None = None,
        steps_per_call: int | None = None,
    ) -> list[float]:
        """As :meth:`SharedStepper.train`: ``epochs`` epochs of the batches ``rng`` draws.
        An epoch's batches are staged in groups of at most ``steps_per_call`` (by default as
        many as fit in :data:`STAGE_BYTES`), each group one call of the compiled loop."""
        rows = np.arange(len(y)) if rows is None else np.asarray(rows)
        n = len(rows)
        bs = int(batch_size)
        n_full = n // bs
        partial = n - n_full * bs
        if steps_per_call is None:
            row_bytes = 4 * int(np.prod(x.shape[1:]))
            steps_per_call = STAGE_BYTES // max(row_bytes * bs, 1)
        per_call = max(1, int(steps_per_call))
        padded = self.pad_partial and partial > 0
        n_steps = n_full + (1 if padded else 0)
        # slots per call: a power of two, so that fits of similar size share the program
        slots = min(_pow2_at_least(max(n_steps, 1)), _pow2_at_least(per_call))
        if slots > per_call:
            slots = max(1, slots // 2)
        trainable, non_trainable = self._values(model)
        state = (trainable, non_trainable, tuple(self.states.get(model, self._fresh)), ())
        y2 = np.asarray(y, np.float32)
        # one staging buffer per call of train(), its batches filled row-contiguously: a
        # padded last batch's missing rows keep NaN targets (and stale, ignored inputs)
        xs = np.zeros((slots, bs, *x.shape[1:]), np.float32)
        ys = np.full((slots, bs, *y2.shape[1:]), np.nan, np.float32)
        flat_x, flat_y = xs.reshape(slots * bs, -1), ys.reshape(slots * bs, -1)
        losses: list[float] = []
        try:
            for _ in range(epochs):
                _signals.check()  # an interrupt swallowed in a callback (JAX's gc one)
                order = rng.permutation(n)
                state = (*state[:3], tuple(self._fresh_metrics))
                loss = None
                for first in range(0, n_steps, slots):
                    count = min(slots, n_steps - first)
                    idx = rows[order[first * bs : (first + count) * bs]]
                    flat_x[: len(idx)] = _batch(x, idx).reshape(len(idx), -1)
                    flat_y[: len(idx)] = y2[idx].reshape(len(idx), -1)
                    flat_y[len(idx) : count * bs] = np.nan
                    state, loss = self._run(state, xs, ys, np.int32(count))
                if partial and not padded:
                    idx = rows[order[n_full * bs :]]
                    state, loss = self._one(state, _batch(x, idx), y2[idx])
                losses.append(float(loss) if loss is not None else float("nan"))
                if on_epoch is not None:
                    on_epoch()
        finally:
            for v, value in zip(model.trainable_variables, state[0]):
                v.assign(value)
            for v, value in zip(model.non_trainable_variables, state[1]):
                v.assign(value)
            self.states[model] = list(state[2])
        return losses

    def predict(self, model, x, batch_size: int) -> np.ndarray:
        """``model``'s predictions for the rows of ``x``, in batches of ``batch_size``, each
        padded to a power of two rows (the padded rows' outputs are dropped)."""
        trainable, non_trainable = self._values(model)
        n = len(x)
        step = max(1, int(batch_size))
        parts = []
        for s in range(0, n, step):
            idx = np.arange(s, min(s + step, n))
            xb = pad_rows_pow2(_batch(x, idx))
            parts.append(np.asarray(self._forward_fn(trainable, non_trainable, xb))[: len(idx)])
        if not parts:
            return np.zeros((0, *self.template.output_shape[1:]), np.float32)
        return np.concatenate(parts)


def architecture_key(model: Any) -> Any:
    """What identifies an architecture for the template cache: its content, never a name
    alone. A file is keyed by its path and bytes (a notebook that edits it between fits
    gets the edited network), a dict by its canonical JSON (``id()`` of a dict is reused
    once it is freed, so a loop over dict architectures got an earlier one's template), a
    preset by its name."""
    import hashlib
    import json
    import os
    from collections.abc import Mapping
    from pathlib import Path

    if isinstance(model, Mapping):
        return ("dict", json.dumps(model, sort_keys=True, default=repr))
    if isinstance(model, str | os.PathLike):
        path = Path(model)
        if path.is_file():
            return ("file", str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest())
        return ("name", str(model))
    return ("object", id(model))


def _key(config, input_shape, head: str, n_out: int, purpose: str) -> Any:
    model = architecture_key(config.model)
    overrides = repr(sorted((config.model_overrides or {}).items()))
    return (
        purpose,
        model,
        overrides,
        tuple(int(d) for d in input_shape),
        head,
        int(n_out),
        float(config.learning_rate),
        bool(config.jit_compile),
    )


def stepper_for(
    config,
    input_shape,
    head: str,
    n_out: int,
    prepare: Callable[[Any], None],
    purpose: str = "default",
):
    """The cached :class:`SharedStepper` (TensorFlow) or :class:`JaxSharedStepper` (JAX) for
    this architecture, or None where it cannot be used (another Keras backend).

    ``prepare(template)`` is applied once to a newly built template before it is compiled:
    it must make the template's trainable variables and constraints those of the networks
    it will train (e.g. freeze the linear path and hold its output weights).  Templates are
    cached per ``purpose`` (one name per ``prepare``), architecture, input shape, head and
    optimizer settings.
    """
    from snpcnn.backend import backend_name

    backend = backend_name()
    if backend not in ("tensorflow", "jax"):
        return None
    key = _key(config, input_shape, head, n_out, purpose)
    stepper = _TEMPLATES.get(key)
    if stepper is not None:
        _TEMPLATES.move_to_end(key)
        stepper.states.clear()
        return stepper
    from snpcnn.models import compile_model
    from snpcnn.training import _build

    template = _build(config, input_shape, head, n_out, "shared_template")
    prepare(template)
    compile_model(template, head, learning_rate=config.learning_rate)
    if backend == "jax":
        stepper = JaxSharedStepper(template, input_shape, n_out)
    else:
        stepper = SharedStepper(template, jit_compile=config.jit_compile)
    _TEMPLATES[key] = stepper
    while len(_TEMPLATES) > MAX_TEMPLATES:
        _TEMPLATES.popitem(last=False)
    return stepper
