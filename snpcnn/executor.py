"""Units of work and one executor that runs them, serially or as Ray tasks.

``snpcnn benchmark`` and ``snpcnn tune`` describe their work the same way: a
list of :class:`Unit` (data set, trait, repeat, fold, model, seed or trial),
each with a stable :attr:`Unit.key`.  :func:`run_units` runs a function over
them

* **serially**, in this process, when neither ``workers`` nor ``ray_address``
  is given: Ray is then not even imported, and nothing changes;
* as **Ray tasks** otherwise: on a local Ray started for the run
  (``workers`` CPUs, no dashboard) and shut down afterwards, or on an existing
  cluster (``ray_address``, else the ``RAY_ADDRESS`` environment variable).

What every task shares (the genotypes above all) is passed in ``shared``: each
object is sent once, never pickled per task.  A genotype matrix memory-mapped
from a snpcnn cache (``snpcnn convert``) travels as its path, which every node
must see (a shared file system); anything else goes once into Ray's object
store (``ray.put``) and is read there without a copy.

Threads are pinned in every task (BLAS through threadpoolctl and the
``*_NUM_THREADS`` variables, TensorFlow through ``TF_NUM_INTRAOP_THREADS`` /
``TF_NUM_INTEROP_THREADS``, set before TensorFlow starts in the worker), so N
tasks on N cores do not oversubscribe them.  Per-unit seeds come from the unit,
not from the process, so a unit gives the same result wherever it runs.

Results come back in unit order.  ``done(unit)`` lets the caller return a stored
result (resume: the unit is not run) and ``on_result(unit, result)`` is called
in this process as each unit finishes (the caller stores it at once), so a run
whose workers die keeps everything finished.  Ray also reruns a task whose
worker died (``max_retries``).

**Resume** is one mechanism for ``snpcnn benchmark`` and ``snpcnn tune``: a
:class:`UnitStore` keeps each finished unit's result as one JSON file, stamped with
a hash of everything that determines it (:func:`content_hash`); ``--resume`` reads
back the files whose stamp matches and runs the rest.  (A tune's hyperparameter
trials are stored by Optuna itself, in its journal file next to the unit files.)
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snpcnn import _signals
from snpcnn.errors import CLI_MODE, InputError, SnpcnnError, opt

__all__ = [
    "Unit",
    "UnitStore",
    "content_hash",
    "Executor",
    "run_units",
    "cross_validate_parallel",
    "run_fold",
    "pin_threads",
    "THREAD_VARIABLES",
]

log = logging.getLogger("snpcnn.executor")

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

#: seconds to wait for a Ray address to accept a connection
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, order=True)
class Unit:
    """One independent piece of work.

    Every field is optional; :attr:`key` names the unit from the fields that
    are set, e.g. ``"wheat/GY_E1/GBLUP/seed0/r0/f3"``.  ``data`` carries any
    extra, small, picklable payload the unit function needs (not part of the key).
    """

    dataset: str = ""
    trait: str = ""
    model: str = ""
    seed: int | None = None
    repeat: int | None = None
    fold: int | None = None
    trial: int | None = None
    data: Any = None

    @property
    def key(self) -> str:
        parts = [self.dataset, self.trait, self.model]
        for prefix, value in (
            ("seed", self.seed),
            ("r", self.repeat),
            ("f", self.fold),
            ("trial", self.trial),
        ):
            if value is not None:
                parts.append(f"{prefix}{value}")
        return "/".join(str(p) for p in parts if p != "")

    def __str__(self) -> str:
        return self.key or "unit"


def to_json(o: Any) -> Any:
    """``json.dumps`` default for the results units return (numpy scalars and arrays, paths)."""
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def content_hash(obj: Any, length: int = 20) -> str:
    """A stable hash of ``obj`` (sorted-key JSON): the stamp of a stored unit's inputs."""
    text = json.dumps(obj, sort_keys=True, default=to_json)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


class UnitStore:
    """Finished units on disk: the resume mechanism of ``benchmark`` and ``tune``.

    Each unit's result is one file ``<directory>/<name>.json`` holding
    ``{"key": stamp, "result": result}``, written atomically as the unit finishes (so a
    killed run loses only the units in flight).  ``stamp`` is a :func:`content_hash` of
    everything that determines the result (data, folds, settings); :meth:`get` returns a
    stored result only if its stamp equals the one asked for, so a changed config or input
    is recomputed, never mixed in.  ``key`` is the store's default stamp.
    """

    def __init__(self, directory: str | os.PathLike, key: str | None = None):
        self.directory = Path(directory)
        self.key = key

    def path(self, name: str) -> Path:
        from snpcnn.report import safe_name

        return self.directory / f"{safe_name(name)}.json"

    def get(self, name: str, key: str | None = None) -> Any:
        """The stored result of unit ``name`` if its stamp is ``key`` (default: the store's),
        else None (not stored, unreadable, or computed from other inputs)."""
        p = self.path(name)
        if not p.is_file():
            return None
        try:
            stored = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log.warning("ignoring unreadable stored unit %s", p)
            return None
        want = self.key if key is None else key
        if not isinstance(stored, dict) or stored.get("key") != want:
            return None
        return stored.get("result")

    def put(self, name: str, result: Any, key: str | None = None) -> Path:
        """Store ``result`` for unit ``name`` (atomically), stamped ``key`` (default: the
        store's); returns the file."""
        from snpcnn.report import atomic_write_text

        text = json.dumps(
            {"key": self.key if key is None else key, "result": result}, default=to_json
        )
        return atomic_write_text(self.path(name), text)


