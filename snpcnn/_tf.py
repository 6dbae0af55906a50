"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow 2.21 prints absl/oneDNN/CUDA-stub lines to file descriptor 2 while it
is imported and when devices are first listed; neither ``TF_CPP_MIN_LOG_LEVEL`` nor
``TF_ENABLE_ONEDNN_OPTS`` silences them.  The CLI imports it through
:func:`import_tensorflow`, which points fd 2 at /dev/null for those two steps only
(Python exceptions are raised after fd 2 is restored, so real errors still show).
``import snpcnn`` installs :func:`quiet_tensorflow_import`, so that the Python API
(``snpcnn.cross_validate``, the estimators, ...) imports TensorFlow the same way,
whenever Keras or the user first imports it.  Set ``SNPCNN_TF_LOGS=1`` to see the
logs.  ``import snpcnn`` also sets ``TF_CPP_MIN_LOG_LEVEL=3`` unless the user set it.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import logging
import os
import sys

__all__ = ["import_tensorflow", "quiet_tensorflow_import", "tensorflow_only"]


@contextlib.contextmanager
def _fd2_silenced():
    """Point file descriptor 2 at /dev/null inside the block (C++ logs included)."""
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietLoader(importlib.abc.Loader):
    """Wraps TensorFlow's own loader: runs its import (and the first device listing)
    with fd 2 silenced; everything else is the wrapped loader's."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        with _fd2_silenced():
            self._loader.exec_module(module)
            with contextlib.suppress(Exception):
                module.config.list_physical_devices("GPU")
        logging.getLogger("tensorflow").setLevel(logging.ERROR)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` with the other finders and hands back its spec with a
    :class:`_QuietLoader`; any other module is left to them."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or os.environ.get("SNPCNN_TF_LOGS"):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def quiet_tensorflow_import() -> None:
    """Make a later ``import tensorflow`` (by Keras or anyone) quiet on stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    if not any(isinstance(f, _QuietTensorFlowFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowFinder())


def import_tensorflow():
    """TensorFlow, imported quietly; None where it is not installed (another Keras
    backend, such as JAX, then runs the networks: see :mod:`snpcnn.backend`)."""
    if os.environ.get("KERAS_BACKEND", "tensorflow").strip().lower() not in ("", "tensorflow"):
        return None
    if "tensorflow" in sys.modules or os.environ.get("SNPCNN_TF_LOGS"):
        try:
            import tensorflow as tf
        except ImportError:
            return None
        return tf
    tf = None
    with _fd2_silenced():
        try:
            import tensorflow as tf
        except ImportError:
            tf = None
        else:
            tf.config.list_physical_devices("GPU")
    if tf is not None:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tf


def tensorflow_only(what: str, backend: str | None = None) -> str | None:
    """Why ``what`` (``snpcnn explain``, ``snpcnn images``) cannot run in this process, or
    None: it needs Keras's TensorFlow backend, and TensorFlow installed.  One message names
    both fixes where both are needed (the two messages sent a user without TensorFlow from
    one to the other: a checking helper, session 42)."""
    import importlib.util

    if backend is None:
        import keras

        backend = keras.backend.backend()
    try:
        installed = importlib.util.find_spec("tensorflow") is not None
    except (ValueError, AttributeError):  # sys.modules["tensorflow"] = None: blocked
        installed = False
    if backend == "tensorflow" and installed:
        return None
    steps = []
    if not installed:
        steps.append("install TensorFlow (pip install 'tensorflow>=2.21')")
    if backend != "tensorflow":
        steps.append("run it without KERAS_BACKEND (or with KERAS_BACKEND=tensorflow)")
    return (
        f"{what} needs Keras's TensorFlow backend (the default); this process runs "
        f"the '{backend}' backend"
        + ("" if installed else " and has no TensorFlow")
        + ": "
        + ", then ".join(steps)
        + "; fit, predict and benchmark also run on JAX"
    )
