"""snpcnn.executor: units, the serial path (no Ray), and a real local Ray of 2 workers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.executor import Executor, Unit, UnitStore, content_hash, run_units
from snpcnn.genotypes import Genotypes

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_ARCH = os.path.join(REPO, "benchmarks", "configs", "tiny_arch.toml")


def _square(unit, offset):
    return unit.fold**2 + offset


def _worker_info(unit, g):
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info()]
    return {
        "pid": os.getpid(),
        "sum": int(np.asarray(g.dosages, dtype=np.int64).sum()) + unit.fold,
        "writeable": bool(g.dosages.flags.writeable),
        "omp": os.environ.get("OMP_NUM_THREADS"),
        "tf": os.environ.get("TF_NUM_INTRAOP_THREADS"),
        "blas": blas,
    }


def _seeded(unit):
    rng = np.random.default_rng([unit.seed, unit.fold])
    x = rng.normal(size=(50, 20))
    return (x @ x.T).sum(axis=0).tobytes()


def _fails(unit):
    if unit.fold == 1:
        raise InputError(f"fold {unit.fold}: bad input")
    return unit.fold


def test_unit_key_names_the_fields_that_are_set():
    u = Unit(dataset="wheat", trait="GY_E1", model="GBLUP", seed=0, repeat=1, fold=3)
    assert u.key == "wheat/GY_E1/GBLUP/seed0/r1/f3"
    assert Unit(trial=7).key == "trial7"
    assert Unit(fold=0, data={"x": 1}).key == Unit(fold=0, data={"x": 2}).key == "f0"


def test_serial_runs_in_order_without_importing_ray():
    code = (
        "import sys\n"
        "from snpcnn.executor import Unit, run_units\n"
        "seen = []\n"
        "out = run_units([Unit(fold=f) for f in range(4)], lambda u, k: u.fold * k, [3],\n"
        "                progress=lambda e, **i: seen.append((i['done'], i['queued'])))\n"
        "assert out == [0, 3, 6, 9], out\n"
        "assert seen[-1] == (4, 0), seen\n"
        "print('ray' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_serial_resume_skips_stored_units_and_stores_new_ones():
    stored = {"f1": 100}
    calls, saved = [], {}

    def fn(u):
        calls.append(u.fold)
        return u.fold

    out = run_units(
        [Unit(fold=f) for f in range(3)],
        fn,
        done=lambda u: stored.get(u.key),
        on_result=lambda u, r: saved.setdefault(u.key, r),
    )
    assert out == [0, 100, 2]
    assert calls == [0, 2]
    assert saved == {"f0": 0, "f2": 2}


def test_unit_store_resumes_only_results_stamped_with_the_same_inputs(tmp_path):
    stamp = content_hash({"model": "gblup", "folds": [1, 2]})
    assert stamp == content_hash({"folds": [1, 2], "model": "gblup"})  # key order is irrelevant
    store = UnitStore(tmp_path / "units", stamp)
    assert store.get("r0_f0") is None
    path = store.put("r0_f0", {"r": np.float64(0.5), "n": np.int64(3), "ok": np.bool_(True)})
    assert path.parent == tmp_path / "units" and not list(path.parent.glob(".*tmp*"))
    # a fresh store on the same folder (the resumed run) reads it back
    again = UnitStore(tmp_path / "units", stamp)
    assert again.get("r0_f0") == {"r": 0.5, "n": 3, "ok": True}
    # other inputs (another stamp): recomputed, never mixed in
    assert UnitStore(tmp_path / "units", content_hash({"model": "ridge"})).get("r0_f0") is None
    # a per-unit stamp overrides the store's
    store.put("trial/a b", [1], key="k2")
    assert store.get("trial/a b") is None and store.get("trial/a b", key="k2") == [1]
    assert store.path("trial/a b").name == "trial_a_b.json"
    # a half-written or corrupt file is ignored, not an error
    store.path("r1_f0").write_text("{not json", encoding="utf-8")
    assert store.get("r1_f0") is None


def _streamed(run_ray: bool):
    """Units fed as they become available: each finished fold < 3 makes the next one."""
    queue, seen = [Unit(fold=0), Unit(fold=10)], []

    def feed():
        return queue.pop(0) if queue else None

    def on_result(u, res):
        seen.append((u.fold, res))
        if u.fold < 2:
            queue.append(Unit(fold=u.fold + 1))

    with Executor(workers=2 if run_ray else None) as ex:
        ex.stream(feed, _square, [5], on_result=on_result)
    return seen


def test_stream_runs_units_fed_as_earlier_ones_finish():
    seen = _streamed(run_ray=False)
    assert seen == [(0, 5), (10, 105), (1, 6), (2, 9)]  # serial: feed order


def test_ray_stream_runs_the_same_units(ray_cluster):
    assert sorted(_streamed(run_ray=True)) == [(0, 5), (1, 6), (2, 9), (10, 105)]


def test_bad_workers_and_unreachable_address_are_one_line_errors():
    with pytest.raises(InputError, match="--workers 0"):
        Executor(workers=0)
    with pytest.raises(InputError, match="HOST:PORT"):
        run_units([Unit(fold=0)], _square, [0], ray_address="nonsense")
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach the Ray cluster at 127.0.0.1:9"):
        run_units([Unit(fold=0)], _square, [0], workers=1, ray_address="127.0.0.1:9")
    assert time.perf_counter() - t0 < 10


def test_more_local_workers_than_cores_is_one_warning(monkeypatch, caplog):
    """--workers above the cores was silent: the tasks shared the cores, no faster."""
    import snpcnn.threads

    monkeypatch.setattr(snpcnn.threads, "available_cores", lambda: 2)
    with caplog.at_level("WARNING", logger="snpcnn.executor"):
        Executor(workers=2)._warn_oversubscribed()
        Executor(workers=1, threads=2)._warn_oversubscribed()
        assert not caplog.records
        Executor(workers=8)._warn_oversubscribed()
        Executor(workers=2, threads=2)._warn_oversubscribed()
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "--workers 8 asks for 8 cores" in said[0] and "use --workers 2 or fewer" in said[0]
    assert "--workers 2 x 2 threads asks for 4 cores" in said[1]
    # not "--workers 1 or fewer" (1 is the least; session 44)
    assert "use --threads 1 with --workers 2, or no --workers" in said[1]


# ------------------------------------------------------------- real Ray
@pytest.fixture(scope="module")
def ray_cluster():
    """A real local Ray with 2 worker CPUs, shared by the tests of this module."""
    ray = pytest.importorskip("ray")
    from ray import cloudpickle

    # the unit functions of this test module travel by value (workers cannot import it)
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    yield ray
    if started:
        ray.shutdown()


def test_ray_gives_the_serial_results_in_unit_order(ray_cluster):
    units = [Unit(seed=s, fold=f) for s in (0, 1) for f in range(4)]
    serial = run_units(units, _seeded)
    events = []
    parallel = run_units(units, _seeded, workers=2, progress=lambda e, **i: events.append(i))
    assert parallel == serial  # byte-identical
    assert [e["done"] for e in events if e["unit"]] == list(range(1, 9))
    assert max(e["running"] for e in events) == 2
    assert events[0]["queued"] == 6 and events[-1]["eta_seconds"] == 0.0


def _started(unit):
    t = time.time()
    time.sleep(0.3)
    return t


def test_ray_starts_network_units_before_baseline_units(ray_cluster):
    """Longest first: the CNN units start before the cheap ones; results stay in unit order."""
    from snpcnn.executor import estimated_cost

    units = [Unit(fold=f, data={"cnn": f in (2, 4), "baselines": ["gblup"]}) for f in range(5)]
    assert [estimated_cost(u) for u in units] == [1.0, 1.0, 10.0, 1.0, 10.0]
    assert estimated_cost(Unit(data={"kwargs": {"cnn": True}})) == 10.0
    assert estimated_cost(Unit(fold=0)) == 1.0
    starts = run_units(units, _started, workers=2)
    assert len(starts) == 5  # in unit order: one start time per unit
    assert max(starts[2], starts[4]) < min(starts[0], starts[1], starts[3])
    # a cheap unit never started before a long one that was queued with it
    assert sorted(starts)[:2] == sorted([starts[2], starts[4]])


def test_ray_names_the_device_from_a_worker_without_tensorflow_here(ray_cluster):
    """benchmark --workers: the device comes from a worker, the driver never starts TensorFlow."""
    code = (
        "import sys\n"
        "from snpcnn.executor import Executor\n"
        "with Executor(workers=1) as ex:\n"
        "    print(ex.device_description())\n"
        "print('tensorflow' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    device, imported = r.stdout.strip().splitlines()[-2:]
    assert imported == "False"
    from snpcnn.backend import device_description

    assert device == device_description() == Executor().device_description()


def test_ray_shares_genotypes_once_and_pins_threads(ray_cluster):
    d = np.random.default_rng(0).integers(0, 3, size=(40, 30)).astype(np.int8)
    g = Genotypes(d, [f"s{i}" for i in range(40)])
    out = run_units([Unit(fold=f) for f in range(4)], _worker_info, [g], workers=2)
    assert [o["sum"] for o in out] == [int(d.sum()) + f for f in range(4)]
    # read from Ray's shared object store, not a pickled copy per task
    assert not any(o["writeable"] for o in out)
    assert {o["omp"] for o in out} == {"1"} and {o["tf"] for o in out} == {"1"}
    assert all(n == 1 for o in out for n in o["blas"])
    assert os.getpid() not in {o["pid"] for o in out}


def test_ray_sends_a_cached_matrix_as_its_path(ray_cluster, tmp_path):
    from snpcnn.executor import _cache_handle
    from snpcnn.io.cache import load_cache, write_cache

    d = np.random.default_rng(1).integers(0, 3, size=(12, 8)).astype(np.int8)
    import pandas as pd

    variants = pd.DataFrame(
        {
            "chrom": "1",
            "pos": np.arange(1, 9),
            "id": [f"v{i}" for i in range(8)],
            "ref": "A",
            "alt": "G",
        }
    )
    g = Genotypes(d, [f"s{i}" for i in range(12)], variants)
    write_cache(g, tmp_path / "g.snpcnn")
    cached = load_cache(tmp_path / "g.snpcnn")
    handle = _cache_handle(cached)
    assert handle is not None and handle.path == str(tmp_path / "g.snpcnn")
    assert _cache_handle(g) is None  # in memory: goes to the object store
    out = run_units([Unit(fold=f) for f in range(2)], _worker_info, [cached], workers=2)
    assert [o["sum"] for o in out] == [int(d.sum()), int(d.sum()) + 1]


def test_ray_reruns_a_task_whose_worker_was_killed(ray_cluster, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("SNPCNN_TEST_KILL_ONCE", str(marker))
    units = [Unit(seed=0, fold=f) for f in range(4)]
    out = run_units(units, _seeded, workers=2)
    assert marker.is_file()  # a worker did die
    monkeypatch.delenv("SNPCNN_TEST_KILL_ONCE")
    assert out == run_units(units, _seeded)


def test_ray_worker_death_without_retries_keeps_finished_units(ray_cluster, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv("SNPCNN_TEST_KILL_ONCE", str(marker))
    saved = {}
    units = [Unit(seed=0, fold=f) for f in range(3)]
    with pytest.raises(Exception, match="worker died|--resume"):
        run_units(
            units,
            _seeded,
            workers=1,
            max_retries=0,
            on_result=lambda u, r: saved.update({u.key: r}),
        )
    monkeypatch.delenv("SNPCNN_TEST_KILL_ONCE")
    out = run_units(units, _seeded, workers=2, done=lambda u: saved.get(u.key))
    assert out == run_units(units, _seeded)


def test_ray_reraises_the_task_input_error(ray_cluster):
    with pytest.raises(InputError, match="fold 1: bad input"):
        run_units([Unit(fold=f) for f in range(3)], _fails, workers=2)


def test_cross_validate_parallel_gives_the_serial_folds(ray_cluster, example_data, tmp_path):
    """fit --workers: folds as Ray tasks, assembled (and refitted) by cross_validate here."""
    import pandas as pd

    from snpcnn.cv import cross_validate
    from snpcnn.executor import cross_validate_parallel

    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=60).iloc[:, :33]
    x.to_csv(tmp_path / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(tmp_path / "pheno.csv", index=False)
    kw = dict(
        model=str(TINY_ARCH), epochs=2, folds=3, baselines=["gblup", "ridge"], seed=4, refit=False
    )
    g, p = tmp_path / "geno.csv", tmp_path / "pheno.csv"
    serial = cross_validate(g, p, "GY_E1", **kw)
    events = []
    par = cross_validate_parallel(
        g, p, "GY_E1", workers=2, progress=lambda e, **i: events.append(e), **kw
    )
    assert events.count("tasks") >= 3 and "fold_done" in events
    base = ~serial.metrics["model"].str.startswith("CNN")
    pd.testing.assert_frame_equal(serial.metrics[base], par.metrics[base], check_exact=True)
    # the CNN: the same fits; TensorFlow's sums may differ in the last bits between this
    # process's thread count and the task's one thread (bit-identical with --threads 1)
    pd.testing.assert_frame_equal(serial.predictions, par.predictions, rtol=1e-5)
    assert len(par.metrics) == len(serial.metrics)
    assert par.config["execution"]["executor"] == "ray" and par.config["execution"]["workers"] == 2
    # the CNN/baseline seconds are task times added up: the wall-time line says so
    from snpcnn.report import console_report, summary_markdown

    added = "the folds' task times added up, run side by side by 2 workers"
    assert added in console_report(par) and added in summary_markdown(par)
    assert "added up" not in console_report(serial)


# ------------------------------------------- background start, warm-up, shutdown
def test_a_local_ray_starts_in_the_background_warms_its_workers_and_stops_cleanly(tmp_path):
    """Ray starts while this process works; the units run in the warmed workers (with the
    warm modules loaded), give the serial results, and close() leaves no Ray process."""
    # a module as slow to import as TensorFlow (but 3 s): both warm-up tasks run at once
    (tmp_path / "snpcnn_slow_probe.py").write_text("import time\ntime.sleep(3.0)\n")
    code = (
        "import os, sys, time\n"
        "import numpy as np\n"
        "from snpcnn.executor import Executor, Unit\n"
        "def unit_fn(unit):\n"
        "    rng = np.random.default_rng([unit.seed, unit.fold])\n"
        "    x = rng.normal(size=(30, 10))\n"
        "    time.sleep(0.2)\n"
        "    return os.getpid(), 'snpcnn_slow_probe' in sys.modules, (x @ x.T).sum(axis=0).tobytes()\n"
        "units = [Unit(seed=1, fold=f) for f in range(6)]\n"
        "ex = Executor(workers=2, warm=('snpcnn_slow_probe',))\n"
        "t0 = time.perf_counter()\n"
        "ex.start()\n"
        "t_start = time.perf_counter() - t0\n"
        "out = ex.map(units, unit_fn)\n"
        "ray = ex._ray\n"
        "warm = ray.get(ex._warm_refs)\n"
        "node = ray._private.worker._global_node\n"
        "procs = [i.process for infos in node.all_processes.values() for i in infos]\n"
        "monitor = node.all_processes['monitor'][0].process\n"
        "ex.close()\n"
        "ex.close()  # idempotent\n"
        "assert [o[2] for o in out] == [unit_fn(u)[2] for u in units]\n"
        "assert all(o[1] for o in out), out  # the warm module was loaded in every unit\n"
        "assert {o[0] for o in out} <= {w[0] for w in warm}, (out, warm)  # warmed workers\n"
        "assert [w[1] for w in warm] == ['', ''], warm\n"
        "assert all(p.poll() is not None for p in procs)  # every Ray process has exited\n"
        "assert monitor.returncode == -9, monitor.returncode  # killed, not waited on\n"
        "assert not ray.is_initialized()\n"
        "assert t_start < ex.timings['ray_init'], (t_start, ex.timings)  # did not wait\n"
        "print('ok', ex.timings['shutdown'])\n"
    )
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": path},  # Ray's workers inherit it
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split()[0] == "ok"


def test_a_warm_up_import_error_is_the_units_to_report(ray_cluster):
    """A warm module that cannot be imported never fails the run (the caller's Ray here)."""
    from snpcnn.executor import _warm

    pid, error = _warm(["snpcnn_no_such_module"], 1, {"OMP_NUM_THREADS": "1"})
    assert pid == os.getpid() and error.startswith("ModuleNotFoundError")
    with Executor(workers=2, warm=("snpcnn_no_such_module",)) as ex:
        assert ex.map([Unit(fold=f) for f in range(3)], _square, [1]) == [1, 2, 5]


def test_a_failed_background_start_is_the_one_line_error_at_the_first_use(ray_cluster, monkeypatch):
    """ray.init fails in the background thread: the first map raises the usual InputError
    (once per use, not a hang), and close() returns."""
    ray = pytest.importorskip("ray")

    def broken_init(*args, **kwargs):
        time.sleep(0.2)
        raise RuntimeError("no\nspace left")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", broken_init)
    ex = Executor(workers=2, warm=("colorsys",)).start()
    for _ in range(2):
        with pytest.raises(
            InputError, match=r"could not start a local Ray for --workers \(no space left\)"
        ):
            ex.map([Unit(fold=0)], _square, [0])
    assert ex.describe()["executor"] == "ray"
    ex.close()
    assert ex._owner is None
    monkeypatch.undo()  # started again after close(): the fixture's Ray, used as it is
    assert ex.map([Unit(fold=3)], _square, [0]) == [9]
    ex.close()
    # serial: start() and close() do nothing, and Ray is never needed
    serial = Executor().start()
    assert serial.map([Unit(fold=2)], _square, [1]) == [5]
    serial.close()


def test_ray_keeps_one_unit_waiting_so_a_worker_never_waits_for_this_process(ray_cluster):
    """While this process stores a finished unit (on_result), the next one already runs."""
    stored = {}

    def on_result(unit, started):
        time.sleep(0.5)  # a slow store
        stored[unit.fold] = time.time()

    starts = run_units([Unit(fold=f) for f in range(3)], _started, workers=1, on_result=on_result)
    assert starts[1] < stored[0] and starts[2] < stored[1]


def test_an_address_that_is_not_a_ray_head_is_one_line_in_seconds(capfd):
    """Another server's port: ray.init retried for ever, printing Ray's gcs_client lines
    every 30 s (a checking helper, session 34; 5 minutes of them before a timeout here)."""
    import http.server
    import threading

    pytest.importorskip("ray")
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        t0 = time.perf_counter()
        with pytest.raises(InputError, match=f"127.0.0.1:{port}'?: something listens there, but"):
            run_units([Unit(fold=0)], _square, [0], ray_address=f"127.0.0.1:{port}")
        assert time.perf_counter() - t0 < 10
    finally:
        server.shutdown()
        server.server_close()
    assert "gcs_client" not in capfd.readouterr().err


def test_a_real_ray_head_passes_the_check(ray_cluster):
    """A Ray GCS answers, or refuses for a missing auth token: both are Ray."""
    from snpcnn.executor import _check_reachable

    _check_reachable(ray_cluster.get_runtime_context().gcs_address)


def test_a_cache_replaced_during_a_run_is_never_read_as_the_old_one(tmp_path):
    """Ray workers reopen a cache by its path: one replaced after the run read it (convert
    --force) gave every fold other genotypes, silently (GBLUP r 0.23 -> -0.01)."""
    import pandas as pd

    from snpcnn.executor import _cache_handle, _resolve
    from snpcnn.io.cache import load_cache, write_cache

    variants = pd.DataFrame(
        {"chrom": "1", "pos": np.arange(1, 9), "id": [f"v{i}" for i in range(8)]}
    ).assign(ref="A", alt="G")
    ids = [f"s{i}" for i in range(12)]
    rng = np.random.default_rng(2)
    a = Genotypes(rng.integers(0, 3, size=(12, 8)).astype(np.int8), ids, variants)
    b = Genotypes(rng.integers(0, 3, size=(12, 8)).astype(np.int8), ids, variants)
    path = tmp_path / "g.snpcnn"
    write_cache(a, path)
    cached = load_cache(path)
    handle = _cache_handle(cached)
    assert handle is not None and handle.cache_id
    np.testing.assert_array_equal(_resolve(handle).dosages, a.dosages)
    time.sleep(1.1)  # another creation time in meta.json
    write_cache(b, path, force=True)
    # the driver sends the matrix it read instead of the path ...
    assert _cache_handle(cached) is None
    # ... and a worker handed the old path's handle refuses the new cache
    with pytest.raises(InputError, match="the genotype cache changed during the run"):
        _resolve(handle)


def test_the_eta_counts_units_from_their_start_and_runs_them_side_by_side(monkeypatch):
    """6 units of 10 s on 2 workers: after the first ends (t = 10 s) 20 s are left.  The
    estimate once divided all elapsed time (Ray's start included) by the units done and
    counted running units as whole ones (an 'ETA 2 min' seconds before the end)."""
    from snpcnn import executor

    now = [0.0]
    monkeypatch.setattr(executor.time, "perf_counter", lambda: now[0])
    seen = []
    tr = executor._Tracker(6, 0, lambda event, **info: seen.append(info["eta_seconds"]), slots=2)
    tr.start(0)
    tr.start(1)
    assert tr.eta(4) is None  # nothing finished: no estimate
    now[0] = 10.0
    tr.end(0)
    tr.start(2)  # the unit that waited in Ray's queue starts as unit 0 ends
    tr.finish(executor.Unit(fold=0), 2, 3)
    assert seen[-1] == pytest.approx(20.0)
    now[0] = 25.0  # unit 1 overran; units 2 (half done) and 3 run, 2 queued
    tr.end(1)
    tr.finish(executor.Unit(fold=1), 2, 2)
    tr.start(3)
    mean = (10.0 + 25.0) / 2
    assert tr.eta(2) == pytest.approx((2 * mean + (mean - 15.0) + mean) / 2)


def test_the_serial_eta_counts_the_unit_about_to_run(monkeypatch):
    """Serial units of 10 s: after the first of 3, 20 s are left (it said 10 s, and 0 s
    while the last one ran: the next unit started after the estimate; a review)."""
    from snpcnn import executor

    now = [0.0]
    monkeypatch.setattr(executor.time, "perf_counter", lambda: now[0])

    def unit_fn(unit):
        now[0] += 10.0
        return unit.fold

    etas = []
    out = executor.run_units(
        [executor.Unit(fold=f) for f in range(3)],
        unit_fn,
        progress=lambda event, **info: etas.append(info["eta_seconds"]),
    )
    assert out == [0, 1, 2]
    assert etas == [None, pytest.approx(20.0), pytest.approx(10.0), pytest.approx(0.0)]


def test_no_more_workers_are_warmed_than_the_run_has_tasks():
    """``fit --folds 2 --workers 3`` warmed 3 TensorFlow workers (3.9 GB) for 2 folds
    (session 40): start_early's ``units`` caps the warm-up tasks."""

    class FakeRay:
        def __init__(self):
            self.submitted = 0

        def remote(self, fn):
            ray = self

            class Remote:
                def options(self, **kw):
                    return self

                def remote(self, *a):
                    ray.submitted += 1
                    return ray.submitted

            return Remote()

    for limit, want in ((None, 3), (2, 2), (5, 3), (0, 1)):
        ex = Executor(workers=3, warm=("colorsys",), warm_limit=limit)
        ex._ray = FakeRay()
        ex._submit_warm()
        assert ex._ray.submitted == want == len(ex._warm_refs), (limit, ex._ray.submitted)