def estimated_cost(unit: Unit) -> float:
    """A rough relative cost of a unit, to start the long ones first on Ray.

    A unit whose settings train a network (``cnn=True`` in ``unit.data`` or in its
    ``kwargs``; a tune trial, which trains one per inner fold) counts 10 times a
    baseline-only unit; anything else counts 1.  Only the order in which tasks are
    started depends on it, never a result.
    """
    d = unit.data
    if isinstance(d, Mapping):
        if "inner" in d and "params" in d:  # a tune trial: one network per inner fold
            return 10.0
        kw = d.get("kwargs", d)
        if isinstance(kw, Mapping) and "cnn" in kw:
            return 10.0 if kw["cnn"] else 1.0
    return 1.0


# ----------------------------------------------------------------- threads
def pin_threads(n: int) -> None:
    """Bound BLAS/OpenMP and TensorFlow to ``n`` threads in this process.

    The environment variables reach libraries not loaded yet (TensorFlow reads
    its own when it starts); threadpoolctl bounds the BLAS already loaded.
    TensorFlow already started keeps its thread pools (it cannot change them).
    """
    try:  # another module may provide the one place for this
        from snpcnn.threads import apply_threads  # type: ignore[import-not-found]
    except ImportError:
        apply_threads = None
    if apply_threads is not None:
        apply_threads(n)
        return
    n = max(1, int(n))
    for var in THREAD_VARIABLES:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n)
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
            tf.config.threading.set_inter_op_parallelism_threads(n)
        except (RuntimeError, AttributeError):  # already initialised
            pass


# ------------------------------------------------------------- shared data
class _CachePath:
    """A genotype matrix memory-mapped from a snpcnn cache, sent as its path."""

    def __init__(self, path: str, n_samples: int, n_snps: int, cache_id: str | None = None):
        self.path = path
        self.shape = (n_samples, n_snps)
        self.cache_id = cache_id  # the meta.json the run read (snpcnn.io.cache.cache_id)


_OPENED: dict[str, Any] = {}


def _cache_handle(obj: Any) -> _CachePath | None:
    """The cache path of a Genotypes whose whole matrix is a cache's memory map."""
    import numpy as np

    d = getattr(obj, "dosages", None)
    if not isinstance(d, np.memmap) or getattr(d, "filename", None) is None:
        return None
    from snpcnn.io.cache import is_cache

    folder = os.path.dirname(str(d.filename))
    if not is_cache(folder):
        return None
    try:
        g = _open_cache(folder)
    except Exception:  # noqa: BLE001 - fall back to the object store
        return None
    if g.shape != obj.shape or list(map(str, g.samples)) != list(map(str, obj.samples)):
        return None  # a subset or a reordering of the cache: send the object itself
    ours = getattr(d, "snpcnn_cache_id", None)
    if ours is None or getattr(g.dosages, "snpcnn_cache_id", None) != ours:
        return None  # the cache at that path is no longer the one read: send the matrix
    return _CachePath(folder, *obj.shape, cache_id=ours)


def _open_cache(folder: str):
    from snpcnn.io.cache import cache_id, load_cache

    g = _OPENED.get(folder)
    if g is None or getattr(g.dosages, "snpcnn_cache_id", None) != cache_id(folder):
        g = _OPENED[folder] = load_cache(folder, mmap=True)  # new, or replaced since
    return g


def _resolve(value: Any) -> Any:
    if isinstance(value, _CachePath):
        g = _open_cache(value.path)
        if value.cache_id is not None and g.dosages.snpcnn_cache_id != value.cache_id:
            raise InputError(
                f"{value.path}: the genotype cache changed during the run (replaced, e.g. by "
                "snpcnn convert --force, after the run read it): its folds would read other "
                "genotypes; run the command again"
            )
        if g.shape != value.shape:
            raise InputError(
                f"{value.path}: the genotype cache seen by this Ray node has shape {g.shape}, "
                f"not {value.shape}; every node must see the same cache path"
            )
        return g
    return value


def _task(fn: Callable, unit: Unit, threads: int, env: Mapping[str, str], *shared: Any) -> Any:
    """What runs in a Ray worker: pin threads, then the unit function."""
    for k, v in env.items():
        os.environ[k] = v
    pin_threads(threads)
    _fault_injection(unit)
    return fn(unit, *(_resolve(s) for s in shared))


def _warm(modules: Sequence[str], threads: int, env: Mapping[str, str]) -> tuple[int, str]:
    """What a warm-up task runs: the environment and threads of a unit, then the imports.

    Never fails (an import error is the unit's to report) and never runs the fault
    injection of the tests; returns the worker's process id and any error, as text.
    """
    for k, v in env.items():
        os.environ[k] = v
    pin_threads(threads)
    try:
        for name in modules:
            importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - reported by the unit that needs it
        return os.getpid(), f"{type(exc).__name__}: {exc}"
    return os.getpid(), ""


def _stop_monitor(ray) -> None:
    """Kill the autoscaler monitor of a local Ray before ``ray.shutdown()``.

    ``ray.shutdown()`` stops its processes one by one with SIGTERM and up to one second
    each; the monitor (a local Ray never autoscales) ignores SIGTERM for that whole
    second.  Killed and reaped here, it is skipped there.  Best effort: Ray's private
    node object may change, and then the shutdown is as slow as before, no worse.
    """
    try:
        node = ray._private.worker._global_node
        infos = list(node.all_processes.get("monitor", ())) if node is not None else []
    except Exception:  # noqa: BLE001 - private API
        return
    for info in infos:
        try:
            process = info.process
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
        except Exception:  # noqa: BLE001 - ray.shutdown() still stops it
            pass


def _device_unit(unit: Unit) -> str:
    from snpcnn.backend import device_description

    return device_description()


