"""One traced training step shared by identically built networks (TensorFlow backend).

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

The batches come as NumPy arrays, from an in-memory array or from streamed rows
(:class:`snpcnn.datapath.EncodedRows`, encoded per batch), so both paths feed the very same
numbers to the very same step.  Other backends than TensorFlow, or models whose variables
differ from the template's, fall back to ``model.fit`` with the same batches.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: templates kept per process (architecture x input shape x head x optimizer settings)
MAX_TEMPLATES = 4

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

    def __init__(self, template) -> None:
        import tensorflow as tf

        self.template = template
        opt = template.optimizer
        opt.build(template.trainable_variables)
        self._fresh = [np.array(v.numpy()) for v in opt.variables]
        self.states: dict[int, list[np.ndarray]] = {}

        def step(xb, yb):
            return template.train_step((xb, yb))

        self._step = tf.function(step, reduce_retracing=True)

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
        for tv, mv in zip(self.template.variables, model.variables):
            tv.assign(mv.value)
        state = self.states.get(id(model), self._fresh)
        for v, s in zip(self.template.optimizer.variables, state):
            v.assign(s)

    def _store(self, model) -> None:
        for tv, mv in zip(self.template.variables, model.variables):
            mv.assign(tv.value)
        self.states[id(model)] = [np.array(v.numpy()) for v in self.template.optimizer.variables]

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
    ) -> list[float]:
        """Train ``model`` on ``(x, y)`` (only the rows ``rows`` of both, if given: no copy
        of ``x`` is made) for ``epochs`` epochs of shuffled minibatches (``rng`` draws each
        epoch's order); returns each epoch's mean training loss, as ``model.fit``'s history
        reports it (regularisation included)."""
        rows = np.arange(len(y)) if rows is None else np.asarray(rows)
        n = len(rows)
        self._load(model)
        losses: list[float] = []
        t = self.template
        try:
            for _ in range(epochs):
                for m in t.metrics:
                    m.reset_state()
                order = rng.permutation(n)
                logs = None
                for s in range(0, n, batch_size):
                    idx = rows[order[s : s + batch_size]]
                    logs = self._step(_batch(x, idx), y[idx])
                losses.append(float(logs["loss"]) if logs is not None else float("nan"))
                if on_epoch is not None:
                    on_epoch()
        finally:
            self._store(model)
        return losses


def _key(config, input_shape, head: str, n_out: int, purpose: str) -> Any:
    model = config.model if isinstance(config.model, str) else id(config.model)
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
    """The cached :class:`SharedStepper` for this architecture, or None where it cannot
    be used (another Keras backend than TensorFlow).

    ``prepare(template)`` is applied once to a newly built template before it is compiled:
    it must make the template's trainable variables and constraints those of the networks
    it will train (e.g. freeze the linear path and hold its output weights).  Templates are
    cached per ``purpose`` (one name per ``prepare``), architecture, input shape, head and
    optimizer settings.
    """
    from snpcnn.backend import backend_name

    if backend_name() != "tensorflow":
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
    stepper = SharedStepper(template)
    _TEMPLATES[key] = stepper
    while len(_TEMPLATES) > MAX_TEMPLATES:
        _TEMPLATES.popitem(last=False)
    return stepper
