"""SIGTERM as an interrupt, for the command line.

``kill``, ``timeout``, a scheduler's time limit (SLURM, PBS) and ``docker stop`` send SIGTERM.
Python's default then ends the process at once: no ``finally`` runs, so an output being
written was left as a hidden temporary folder, and a local Ray's helper processes outlived the
run (a checking helper, session 40).  :func:`install` makes SIGTERM raise :class:`Terminated`,
a :class:`KeyboardInterrupt`, so that it takes Ctrl-C's path: the same clean-up, and one
``Error:`` line.  Ray's start in this process would install its own fatal-signal handler
(it prints a stack dump, then passes the signal on): the executor asks Ray not to
(``RAY_DISABLE_FAILURE_SIGNAL_HANDLER``) while this handler is in force, and calls
:func:`reassert` when the command first waits for Ray, in case it did.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "active", "deferred", "install", "reassert"]


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
    if not _main_thread() or signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
        return lambda: None  # an ignored SIGTERM (a launcher's choice) stays ignored
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


def active() -> bool:
    """Whether :func:`install` is in force (the command line)."""
    return _installed


def reassert() -> None:
    """Install the handler again where a library replaced it at the C level (Ray's); a no-op
    unless :func:`install` is in force, or off the main thread."""
    if _installed and _main_thread():
        try:
            signal.signal(signal.SIGTERM, _raise)
        except (ValueError, OSError):
            pass


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then act on them as usual (main thread;
    elsewhere a plain block): for steps that must not stop half way, such as swapping a
    finished results folder for the old one (stopped between its two renames, both were
    lost).  The signals' Python handlers are swapped for one that only records them:
    blocking them with ``pthread_sigmask`` held them in the main thread only, and the kernel
    gave them to another thread (numpy's, TensorFlow's), whose delivery still interrupted the
    block (a review, session 40)."""
    if not _main_thread():
        yield
        return
    got: list[int] = []

    def hold(signum, frame) -> None:
        got.append(signum)

    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            saved[sig] = signal.signal(sig, hold)
        except (ValueError, OSError):
            pass
    ok = False
    try:
        yield
        ok = True
    finally:
        for sig, handler in saved.items():
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass
    if ok and got:  # act on the first signal held, as its own handler would have
        handler = saved.get(got[0])
        if callable(handler):
            handler(got[0], None)  # raises KeyboardInterrupt / Terminated
        elif handler == signal.SIG_DFL:
            signal.raise_signal(got[0])