def _fault_injection(unit: Unit) -> None:
    """Testing only: ``SNPCNN_TEST_KILL_ONCE=<marker file>`` kills the worker once.

    The first task to find the marker file absent creates it and kills its own
    worker process (SIGKILL), as a crashed node would; used by the tests of
    resume and retries after a worker death.
    """
    marker = os.environ.get("SNPCNN_TEST_KILL_ONCE")
    if not marker:
        return
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.write(fd, f"{unit.key}\n".encode())
    os.close(fd)
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _env_float(name: str, default: float) -> float:
    text = os.environ.get(name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise InputError(f"{name}={text!r}: give a number, e.g. 0.25") from None


# ------------------------------------------------------------ connecting
def _cancel(ray, refs) -> None:
    """Cancel the tasks still running (best effort: a finished one cannot be)."""
    for ref in refs:
        try:
            ray.cancel(ref, force=True)
        except Exception:  # noqa: BLE001 - best effort
            pass


def _address_words(address: str) -> str:
    """The Ray address as the user gave it: ``RAY_ADDRESS=...`` where it came from the
    environment (the messages named ``--ray-address``, which the user never typed: a
    checking helper, session 44), else ``--ray-address ...`` (``ray_address=...`` from
    Python)."""
    given = any(a == "--ray-address" or a.startswith("--ray-address=") for a in sys.argv)
    if os.environ.get("RAY_ADDRESS") == address and not (CLI_MODE.get() and given):
        return f"RAY_ADDRESS={address}"
    return opt("ray_address", address)


def _check_reachable(address: str) -> None:
    """A one-line InputError when nothing listens at a Ray address."""
    if address in ("auto", "local"):
        return
    text = address.split("://", 1)[-1].rstrip("/")
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise InputError(
            f"{_address_words(address)}: give HOST:PORT of the Ray head node "
            "(as printed by `ray start --head`), e.g. 127.0.0.1:6379"
        )
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise InputError(
            f"cannot reach the Ray cluster at {address} ({reason}); start it with "
            "`ray start --head --port=PORT` or fix --ray-address / RAY_ADDRESS"
        ) from None
    if "://" not in address:
        _check_speaks_ray(address, f"{host}:{port}")


def _check_speaks_ray(address: str, target: str) -> None:
    """A one-line InputError where something listens at ``target`` but it is not a Ray
    head's GCS (e.g. another server's port).  ``ray.init`` then retried for ever, printing
    Ray's gcs_client lines every 30 s (a checking helper, session 34).  One RPC of the GCS
    with a 5 s deadline: a Ray GCS answers it, or refuses it for a missing or wrong auth
    token (Ray's token authentication: then a line that says so, where ray.init retried for
    20 s and said only "Failed to connect").  Skipped where Ray uses TLS, or where Ray's
    generated gRPC stubs cannot be imported (a Ray version without them)."""
    if os.environ.get("RAY_USE_TLS", "").strip().lower() in ("1", "true", "yes"):
        return
    try:
        import grpc
        from ray.core.generated import gcs_service_pb2, gcs_service_pb2_grpc
    except Exception:  # noqa: BLE001 - only an early check; ray.init still runs
        return
    channel = grpc.insecure_channel(target)
    with_token = False
    if _sends_token():  # the token as ray.init sends it (Ray's own interceptor, where found)
        try:
            from ray._private.authentication.grpc_authentication_client_interceptor import (
                SyncAuthenticationMetadataClientInterceptor,
            )

            channel = grpc.intercept_channel(channel, SyncAuthenticationMetadataClientInterceptor())
            with_token = True
        except Exception:  # noqa: BLE001 - another Ray version: the check goes without it
            pass
    try:
        stub = gcs_service_pb2_grpc.NodeInfoGcsServiceStub(channel)
        try:
            stub.CheckAlive(gcs_service_pb2.CheckAliveRequest(), timeout=CONNECT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - Ray's interceptor: no token to send
            if isinstance(exc, grpc.RpcError) or not with_token:
                raise
            raise InputError(
                f"RAY_AUTH_MODE=token is set, but Ray found no auth token to send to the Ray "
                f"cluster at {_address_words(address)}: give the cluster's token in "
                "RAY_AUTH_TOKEN or a token file (RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token; `ray "
                "get-auth-token` prints it on the head node), or start the cluster with "
                "RAY_AUTH_MODE=disabled (snpcnn docs cluster)"
            ) from None
    except grpc.RpcError as exc:
        code = exc.code()
        not_ray = (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.StatusCode.UNIMPLEMENTED,
        )
        if code == grpc.StatusCode.UNAUTHENTICATED and with_token:
            raise InputError(
                f"the Ray cluster at {_address_words(address)} refused this process's auth "
                "token: give it the cluster's token (RAY_AUTH_TOKEN, or a token file: "
                "RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token; `ray get-auth-token` prints it on the "
                "head node)"
            ) from None
        if code == grpc.StatusCode.UNAUTHENTICATED and not _sends_token():
            # Ray's token authentication (a head started with RAY_AUTH_MODE=token, or where
            # a token file exists): without a token ray.init retried for 20 s, printing Ray's
            # gcs_client lines every second, then said only "Failed to connect" (session 45)
            raise InputError(
                f"the Ray cluster at {_address_words(address)} asks for an auth token (Ray's "
                "token authentication) and this process sends none: set RAY_AUTH_MODE=token "
                "here (Ray then reads RAY_AUTH_TOKEN or ~/.ray/auth_token), or start the "
                "cluster with RAY_AUTH_MODE=disabled (snpcnn docs cluster)"
            ) from None
        if code in not_ray:
            raise InputError(
                f"{_address_words(address)}: something listens there, but it is not the head "
                f"of a Ray cluster (no answer from Ray's GCS: {code.name.lower()}); give the "
                "address `ray start --head` printed (its port, 6379 by default)"
            ) from None
    finally:
        channel.close()


def _sends_token() -> bool:
    """Whether ray.init in this process sends Ray's auth token (``RAY_AUTH_MODE=token``)."""
    return os.environ.get("RAY_AUTH_MODE", "").strip().lower() == "token"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(
            "--workers/--ray-address need Ray: pip install 'snpcnn[cluster]'"
        ) from None
    return ray


class Executor:
    """Runs units serially (``workers=None`` and no address) or as Ray tasks.

    Use as a context manager: a local Ray started here is shut down on exit; an
    already initialised Ray (``ray.init`` by the caller) is used and left running.

    Parameters
    ----------
    workers : int, optional
        Tasks run at once (local Ray: its CPU count).  ``None`` and no address:
        serial, in this process.
    ray_address : str, optional
        ``HOST:PORT`` (or ``ray://HOST:PORT``) of an existing Ray cluster; default
        the ``RAY_ADDRESS`` environment variable when ``workers`` is given.
    cpus, gpus : float
        Resources of one task (``gpus=0.25``: four small models share a GPU; default
        the ``SNPCNN_TASK_GPUS`` environment variable, else 0).  With GPUs, TensorFlow
        in each task allocates GPU memory as it needs it (``TF_FORCE_GPU_ALLOW_GROWTH``)
        instead of taking the whole card.
    threads : int, optional
        BLAS/TensorFlow threads per task; default ``cpus`` rounded down (>= 1).
    max_retries : int
        Times Ray reruns a task whose worker died.
    warm : sequence of str
        Modules every Ray worker imports as soon as Ray is up (e.g. Keras), one
        warm-up task per worker, while this process still prepares the units: the
        first units then find them loaded.  Only imports: a unit's result never
        depends on them (units already share their worker processes).
    warm_limit : int, optional
        No more warm-up tasks than this (the run's tasks, where known; default one a
        worker).

    Ray starts in the background (:meth:`start`, or entering the context): a local
    Ray takes seconds to start, and this process meanwhile loads the data and builds
    the units.  The first call that needs Ray waits for it (and raises its error).
    """

    def __init__(
        self,
        workers: int | None = None,
        ray_address: str | None = None,
        *,
        cpus: float = 1.0,
        gpus: float | None = None,
        threads: int | None = None,
        max_retries: int = 3,
        warm: Sequence[str] = (),
        warm_limit: int | None = None,
        resumable: bool = True,
    ):
        #: whether the command keeps finished units for ``--resume`` (benchmark, tune; not
        #: fit): what a failure's message tells the user to do
        self.resumable = bool(resumable)
        if gpus is None:
            gpus = _env_float("SNPCNN_TASK_GPUS", 0.0)
        if workers is not None and int(workers) < 1:
            raise InputError(f"--workers {workers}: give 1 or more")
        if cpus <= 0 or gpus < 0:
            raise InputError("task resources: CPUs must be > 0 and GPUs >= 0")
        self.workers = None if workers is None else int(workers)
        address = ray_address
        if address is None and self.workers is not None:
            address = os.environ.get("RAY_ADDRESS") or None
        self.address = address
        self.parallel = self.workers is not None or self.address is not None
        self.cpus = float(cpus)
        self.gpus = float(gpus)
        self.threads = int(threads) if threads else max(1, int(cpus))
        self.max_retries = int(max_retries)
        self.warm = tuple(warm)
        self.warm_limit = warm_limit
        self._ray = None
        self._started = False
        self._shared: dict[int, tuple[Any, Any]] = {}
        self._owner: threading.Thread | None = None  # the thread that started Ray
        self._up = threading.Event()  # Ray is up, or failed to start (_error)
        self._stop = threading.Event()  # the owner thread may end (Ray is shut down)
        self._error: BaseException | None = None
        self._warm_refs: list[Any] = []
        self._cluster: dict[str, Any] = {}  # the cluster when Ray came up (run.json)
        self.timings: dict[str, float] = {}  # seconds: ray_init, shutdown (provenance)

    # -- lifecycle
    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _env(self) -> dict[str, str]:
        env = {v: str(self.threads) for v in THREAD_VARIABLES}
        if self.gpus > 0:  # tasks share a GPU: none may take all its memory
            env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
        for k in ("SNPCNN_TEST_KILL_ONCE", "KERAS_BACKEND", "TF_CPP_MIN_LOG_LEVEL"):
            if os.environ.get(k):
                env[k] = os.environ[k]
        return env

    def start(self) -> Executor:
        """Start (or connect to) Ray in the background; a no-op when serial or started.

        Ray's import and the reachability of ``ray_address`` are checked here (their
        one-line errors come at once); ``ray.init`` and the warm-up tasks run in a
        thread that lives until :meth:`close`.  (Ray's processes die with the thread that
        started them, PR_SET_PDEATHSIG, so that thread must outlive the run.)
        """
        if not self.parallel or self._ray is not None:
            return self
        from snpcnn import _signals

        if _signals.active():
            # the command line turns SIGTERM into Ctrl-C's clean-up: Ray's fatal-signal
            # handler in this process printed a stack dump first (read when Ray is imported)
            os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")
        ray = _import_ray()
        if self.address is not None:
            _check_reachable(self.address)
        self._ray = ray
        if ray.is_initialized():  # the caller's Ray: used as it is, left running
            self._up.set()
            return self
        if self.address is None:
            self._warn_oversubscribed()
        self._owner = threading.Thread(target=self._own, name="snpcnn-ray", daemon=True)
        self._owner.start()
        return self

    def _warn_oversubscribed(self) -> None:
        """One line where a local Ray's tasks ask for more cores than this process may use:
        they then share the cores, and the run is no faster (its results are unchanged)."""
        from snpcnn.threads import available_cores

        cores = available_cores()
        want = (self.workers or 0) * self.threads
        if want <= cores:
            return
        each = f" x {self.threads} threads" if self.threads > 1 else ""
        fit = cores // self.threads
        # "use --workers 1 or fewer" where 1 is the least (a checking helper, session 44)
        workers = self.workers or 1
        if fit >= 2:
            hint = f"--workers {fit} or fewer"
        elif cores >= workers >= 2:
            hint = f"--threads {cores // workers} with --workers {workers}, or no --workers"
        else:
            hint = "no --workers (the run in this process uses the cores it may)"
        log.warning(
            "--workers %d%s asks for %d cores, but this machine lets snpcnn use %d: the tasks "
            "will share them and the run will not be faster (its results are the same); use "
            "%s",
            self.workers,
            each,
            want,
            cores,
            hint,
        )

    def _own(self) -> None:
        """The owner thread: start Ray, submit the warm-up tasks, wait for :meth:`close`."""
        try:
            t0 = time.perf_counter()
            self._init()
            self.timings["ray_init"] = time.perf_counter() - t0
        except BaseException as exc:  # noqa: BLE001 - raised where Ray is needed
            self._error = exc
        else:
            try:
                self._submit_warm()
            except Exception as exc:  # noqa: BLE001 - only a head start: never an error
                log.debug("warm-up tasks not submitted: %s", exc)
        finally:
            self._up.set()
        self._stop.wait()

    def wait(self) -> Executor:
        """Block until the background start has finished (a no-op when serial); raise its
        error if it failed."""
        if self.parallel:
            self._ready()
        return self

    def _ready(self):
        """Ray, once the background start has finished; its error if it failed."""
        if not self.parallel:
            raise RuntimeError("a serial executor has no Ray")
        if self._ray is None:
            self.start()
        self._up.wait()
        if self._error is not None:
            raise self._error
        from snpcnn import _signals

        _signals.reassert()  # Ray's start replaced the command line's SIGTERM handler
        return self._ray

    def _submit_warm(self) -> None:
        if not self.warm:
            return
        ray = self._ray
        n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) / self.cpus))
        if self.warm_limit is not None:
            n = max(1, min(n, int(self.warm_limit)))
        remote = ray.remote(_warm).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0)
        env = self._env()
        self._warm_refs = [remote.remote(self.warm, self.threads, env) for _ in range(n)]

    def _init(self) -> None:
        ray = self._ray
        kwargs: dict[str, Any] = dict(
            include_dashboard=False,
            logging_level=logging.ERROR,
            log_to_driver=log.isEnabledFor(logging.DEBUG),
            runtime_env={"env_vars": self._env()},
        )
        try:
            if self.address is not None:
                ray.init(address=self.address, **kwargs)
            else:
                # "local": a new Ray for this run, never a cluster found running on the machine
                ray.init(address="local", num_cpus=self.workers, **kwargs)
        except Exception as exc:  # noqa: BLE001 - Ray raises many kinds; say it in one line
            why = " ".join(str(exc).split())[:200] or type(exc).__name__
            if self.address is not None:
                raise InputError(
                    f"cannot connect to the Ray cluster at {self.address} ({why}); check "
                    "--ray-address / RAY_ADDRESS (and RAY_AUTH_MODE, snpcnn docs cluster)"
                ) from None
            raise InputError(
                f"could not start a local Ray for --workers ({why}); run without --workers, "
                "or start Ray with `ray start --head` and pass --ray-address"
            ) from None
        self._started = True
        self._cluster = self._cluster_now()

    def _cluster_now(self) -> dict[str, Any]:
        """The cluster's CPUs, live nodes and head address, for run.json (empty where Ray
        cannot say)."""
        ray = self._ray
        out: dict[str, Any] = {}
        try:
            out["cluster_cpus"] = float(ray.cluster_resources().get("CPU", 0))
            out["nodes"] = sum(1 for n in ray.nodes() if n.get("Alive"))
            out["gcs_address"] = str(ray.get_runtime_context().gcs_address)
        except Exception:  # noqa: BLE001 - provenance only
            pass
        return out

    def close(self) -> None:
        """Shut down a local Ray started here (after its start has finished); idempotent."""
        self._shared.clear()
        self._warm_refs = []
        if self._owner is not None:
            self._up.wait()  # ray.init cannot be interrupted: let it finish, then stop it
        if self._ray is not None and self._started:
            t0 = time.perf_counter()
            if self.address is None:
                _stop_monitor(self._ray)
            self._ray.shutdown()
            self.timings["shutdown"] = time.perf_counter() - t0
        self._started = False
        if self._owner is not None:
            self._stop.set()
            self._owner.join()
            # as new: a later start() starts another Ray
            self._owner, self._ray, self._error = None, None, None
            self._up, self._stop = threading.Event(), threading.Event()

    def describe(self) -> dict[str, Any]:
        """What ran the units, for run.json."""
        if not self.parallel:
            return serial_execution()
        d: dict[str, Any] = {
            "executor": "ray",
            "workers": self.workers,
            "address": self.address or "local",
            "task_cpus": self.cpus,
            "task_gpus": self.gpus,
            "threads_per_task": self.threads,
        }
        if self._owner is not None:
            self._up.wait()
        if self._ray is not None and self._ray.is_initialized():
            # the cluster the run started on (a node lost later made run.json say 1 node
            # where 2 had run folds: a checking helper, session 44), and at its end where
            # that differs; --ray-address auto with the head it found
            start = getattr(self, "_cluster", None) or {}
            now = self._cluster_now()
            for key in ("cluster_cpus", "nodes"):
                if key in start or key in now:
                    d[key] = start.get(key, now.get(key))
                if key in start and key in now and now[key] != start[key]:
                    d[f"{key}_at_end"] = now[key]
            head = start.get("gcs_address") or now.get("gcs_address")
            if head and d["address"] in ("auto", "local") and self.address is not None:
                d["address_resolved"] = head
        return d

    def device_description(self) -> str:
        """What the units' Keras backend sees, e.g. ``"CPU (2 cores)"`` or ``"GPU (H100)"``.

        On Ray it is asked of a worker, with a task's resources: the tasks' device, not
        this process's, and no TensorFlow start here (a worker has it loaded already).
        Serially, or if the task fails, it is this process's.
        """
        from snpcnn.backend import device_description

        if self.parallel and self._ray is not None:
            self._ready()
        if not self.parallel or self._ray is None or not self._ray.is_initialized():
            return device_description()
        ray = self._ray
        remote = ray.remote(_task).options(num_cpus=self.cpus, num_gpus=self.gpus, max_retries=0)
        try:
            return str(ray.get(remote.remote(_device_unit, Unit(), self.threads, self._env())))
        except Exception:  # noqa: BLE001 - provenance only
            return device_description()

    # -- running
    def map(
        self,
        units: Sequence[Unit],
        fn: Callable[..., Any],
        shared: Sequence[Any] = (),
        *,
        done: Callable[[Unit], Any] | None = None,
        on_result: Callable[[Unit, Any], None] | None = None,
        progress: Callable[..., None] | None = None,
    ) -> list[Any]:
        """``[fn(unit, *shared) for unit in units]``, in unit order.

        ``done(unit)`` may return a stored result (not ``None``): the unit is then
        not run.  ``on_result(unit, result)`` runs here as each unit finishes.
        ``progress("tasks", done=, running=, queued=, total=, eta_seconds=, unit=)``
        follows the run.
        """
        units = list(units)
        results: list[Any] = [None] * len(units)
        todo: list[int] = []
        for i, u in enumerate(units):
            stored = done(u) if done else None
            if stored is None:
                todo.append(i)
            else:
                results[i] = stored
        tracker = _Tracker(len(units), len(units) - len(todo), progress)
        if not todo:
            tracker.emit(None, 0, 0)
            return results
        if not self.parallel:
            tracker.emit(None, 1, len(todo) - 1)
            tracker.start(todo[0])
            for k, i in enumerate(todo):
                results[i] = fn(units[i], *shared)
                if on_result:
                    on_result(units[i], results[i])
                left = len(todo) - k - 1
                tracker.end(i)
                if left:  # the next unit starts now: counted as running in the estimate
                    tracker.start(todo[k + 1])
                tracker.finish(units[i], min(1, left), max(0, left - 1))
            return results
        return self._map_ray(units, fn, shared, todo, results, on_result, tracker)

    def _map_ray(self, units, fn, shared, todo, results, on_result, tracker):
        ray, submit, window = self._submitter(fn, shared)
        # longest first (stable): a long unit started last would leave the other workers idle
        queue = sorted(todo, key=lambda i: -estimated_cost(units[i]))
        pending: dict[Any, int] = {}
        # one task more than can run: it waits in Ray's queue (in order: same resources,
        # first in, first out) and starts as soon as a worker is free, not after this
        # process has fetched and stored the finished unit's result and submitted the next
        ahead = window + 1
        tracker.slots = window
        waiting: list[int] = []  # submitted beyond the window: they start as others end

        def fill():
            while queue and len(pending) < ahead:
                i = queue.pop(0)
                pending[submit(units[i])] = i
                if len(tracker.started) < window:
                    tracker.start(i)
                else:
                    waiting.append(i)

        def counts():  # running, queued (the task waiting in Ray's queue is queued)
            return min(len(pending), window), len(queue) + max(0, len(pending) - window)

        try:
            fill()
            tracker.emit(None, *counts())
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                _signals.check()  # an interrupt swallowed in a callback stops the run here
                for ref in ready:
                    i = pending.pop(ref)
                    tracker.end(i)
                    if waiting:  # Ray starts the task that waited in its queue
                        tracker.start(waiting.pop(0))
                    fill()
                    results[i] = self._get(ray, ref, units[i])
                    if on_result:
                        on_result(units[i], results[i])
                    tracker.finish(units[i], *counts())
        except BaseException:
            _cancel(ray, pending)
            raise
        return results

    def stream(
        self,
        feed: Callable[[], Unit | None],
        fn: Callable[..., Any],
        shared: Sequence[Any] = (),
        *,
        on_result: Callable[[Unit, Any], None] | None = None,
    ) -> None:
        """Run units as they become available, keeping every worker busy.

        ``feed()`` gives the next unit to start, or ``None`` when none can start now;
        ``on_result(unit, result)`` runs here as each unit finishes and may make more
        units available (``feed`` is asked again after it).  The run ends when nothing
        runs and ``feed()`` gives ``None``.  Serially: one unit at a time, in feed order.
        On Ray: ``workers`` units at a time (the cluster's CPUs with an address).
        """
        if not self.parallel:
            while (unit := feed()) is not None:
                result = fn(unit, *shared)
                if on_result:
                    on_result(unit, result)
            return
        ray, submit, window = self._submitter(fn, shared)
        pending: dict[Any, Unit] = {}

        def fill():
            while len(pending) < window:
                unit = feed()
                if unit is None:
                    return
                pending[submit(unit)] = unit

        try:
            fill()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                _signals.check()  # an interrupt swallowed in a callback stops the run here
                for ref in ready:
                    unit = pending.pop(ref)
                    result = self._get(ray, ref, unit)
                    if on_result:
                        on_result(unit, result)
                fill()
        except BaseException:
            _cancel(ray, pending)
            raise

    def _submitter(self, fn: Callable[..., Any], shared: Sequence[Any]):
        """Ray (started if needed), a function that submits one unit as a task (``fn`` and
        the ``shared`` objects sent once) and returns its reference, and how many tasks may
        run at once (``workers``, or the cluster's CPUs over the CPUs of a task)."""
        ray = self._ready()
        refs = [self._share(s) for s in shared]
        fn_ref = ray.put(fn)
        env = self._env()
        remote = ray.remote(_task).options(
            num_cpus=self.cpus,
            num_gpus=self.gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
        )
        window = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) / self.cpus))

        def submit(unit: Unit):
            return remote.remote(fn_ref, unit, self.threads, env, *refs)

        return ray, submit, window

    def _share(self, obj: Any) -> Any:
        """``obj`` for tasks: sent once per executor (a cache path, else ``ray.put``)."""
        kept = self._shared.get(id(obj))
        if kept is not None and kept[0] is obj:
            return kept[1]
        handle = _cache_handle(obj)
        ref = handle if handle is not None else self._ray.put(obj)
        self._shared[id(obj)] = (obj, ref)  # obj kept alive: its id stays its own
        return ref

    def _get(self, ray, ref, unit: Unit) -> Any:
        from ray import exceptions as rx

        try:
            return ray.get(ref)
        except rx.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, BaseException):
                raise cause from None
            raise
        except (rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError) as exc:
            raise SnpcnnError(
                f"unit {unit.key}: its Ray worker died {self.max_retries + 1} time(s) "
                f"({type(exc).__name__}); {self._rerun()}"
            ) from None
        except (rx.LocalRayletDiedError, rx.RaySystemError, rx.OwnerDiedError) as exc:
            raise SnpcnnError(
                f"unit {unit.key}: the Ray cluster stopped during the run "
                f"({type(exc).__name__}); start it again (or drop --ray-address), then "
                f"{self._rerun()}"
            ) from None

    def _rerun(self) -> str:
        return (
            "rerun with --resume: finished units are kept"
            if self.resumable
            else "rerun the command (it keeps no finished folds)"
        )


