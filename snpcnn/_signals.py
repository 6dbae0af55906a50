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
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "active", "check", "deferred", "install", "reassert"]


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


_installed = False

#: signals whose exception was raised by the handlers below and not yet seen by
#: :func:`check`: an exception raised inside a callback that Python runs without a caller
#: (a garbage-collection callback such as JAX's ``_xla_gc_callback``, a weakref finaliser)
#: is printed as "Exception ignored" and dropped, and the run went on to the end and exited
#: 0 after a SIGTERM (a checking helper, session 47: 1 run in 4)
_pending: list[int] = []


def _raise(signum, frame) -> None:
    _pending.append(signum)
    raise Terminated()


def _interrupt(signum, frame) -> None:
    _pending.append(signum)
    raise KeyboardInterrupt()


def check() -> None:
    """Raise again an interrupt (SIGINT or SIGTERM) whose exception may have been swallowed
    where it was first raised; a no-op unless :func:`install` is in force.  Called at safe
    points of long runs (every training epoch, every progress event, every finished Ray
    task), so a swallowed interrupt costs at most one epoch.

    While an interrupt is already on its way up (a clean-up step in an ``except`` or
    ``finally`` that sends a progress event), it is not raised a second time: that would cut
    the clean-up short (session 47's last read)."""
    if _pending and _installed:
        if isinstance(sys.exc_info()[1], KeyboardInterrupt):
            _pending.clear()
            return
        signum = _pending[0]
        _pending.clear()
        if signum == signal.SIGTERM:
            raise Terminated()
        raise KeyboardInterrupt()


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
    # Ctrl-C: Python's own handler raises KeyboardInterrupt the same way, so it is recorded
    # too (only where it is Python's default: a handler the caller set stays)
    previous_int = None
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        try:
            previous_int = signal.signal(signal.SIGINT, _interrupt)
        except (ValueError, OSError):
            previous_int = None
    _installed = True
    _pending.clear()

    def restore() -> None:
        global _installed
        _installed = False
        _pending.clear()
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
            if previous_int is not None:
                signal.signal(signal.SIGINT, previous_int)
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
