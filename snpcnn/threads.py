"""One setting for the number of threads, applied to TensorFlow and to BLAS/OpenMP alike.

``snpcnn fit --threads N`` and ``snpcnn benchmark --threads N`` call :func:`apply_threads`
once, before any network is built; parallel workers (:mod:`snpcnn.executor`) call it at the
start of each task.  It

* sets the environment variables that libraries read when they load
  (:data:`THREAD_VARIABLES`: OpenBLAS, MKL, BLIS, OpenMP, numexpr, and TensorFlow's
  ``TF_NUM_INTRAOP_THREADS`` / ``TF_NUM_INTEROP_THREADS``), so child processes inherit them;
* limits the BLAS and OpenMP pools already loaded through ``threadpoolctl``;
* sets TensorFlow's intra- and inter-op pools (``tf.config.threading``) if TensorFlow is
  imported and its runtime not yet initialised (it cannot change them later: then the
  result says so).

The default is the cores this process may run on (``os.sched_getaffinity``), not the cores
of the machine: a job given 2 cores of a 64-core node uses 2 threads.  On a shared machine
fewer BLAS threads than cores is often faster (an oversubscribed BLAS spins).

:func:`blas_threads` is the context manager the baselines run under: inside it the BLAS
pools use :func:`current_threads` threads, whatever another library set in between.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from snpcnn.errors import InputError, opt

__all__ = [
    "THREAD_VARIABLES",
    "available_cores",
    "available_memory",
    "resolve_threads",
    "apply_threads",
    "current_threads",
    "blas_threads",
    "blas_thread_counts",
]

#: environment variables that bound the threads of BLAS, OpenMP and TensorFlow
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)

_applied: dict[str, Any] = {"n": None, "tensorflow": None}


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def available_memory() -> int | None:
    """Bytes of memory this process could still take: the kernel's MemAvailable, or less
    where a cgroup (a container, a batch job) caps memory lower; None where unknown."""
    have: int | None = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    have = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        have = None
    try:  # cgroup v2
        cap = open("/sys/fs/cgroup/memory.max", encoding="ascii").read().strip()
        used = open("/sys/fs/cgroup/memory.current", encoding="ascii").read().strip()
        if cap != "max":
            left = max(0, int(cap) - int(used))
            have = left if have is None else min(have, left)
    except (OSError, ValueError):
        pass
    return have


#: the most threads a process may ask for, or its cores where it has more: 10^9
#: segfaulted TensorFlow, 10^5 started 29,000 threads and 20 GB before it was killed (a
#: checking helper, session 43)
MAX_THREADS = 1024


def resolve_threads(n: Any = None) -> int:
    """``n`` as a thread count: ``None`` or 0 mean :func:`available_cores`; at most
    :data:`MAX_THREADS`."""
    if n is None:
        return available_cores()
    try:
        k = int(n)
    except (TypeError, ValueError):
        raise InputError(f"threads must be a whole number, got {n!r}") from None
    if k < 0 or (isinstance(n, float) and k != n):
        raise InputError(f"threads must be a whole number >= 1 (0 = all cores), got {n!r}")
    most = max(MAX_THREADS, available_cores())  # a larger node may ask for all its cores
    if k > most:
        raise InputError(
            f"{opt('threads', k)}: at most {most}; this process may use "
            f"{available_cores()} cores ({opt('threads', 0)}: all of them)"
        )
    return k or available_cores()


def apply_threads(n: Any = None) -> dict[str, Any]:
    """Use ``n`` threads (default: the available cores) for BLAS/OpenMP and TensorFlow.

    Returns what was applied: ``{"threads": n, "tensorflow": True | False | None}``
    (``None``: TensorFlow not imported yet, it reads the environment when it starts;
    ``False``: its runtime had already started and keeps its pools).
    """
    n = resolve_threads(n)
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=n)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    tf_state = None
    tf = sys.modules.get("tensorflow")
    if tf is not None and hasattr(tf, "config"):
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
            tf_state = True
        except RuntimeError:  # the runtime already started
            tf_state = (
                tf.config.threading.get_intra_op_parallelism_threads() == n
                and tf.config.threading.get_inter_op_parallelism_threads() == n
            )
    _applied["n"] = n
    _applied["tensorflow"] = tf_state
    return {"threads": n, "tensorflow": tf_state}


def current_threads() -> int:
    """The thread count last applied, else the available cores."""
    return _applied["n"] or available_cores()


@contextmanager
def blas_threads(n: Any = None) -> Iterator[int]:
    """Limit the BLAS pools to ``n`` threads (default :func:`current_threads`) inside."""
    k = resolve_threads(n) if n is not None else current_threads()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield k
        return
    with threadpool_limits(limits=k, user_api="blas"):
        yield k


def blas_thread_counts() -> list[int]:
    """The thread count of every BLAS pool loaded in this process (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return [int(p["num_threads"]) for p in threadpool_info() if p.get("user_api") == "blas"]