def serial_execution() -> dict[str, Any]:
    """run.json's ``execution`` for units run in this process: the threads they used."""
    from snpcnn.threads import current_threads

    return {"executor": "serial", "threads": int(current_threads())}


class _Tracker:
    """Counts units done / running / queued and estimates the time left.

    The estimate is the mean time a finished unit took, from the moment it was given a
    worker (not from when Ray or this command started), times the units left, over the
    units that run at once; a running unit counts for the part of that mean it has still to
    run.  The first units' times include a cold worker's start (and Ray's retries of a unit
    whose worker died), so early estimates run high.  Before session 40 it divided the whole
    elapsed time (Ray's start included) by the units done and counted a running unit as a
    whole one: "ETA 2 min" seconds before the end (a checking helper)."""

    def __init__(self, total: int, stored: int, progress, slots: int = 1):
        self.total = total
        self.done = stored
        self.stored = stored
        self.computed = 0
        self.slots = max(1, int(slots))
        self.progress = progress
        self.started: dict[Any, float] = {}  # running units: when each started
        self.durations: list[float] = []

    def start(self, key: Any) -> None:
        self.started[key] = time.perf_counter()

    def eta(self, queued: int) -> float | None:
        """Seconds left, or None before any unit finished."""
        if not self.durations:
            return None
        now = time.perf_counter()
        mean = sum(self.durations) / len(self.durations)
        left_running = [max(0.0, mean - (now - t)) for t in self.started.values()]
        # as many at once as there are slots, and no sooner than the longest running one
        return max((mean * queued + sum(left_running)) / self.slots, max(left_running, default=0.0))

    def emit(self, unit, running, queued):
        if not self.progress:
            return
        self.progress(
            "tasks",
            done=self.done,
            running=running,
            queued=queued,
            total=self.total,
            resumed=self.stored,
            eta_seconds=self.eta(queued),
            unit=None if unit is None else unit.key,
        )

    def end(self, key: Any) -> None:
        """The unit ``key`` ended: its time counts in the estimate."""
        t0 = self.started.pop(key, None)
        if t0 is not None:
            self.durations.append(time.perf_counter() - t0)

    def finish(self, unit, running, queued):
        """A unit's result is in: count it and report."""
        self.done += 1
        self.computed += 1
        self.emit(unit, running, queued)


