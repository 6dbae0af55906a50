"""The readers' output matrix: allocated without numpy's transparent-huge-page advice.

numpy asks the kernel for transparent huge pages on every large allocation
(``madvise(MADV_HUGEPAGE)``).  Where the kernel's THP defrag setting is ``madvise`` (the
default on many distributions, and on this project's machines), the first write to such an
array can stall in direct memory compaction: the same single-threaded pgenlib read into a
500 MB array took 0.17 s to 1.07 s in fresh processes, against 0.34-0.41 s with plain 4 KiB
pages (5,000 x 100,000 PLINK fileset; docs/benchmarks.md, "Genotype loading").  The
readers fill their result in one pass, so plain pages cost little and make the load time
predictable.
"""

from __future__ import annotations

import numpy as np

__all__ = ["empty_int8"]


def _madvise_switch():
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # numpy < 2
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return None
    return _set_madvise_hugepage


def empty_int8(shape: tuple[int, ...]) -> np.ndarray:
    """``np.empty(shape, int8)`` in C order, without numpy's huge-page advice."""
    switch = _madvise_switch()
    if switch is None:
        return np.empty(shape, dtype=np.int8)
    previous = switch(False)
    try:
        return np.empty(shape, dtype=np.int8)
    finally:
        switch(previous)
