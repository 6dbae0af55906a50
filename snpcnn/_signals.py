"""SIGTERM as an interrupt, for the command line.

``kill``, ``timeout``, a scheduler's time limit (SLURM, PBS) and ``docker stop`` send SIGTERM.
Python's default then ends the process at once: no ``finally`` runs, so an output being
written was left as a hidden temporary folder, and a local Ray's helper processes outlived the
run (a checking helper, session 40).  :func:`install` makes SIGTERM raise :class:`Terminated`,
a :class:`KeyboardInterrupt`, so that it takes Ctrl-C's path: the same clean-up, and one
``Error:`` line.  Ray installs its own fatal-signal handler when it starts, so the executor
calls :func:`reassert` once Ray is up.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

__all__ = ["Terminated", "install", "reassert"]


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


_installed = False


def _raise(signum, frame) -> None:
    raise Terminated()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install() -> Callable[[], None]:
    """Route SIGTERM to :class:`Terminated` (main thread only); returns what restores the
    previous handler."""
    global _installed
    if not _main_thread():
        return lambda: None
    try:
        previous = signal.signal(signal.SIGTERM, _raise)
    except (ValueError, OSError):  # no signals here (an embedded interpreter)
        return lambda: None
    _installed = True

    def restore() -> None:
        global _installed
        _installed = False
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        except (ValueError, OSError, TypeError):
            pass

    return restore


def reassert() -> None:
    """Install the handler again where a library replaced it at the C level (Ray's); a no-op
    unless :func:`install` is in force, or off the main thread."""
    if _installed and _main_thread():
        try:
            signal.signal(signal.SIGTERM, _raise)
        except (ValueError, OSError):
            pass