def run_units(
    units: Sequence[Unit],
    fn: Callable[..., Any],
    shared: Sequence[Any] = (),
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    cpus: float = 1.0,
    gpus: float | None = None,
    threads: int | None = None,
    max_retries: int = 3,
    done: Callable[[Unit], Any] | None = None,
    on_result: Callable[[Unit, Any], None] | None = None,
    progress: Callable[..., None] | None = None,
) -> list[Any]:
    """Run ``fn(unit, *shared)`` for every unit, serially or on Ray; results in unit order.

    See :class:`Executor` for the parameters.  Without ``workers`` and
    ``ray_address`` the units run here, one after the other, and Ray is not imported.

    Examples
    --------
    >>> run_units([Unit(fold=f) for f in range(3)], lambda u, k: u.fold * k, [10])
    [0, 10, 20]
    """
    with Executor(
        workers, ray_address, cpus=cpus, gpus=gpus, threads=threads, max_retries=max_retries
    ) as ex:
        return ex.map(units, fn, shared, done=done, on_result=on_result, progress=progress)


# ------------------------------------------------------ cross-validation
#: a stored fold with nothing in it: what ``skip`` returns for the folds a task does not run
_NO_FOLD: dict[str, Any] = {"metrics": [], "predictions": []}


def run_fold(genotypes, phenotypes, traits, repeat: int, fold: int, **settings: Any) -> dict:
    """One fold of :func:`snpcnn.cv.cross_validate`: its result dict (what ``on_fold`` gets).

    The serial code path itself, with the other folds skipped through its resume hook,
    so a fold run as a task (``fit``/``benchmark``/``tune`` with ``--workers``) is the
    fold of a serial run.  ``settings`` are ``cross_validate``'s keywords or config
    objects; a single fold never refits.
    """
    from snpcnn.cv import cross_validate

    kept: dict[str, Any] = {}
    cross_validate(
        genotypes,
        phenotypes,
        traits,
        skip=lambda r, f: None if (r, f) == (repeat, fold) else _NO_FOLD,
        on_fold=lambda r, f, res: kept.update(result=res),
        **{**settings, "refit": False},
    )
    # a fold that holds none of the trait's samples (a benchmark's folds are drawn over its
    # dataset, a sparse trait can miss one): nothing to run, as in the serial run, where the
    # fold does not exist for that trait (a KeyError on Ray; a review, session 46)
    return kept.get("result", {**_NO_FOLD})


