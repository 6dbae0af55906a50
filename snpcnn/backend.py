"""Which Keras backend runs the networks, on which device, and how to make it deterministic.

snpcnn builds and trains its genomic CNNs with Keras 3 only, so they run on any Keras
backend.  TensorFlow is the default and the only one the interpretation tools
(:mod:`snpcnn.explain`) and the 2D image workflow support.  JAX (``KERAS_BACKEND=jax``)
runs ``snpcnn fit``, ``predict``, ``benchmark``, :func:`snpcnn.cross_validate` and the
estimators without TensorFlow installed: on a GPU machine that ships JAX with CUDA but
not TensorFlow, that is how snpcnn uses the GPU (``benchmarks/gpu_check.sh``).

Nothing here imports TensorFlow unless it is the backend.
"""

from __future__ import annotations

import contextlib
import functools
import os

__all__ = [
    "backend_name",
    "device_description",
    "enable_determinism",
    "full_float32_matmul",
    "gpu_available",
    "jax_compilation_cache",
    "predict_array",
]


def backend_name() -> str:
    """The Keras backend in use ('tensorflow', 'jax', ...)."""
    import keras

    return keras.backend.backend()


def gpu_available() -> bool:
    """True if the Keras backend sees a GPU."""
    return _gpus()[0] > 0


def _gpus() -> tuple[int, str]:
    """(number of GPUs the backend sees, name of the first)."""
    b = backend_name()
    if b == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if not gpus:
            return 0, ""
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        except Exception:  # pragma: no cover - driver-dependent
            name = "GPU"
        return len(gpus), name
    if b == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        return len(gpus), (getattr(gpus[0], "device_kind", "GPU") if gpus else "")
    return 0, ""  # pragma: no cover - other backends are not supported


def device_description() -> str:
    """'GPU (name)' if the backend sees a GPU, else 'CPU (N cores)'; other backends than
    TensorFlow are named, e.g. 'CPU (2 cores), Keras backend jax'."""
    n, name = _gpus()
    if n:
        text = f"GPU ({name})" + (f" x{n}" if n > 1 else "")
    else:
        text = f"CPU ({os.cpu_count()} cores)"
    b = backend_name()
    return text if b == "tensorflow" else f"{text}, Keras backend {b}"


def enable_determinism() -> None:
    """Make the backend's ops deterministic where it can be switched on at run time.

    TensorFlow: ``enable_op_determinism``.  JAX on CPU is deterministic as is.  JAX on a
    GPU may not be (autotuned kernels, atomic reductions); XLA's deterministic-ops flag has
    to be in ``XLA_FLAGS`` before JAX starts, and its name changes between XLA versions
    (an unknown flag aborts JAX), so snpcnn does not set it: see docs/models.md.

    Both: float32 matrix products in full float32 (:func:`full_float32_matmul`).  JAX: a
    compilation cache (:func:`jax_compilation_cache`).
    """
    b = backend_name()
    if b == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(Exception):
            tf.config.experimental.enable_op_determinism()
    elif b == "jax":
        jax_compilation_cache()
    full_float32_matmul()


@functools.cache
def jax_compilation_cache() -> str:
    """Let JAX reuse compiled steps across the many networks of one fit; returns the folder.

    Keras compiles each new network's training and prediction steps with XLA, and a
    cross-validated fit builds dozens of networks of the same architecture and shapes.
    JAX's persistent compilation cache keys compiled programs by their content, so the
    second network of a shape reuses the first one's program (README command 1 on JAX, 2 CPU
    cores: 186 s without, 134 s with; docs/models.md, "Keras backends").  Where the user set
    ``JAX_COMPILATION_CACHE_DIR``, JAX uses that folder (and keeps it between runs);
    otherwise snpcnn uses a temporary folder that is removed when the process ends.  The
    programs are the same either way, so are the results.
    """
    import atexit
    import shutil
    import tempfile

    import jax

    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="snpcnn_jax_cache_")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        with contextlib.suppress(Exception):
            jax.config.update("jax_compilation_cache_dir", folder)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
            jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder


