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


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _stat_value(text: str | None, key: str) -> int:
    """The value of ``key`` in a cgroup memory.stat (0 where absent)."""
    for line in (text or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0


def _ancestors(path: str) -> list[str]:
    """``/a/b`` -> ``["/a/b", "/a", ""]`` (the group, its parents, the root)."""
    parts = [p for p in path.strip().split("/") if p]
    return ["/" + "/".join(parts[:k]) if k else "" for k in range(len(parts), -1, -1)]


def _cgroup_left() -> int | None:
    """Bytes the memory cgroups of this process (a container, a batch job) still let it
    take: over its group and every parent, the least of limit minus what the group holds,
    reclaimable page cache (inactive file pages) not counted; cgroup v2 or v1; None where no
    limit is set or none can be read (a Slurm job caps its job group, not the task's)."""
    groups = (_read_text("/proc/self/cgroup") or "").splitlines()
    v2 = [g.split(":", 2)[2] for g in groups if g.startswith("0::")]
    v1 = [
        g.split(":", 2)[2]
        for g in groups
        if g.count(":") >= 2 and "memory" in g.split(":", 2)[1].split(",")
    ]
    # (own group, mount, limit file, usage file, page-cache key); v1 is read where v2 has none
    layouts = (
        (v2, "/sys/fs/cgroup", "memory.max", "memory.current", "inactive_file"),
        (v1, "/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes",
         "total_inactive_file"),
    )  # fmt: skip
    for own, mount, limit_file, usage_file, cache_key in layouts:
        found: list[int] = []
        for rel in _ancestors(own[0]) if own else [""]:
            cap = (_read_text(f"{mount}{rel}/{limit_file}") or "").strip()
            used = (_read_text(f"{mount}{rel}/{usage_file}") or "").strip()
            # v2 writes "max" and v1 a huge number where no limit is set
            if not cap.isdigit() or not used.isdigit() or int(cap) >= 2**62:
                continue
            cache = _stat_value(_read_text(f"{mount}{rel}/memory.stat"), cache_key)
            found.append(max(0, int(cap) - max(0, int(used) - cache)))
        if found:
            return min(found)
    return None


def available_memory() -> int | None:
    """Bytes of memory this process could still take: the kernel's MemAvailable, or less
    where a memory cgroup caps it lower (:func:`_cgroup_left`); None where unknown."""
    have: int | None = None
    for line in (_read_text("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            try:
                have = int(line.split()[1]) * 1024
            except (ValueError, IndexError):
                have = None
            break
    left = _cgroup_left()
    if left is not None:
        have = left if have is None else min(have, left)
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