def start_early(
    workers: int | None,
    ray_address: str | None,
    threads: int | None,
    warm: Sequence[str],
    units: int | None = None,
) -> Executor | None:
    """For a command run with ``--workers`` or ``--ray-address`` (else None): start Ray in the
    background now, its workers importing ``warm``, while the command reads its inputs.
    The run's own :class:`Executor` then finds Ray initialised and uses it as it is; call
    :meth:`Executor.wait` before that, and :meth:`Executor.close` when the command ends
    (whatever happens).  Nothing a run computes depends on it.  ``units``: how many tasks
    the run will have, where known; no more workers than that are warmed (``--folds 2
    --workers 3`` warmed 3 TensorFlow workers, 3.9 GB, for 2 folds: session 40)."""
    if workers is None and ray_address is None:
        return None
    return Executor(
        workers, ray_address, threads=threads or None, warm=warm, warm_limit=units
    ).start()


def _cv_fold_task(unit: Unit, genotypes, phenotypes) -> dict:
    """One fold of a cross-validation (a task): the fold's result dict, with what the fold
    said while it ran (``fold_report``: the console's per-fold lines) and its seconds."""
    from snpcnn.progress import FOLD_REPORT_EVENTS

    t0 = time.perf_counter()
    said: list[tuple[str, dict]] = []

    def keep(kind: str, **info: Any) -> None:
        if kind in FOLD_REPORT_EVENTS:
            if kind == "fold_trained":
                info = {**info, "seconds": time.perf_counter() - t0}
            said.append((kind, info))

    res = run_fold(genotypes, phenotypes, None, unit.repeat, unit.fold, progress=keep, **unit.data)
    return {**res, "fold_report": {"events": said, "seconds": time.perf_counter() - t0}}


