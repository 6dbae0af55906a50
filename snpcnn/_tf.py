"""Import TensorFlow without its C++ start-up chatter on the terminal.

TensorFlow 2.21 prints absl/oneDNN/CUDA-stub lines to file descriptor 2 while it
is imported and when devices are first listed; ``TF_CPP_MIN_LOG_LEVEL`` no longer
silences them.  The CLI imports it through :func:`import_tensorflow`, which points
fd 2 at /dev/null for those two steps only (Python exceptions are raised after fd 2
is restored, so real errors still show).  Set ``SNPCNN_TF_LOGS=1`` to see the logs.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["import_tensorflow"]


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
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    tf = None
    try:
        sys.stderr.flush()
        os.dup2(devnull, 2)
        try:
            import tensorflow as tf
        except ImportError:
            tf = None
        else:
            tf.config.list_physical_devices("GPU")
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    if tf is not None:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return tf
