"""Shared fixtures: where the real public data and the shipped example data live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# automatic genotype caches written by tests go to a throw-away directory, not ~/.cache
os.environ["SNPCNN_CACHE_DIR"] = tempfile.mkdtemp(prefix="snpcnn-test-cache-")

# pytest -n N: each worker's BLAS and TensorFlow get their share of the cores.  N workers with
# every core each oversubscribe them, and an oversubscribed OpenBLAS spins: a 360-cell
# multi-trait GBLUP fit took 0.1 s on one thread and 0.5-11 s on two beside another busy
# process (session 34).  Tests that set threads themselves (apply_threads) still do.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    from snpcnn.threads import apply_threads, available_cores

    apply_threads(max(1, available_cores() // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
EXAMPLE_DATA = REPO / "example_data"


def _gpu_available() -> bool:
    try:
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    except Exception:  # pragma: no cover - no TF at all
        return False


def pytest_collection_modifyitems(config, items):
    if any(item.get_closest_marker("gpu") for item in items) and not _gpu_available():
        skip = pytest.mark.skip(reason="no GPU on this machine")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` next to the repository (skip the test if it is not there)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def example_data() -> Path:
    """The data shipped in `example_data/`."""
    if not (EXAMPLE_DATA / "wheat.vcf.gz").exists():
        pytest.skip("example_data/ is not populated yet")
    return EXAMPLE_DATA