def cross_validate_parallel(
    genotypes,
    phenotypes,
    traits=None,
    *,
    workers: int | None = None,
    ray_address: str | None = None,
    threads: int | None = None,
    progress: Callable[..., None] | None = None,
    **kwargs: Any,
):
    """:func:`snpcnn.cv.cross_validate` with its folds run as executor tasks.

    The folds are those of the serial call (same arguments, same seed); each runs as
    a task, then ``cross_validate`` assembles them (and refits, if asked) here, so
    the :class:`~snpcnn.cv.CVResults` is the serial one (to the bit with the same
    threads per process: ``--threads 1``).  ``progress`` gets ``"tasks"`` events
    while the folds run.  ``kwargs`` are ``cross_validate``'s keywords or its config
    objects (:mod:`snpcnn.config`); they travel to the tasks as the config objects.
    """
    from snpcnn.config import from_keywords
    from snpcnn.cv import KEYWORD_DEFAULTS, cross_validate

    settings = from_keywords({"traits": traits, **kwargs}, KEYWORD_DEFAULTS)
    hooks = settings.pop("execution")
    if hooks.skip or hooks.on_fold:
        raise TypeError("cross_validate_parallel takes no skip= or on_fold=")
    progress = progress or hooks.progress
    if workers is None and ray_address is None:  # given in the ExecutionConfig, if at all
        workers, ray_address = hooks.workers, hooks.ray_address
    threads = threads or hooks.threads
    splits: list[tuple[int, int]] = []

    def record(r, f):  # the folds, without training anything
        splits.append((r, f))
        return _NO_FOLD

    cross_validate(genotypes, phenotypes, skip=record, refit=False, **settings)
    units = [Unit(repeat=r, fold=f, data=settings) for r, f in splits]
    emit = (lambda event, **info: progress(event, dataset="cv", **info)) if progress else None
    index = {(u.repeat, u.fold): i + 1 for i, u in enumerate(units)}

    def report(unit: Unit, res: dict) -> None:  # the fold's lines, as it finishes
        if progress and res.get("fold_report"):
            said = res["fold_report"]
            i = index[(unit.repeat, unit.fold)]
            progress("fold_report", index=i, total=len(units), **said)

    with Executor(workers, ray_address, threads=threads, resumable=False) as ex:
        results = ex.map(
            units, _cv_fold_task, [genotypes, phenotypes], on_result=report, progress=emit
        )
        execution = ex.describe()
    stored = {(u.repeat, u.fold): res for u, res in zip(units, results)}
    res = cross_validate(
        genotypes,
        phenotypes,
        skip=lambda r, f: stored[(r, f)],
        progress=progress,
        refit=hooks.refit,
        **settings,
    )
    res.config["execution"] = execution  # run.json: how the folds ran
    return res