def full_float32_matmul() -> None:
    """Float32 matrix products in full float32.  On Ampere and later GPUs TensorFlow and JAX
    otherwise round their inputs to TF32 (10 mantissa bits), which would move the CNN-GP
    start's kernel predictions (``KernelPrediction``) by about 1 % of the trait's SD.  CPUs
    have no TF32: nothing changes there.  Called by every seeded fit and by
    :func:`snpcnn.models.load_model`."""
    b = backend_name()
    if b == "tensorflow":
        import tensorflow as tf

        with contextlib.suppress(Exception):
            tf.config.experimental.enable_tensor_float_32_execution(False)
    elif b == "jax":
        import jax

        with contextlib.suppress(Exception):
            jax.config.update("jax_default_matmul_precision", "highest")


def pad_rows_pow2(xb):
    """``xb`` (rows first) padded with zero rows to a power of two rows, so that a compiled
    forward pass sees few shapes; the caller keeps the first ``len(xb)`` outputs."""
    import numpy as np

    n = len(xb)
    size = 1 << max(0, n - 1).bit_length()
    if size == n:
        return xb
    return np.concatenate([xb, np.zeros((size - n, *xb.shape[1:]), xb.dtype)])


_JAX_FORWARD: dict = {}


def _jax_forward(model):
    """A function ``xb -> model(xb, training=False)`` compiled once per model by JAX, for
    inputs padded to a power of two rows (few shapes, so few compilations).  The model's
    current weights are read at every call.  Cached per model, weakly."""
    import weakref

    key = id(model)
    hit = _JAX_FORWARD.get(key)
    if hit is not None and hit[0]() is model:
        return hit[1]
    import jax
    import numpy as np

    kwargs = {"training": False} if getattr(model, "_call_has_training_arg", True) else {}
    # the cache holds the model weakly (no reference from these closures either), so a
    # model's compiled program goes when the model goes
    ref = weakref.ref(model, lambda _r, key=key: _JAX_FORWARD.pop(key, None))

    def run(trainable, non_trainable, xb):
        out, _ = ref().stateless_call(trainable, non_trainable, xb, **kwargs)
        return out

    jitted = jax.jit(run)

    def forward(xb):
        m = ref()
        xb = np.asarray(xb)
        n = len(xb)
        out = jitted(
            [v.value for v in m.trainable_variables],
            [v.value for v in m.non_trainable_variables],
            pad_rows_pow2(xb),
        )
        return jax.tree_util.tree_map(lambda o: np.asarray(o)[:n], out)

    _JAX_FORWARD[key] = (ref, forward)
    return forward


def predict_array(model, x, batch_size: int = 256):
    """``model(x, training=False)`` in batches of ``batch_size``, as a NumPy array.

    What ``model.predict(x, batch_size=...)`` returns, without compiling a predict
    function for every model: snpcnn trains many small networks (folds, seeds,
    cross-fitted parts) that each predict a few times, and ``model.predict`` traces a
    new ``tf.function`` for each, which TensorFlow reports as excessive retracing.

    On JAX a model called eagerly runs op by op, each op compiled for its shapes (a 10-fold
    wheat fit compiled over 900 programs that way, 42 s of its 100 s), so there the forward
    pass is one compiled program per model, fed batches padded to a power of two rows.
    """
    import keras
    import numpy as np

    n = len(x)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    forward = _jax_forward(model) if backend_name() == "jax" else None
    parts = []
    for s in range(0, n, batch_size):
        if forward is not None:
            out = forward(x[s : s + batch_size])
        else:
            out = model(x[s : s + batch_size], training=False)
        if isinstance(out, (list, tuple)):
            out = [keras.ops.convert_to_numpy(o) for o in out]
        else:
            out = keras.ops.convert_to_numpy(out)
        parts.append(out)
    if not parts:
        shape = model.output_shape
        if isinstance(shape, list):
            return [np.zeros((0, *s[1:]), np.float32) for s in shape]
        return np.zeros((0, *shape[1:]), np.float32)
    if isinstance(parts[0], list):
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return np.concatenate(parts)
