"""Session 44: a fold table's unnamed fold column, the multi-trait boundary-correlation note,
and a failed refit of the scikit-learn estimators."""

import warnings

import numpy as np
import pytest
from test_estimator import TINY_KW

from snpcnn.cv import boundary_correlation_note
from snpcnn.errors import InputWarning
from snpcnn.estimator import SNPCNNClassifier, SNPCNNRegressor
from snpcnn.folds import read_folds

IDS = np.array([f"s{i}" for i in range(6)])


def test_an_unnamed_fold_column_among_several_is_named_in_a_warning(tmp_path):
    many = tmp_path / "many.csv"
    rows = "".join(f"s{i},{i % 2 + 1},{i},{i * 2}\n" for i in range(6))
    many.write_text("sample_id,env,year,plot\n" + rows)
    with pytest.warns(InputWarning, match=r"read from 'env', the first of 3 other columns"):
        t = read_folds(many, IDS)
    assert t["fold"].tolist() == [i % 2 + 1 for i in range(6)]
    # one other column: it is the fold column, quietly (as documented)
    two = tmp_path / "two.csv"
    two.write_text("sample_id,cv\n" + "".join(f"s{i},{i % 2 + 1}\n" for i in range(6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        read_folds(two, IDS)
    # a named fold column beside others: no warning either
    named = tmp_path / "named.csv"
    named.write_text("sample_id,year,fold\n" + "".join(f"s{i},{i},{i % 2 + 1}\n" for i in range(6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert read_folds(named, IDS)["fold"].tolist() == [i % 2 + 1 for i in range(6)]


def _history(start, corr):
    return {"conv": {"start": start, "start_choice": {"genetic_correlations": corr}}}


def test_a_genetic_correlation_on_the_boundary_is_named():
    at_one = [[1.0, 1.0, 0.2], [1.0, 1.0, 0.3], [0.2, 0.3, 1.0]]
    inside = [[1.0, 0.8, 0.2], [0.8, 1.0, 0.3], [0.2, 0.3, 1.0]]
    traits = ["BMI", "LEN", "W"]
    hist = [_history("mtgblup", at_one), _history("mt_cnn_gp", inside), _history("ridge", None)]
    note = boundary_correlation_note(hist, {}, traits)
    assert "BMI and LEN" in note and "1 of 2 fold(s)" in note and "refit" not in note
    note = boundary_correlation_note(hist, {"refit_genetic_correlations": at_one}, traits)
    assert "1 of 2 fold(s) and the refit (model.keras)" in note
    # -1 is the boundary too; inside it, or one trait, or a one-trait start: no note
    neg = [[1.0, -0.9995], [-0.9995, 1.0]]
    assert "A and B" in boundary_correlation_note([_history("mtgblup", neg)], {}, ["A", "B"])
    assert boundary_correlation_note([_history("mtgblup", inside)], {}, traits) is None
    assert boundary_correlation_note([_history("ridge", at_one)], {}, traits) is None
    assert boundary_correlation_note([], {}, ["A"]) is None
    base = [{"genetic_correlations": at_one}, {"genetic_correlations": inside}]
    note = boundary_correlation_note([], {}, traits, base)
    assert note.startswith("the MT-GBLUP baseline estimated a genetic correlation of 1")
    assert "in 1 of 2 fold(s)" in note and "explain" not in note
    note = boundary_correlation_note(hist, {}, traits, base)
    assert "1 of 2 fold(s) and the MT-GBLUP baseline in 1 of 2 fold(s)" in note


@pytest.mark.parametrize("cls", [SNPCNNRegressor, SNPCNNClassifier])
def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(cls):
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 3, (60, 16)), columns=[f"snp{i}" for i in range(16)])
    y = (X.iloc[:, :3].sum(axis=1) > 3).astype(float).to_numpy()
    est = cls(**TINY_KW).fit(X, y)
    before = est.predict(X)
    bad_y = y.copy()
    bad_y[0] = np.nan
    wider = pd.DataFrame(rng.integers(0, 3, (60, 20)), columns=[f"m{i}" for i in range(20)])
    with pytest.raises(ValueError):
        est.fit(wider, bad_y)  # NaN in y, after validate_data saw 20 new columns
    assert est.n_features_in_ == 16
    assert list(est.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(est.predict(X), before)
    with pytest.raises(Exception, match="encoding"):
        est.set_params(encoding="bits").fit(wider, y)
    est.set_params(encoding=SNPCNNRegressor().encoding)
    assert est.n_features_in_ == 16
    # a first fit that fails leaves nothing fitted
    fresh = cls(**TINY_KW)
    with pytest.raises(ValueError):
        fresh.fit(X, bad_y)
    assert not hasattr(fresh, "n_features_in_")


@pytest.mark.parametrize(
    "members, said",
    [
        ({"config.json": "{}", "model.weights.h5": "x", "metadata.json": "{}"}, "Keras model"),
        ({"xl/workbook.xml": "<x/>", "[Content_Types].xml": "<x/>"}, "Excel workbook"),
        ({"mimetype": "application/x", "content.xml": "<x/>"}, "OpenDocument"),
        ({"pheno.csv": "sample_id,y\n"}, "zip archive, not a text table; unzip it"),
    ],
)
def test_a_zip_given_as_a_table_is_named_for_what_it_is(tmp_path, members, said):
    import zipfile

    from snpcnn.errors import InputError
    from snpcnn.io.phenotypes import read_phenotypes

    path = tmp_path / "pheno.csv"  # the name says CSV; the bytes are a zip
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    with pytest.raises(InputError, match=said) as err:
        read_phenotypes(path)
    assert "not UTF-8" not in str(err.value) and str(path) in str(err.value)


def test_a_read_option_the_format_has_no_use_for_is_named(tmp_path, shared_data):
    from snpcnn.io import read_genotypes

    table = tmp_path / "g.csv"
    table.write_text("sample_id,a,b\ns1,0,2\ns2,1,2\ns3,2,0\n")
    with pytest.warns(InputWarning, match=r"multiallelic='alt1' is for VCF/BCF .* numeric table"):
        read_genotypes(table, multiallelic="alt1", cache=False)
    vcf = tmp_path / "g.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n"
        "1\t10\trs1\tA\tG\t.\t.\t.\tGT\t0/1\t1/1\n"
    )
    with pytest.warns(InputWarning, match=r"coding='01' is for a numeric table .* a VCF"):
        read_genotypes(vcf, coding="01", cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        read_genotypes(vcf, multiallelic="alt1", cache=False)
        read_genotypes(table, coding="012", cache=False)


def test_simulate_phenotype_takes_a_generator_as_numpy_does():
    from snpcnn.simulate import simulate_genotypes, simulate_phenotype

    g = simulate_genotypes(40, 30, seed=1)
    a, ca = simulate_phenotype(g, n_causal=3, seed=np.random.default_rng(5))
    b, cb = simulate_phenotype(g, n_causal=3, seed=5)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ca, cb)
    with pytest.raises(Exception, match="numpy Generator"):
        simulate_phenotype(g, n_causal=3, seed=-1)


def test_cli_messages_name_the_options_not_the_python_arguments(tmp_path, example_data):
    from click.testing import CliRunner

    from snpcnn.cli import main

    ph = str(example_data / "wheat_phenotypes.csv")
    r = CliRunner().invoke(main, ["fit", str(example_data / "wheat.vcf.gz"), ph, "--folds", "1"])
    assert "Error: --folds (K of K-fold) must be at least 2, got 1" in r.output
    odd = tmp_path / "g.dat"
    odd.write_text("x\n")
    r = CliRunner().invoke(main, ["info", str(odd)])
    assert "give --format (vcf, bcf" in r.output and "format=" not in r.output
    table = str(example_data / "wheat_X_dart01.csv.gz")
    r = CliRunner().invoke(main, ["info", table, "--snps-only"])
    assert "--snps-only needs allele information" in r.output


def test_a_format_the_files_first_bytes_contradict_is_named(example_data):
    from snpcnn.errors import InputError
    from snpcnn.io import read_genotypes

    bed = example_data / "wheat.bed"
    with pytest.raises(InputError, match=r"read as format='table', but .* a PLINK \.bed; give "):
        read_genotypes(bed, format="table", cache=False)
    vcf = example_data / "wheat.vcf.gz"
    with pytest.raises(InputError, match=r"first bytes are those of a VCF; give format='vcf'"):
        read_genotypes(vcf, format="plink", cache=False)
    assert read_genotypes(bed, format="bed", cache=False).n_snps == 1279  # an alias agrees


def test_traits_that_are_copies_or_named_twice_are_noted(tmp_path, example_data):
    import pandas as pd

    from snpcnn.cv import _copied_traits, cross_validate

    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    y = np.column_stack([a, 3 * a + 1, -a, rng.normal(size=40)])
    y[:5, 1] = np.nan  # the samples with both count
    note = _copied_traits(y, ["A", "B", "C", "D"])
    assert "'A' and 'B'; 'A' and 'C'; 'B' and 'C'" in note and "'D'" not in note
    assert _copied_traits(y[:, [0, 3]], ["A", "D"]) is None
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph["COPY"] = 2 * ph["GY_E2"] - 1
    ph.to_csv(tmp_path / "ph.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cross_validate(
            example_data / "wheat.vcf.gz",
            tmp_path / "ph.csv",
            ["GY_E2", "COPY", "GY_E2"],
            folds=2,
            cnn=False,
            baselines=["ridge"],
            refit=False,
        )
    text = " ".join(res.notes)
    assert "'GY_E2' and 'COPY' are the same values up to scale" in text
    assert "traits 'GY_E2' named more than once; each trait is fitted once" in text


def test_an_address_from_ray_address_is_named_as_such(monkeypatch):
    from snpcnn.errors import CLI_MODE, InputError
    from snpcnn.executor import _check_reachable

    monkeypatch.setenv("RAY_ADDRESS", "garbage")
    monkeypatch.setattr("sys.argv", ["snpcnn", "benchmark", "c.toml"])
    token = CLI_MODE.set(True)
    try:
        with pytest.raises(InputError, match=r"^RAY_ADDRESS=garbage: give HOST:PORT"):
            _check_reachable("garbage")
        monkeypatch.setattr("sys.argv", ["snpcnn", "fit", "--ray-address", "garbage"])
        with pytest.raises(InputError, match=r"^--ray-address garbage: give HOST:PORT"):
            _check_reachable("garbage")
    finally:
        CLI_MODE.reset(token)


def test_an_interrupt_exits_130_and_sigterm_143():
    from snpcnn._signals import Terminated
    from snpcnn.cli import _exit_status
    from snpcnn.errors import InputError, Interrupted

    assert _exit_status(KeyboardInterrupt()) == 130
    assert _exit_status(Terminated()) == 143
    assert _exit_status(Interrupted("kept", KeyboardInterrupt())) == 130
    assert _exit_status(Interrupted("kept", Terminated())) == 143
    assert _exit_status(InputError("bad")) == 1


def test_the_association_scan_takes_fewer_columns_at_a_time_on_many_rows(monkeypatch):
    """2,048 float64 columns on every row grew with the samples (explain with a phenotype
    file: 1,614 MB at 16,000 samples, 1,247 MB after; docs/bench/explain.md, session 44)."""
    import snpcnn.stats as st

    assert st.chunk_cols(1_000) == 2048
    assert st.chunk_cols(16_000) * 16_000 * 24 <= 256 * 1024 * 1024
    assert st.chunk_cols(10**8) == 16
    rng = np.random.default_rng(1)
    X = rng.integers(0, 3, (300, 70)).astype(np.int8)
    y = X[:, 3] + rng.normal(size=300)
    whole = st.marginal_association(X, y)
    monkeypatch.setattr(st, "_CHUNK_BYTES", 300 * 24 * 20)  # 20 columns at a time
    assert st.chunk_cols(300) == 20
    np.testing.assert_allclose(st.marginal_association(X, y)["p"], whole["p"], rtol=1e-12)


@pytest.mark.parametrize("cls_name", ["GBLUP", "RidgeRegression"])
def test_the_large_n_solver_is_exact_where_its_subsample_is_every_row(cls_name):
    """A streamed fold below 3,000 rows takes the large-n solver; its CG (relative residual
    1e-6) left GBLUP 5.4e-3 (3.5% of the SD) from the in-memory fit where REML put delta at
    its bound. With every row in the subsample the system is now solved exactly."""
    import snpcnn.baselines as b

    cls = getattr(b, cls_name)
    rng = np.random.default_rng(4)
    X = rng.integers(0, 3, (150, 1500)).astype(np.int8)
    y = X[:, :40] @ rng.normal(size=40)  # no noise: delta at its lower bound
    tr, te = np.arange(110), np.arange(110, 150)
    exact = cls(solver="exact").fit(X[tr].astype(np.float64), y[tr])
    it = cls(solver="iterative").fit(X[tr], y[tr])
    assert "solved directly" in it.notes_[-1] and it.cg_iterations_ == 0
    pe, pi = exact.predict(X[te]), it.predict(X[te])
    np.testing.assert_allclose(pi, pe, atol=1e-5 * np.std(pe))
    sub = cls(solver="iterative", subsample=100).fit(X[tr], y[tr])  # a true subsample: CG
    assert "conjugate gradient" in sub.notes_[-1] and sub.cg_iterations_ > 0


def test_a_full_disk_is_named_when_an_automatic_cache_fails():
    from snpcnn.io import _write_failure

    said = _write_failure(OSError("3200000 requested and 2097024 written"))
    assert said.startswith("a short write, the disk or a quota full or a size limit reached")
    import errno

    assert _write_failure(OSError(errno.ENOSPC, "x")) == "No space left on device"
    assert _write_failure(ValueError("a  b")) == "a b"


def test_run_json_names_the_cluster_the_run_started_on():
    """A node lost during the run made run.json say 1 node where 2 had run folds; --ray-address
    auto did not say which head it found (a checking helper, session 44)."""
    from types import SimpleNamespace

    from snpcnn.executor import Executor

    class FakeRay:
        alive = 1

        def is_initialized(self):
            return True

        def cluster_resources(self):
            return {"CPU": float(self.alive)}

        def nodes(self):
            return [{"Alive": True}] * self.alive

        def get_runtime_context(self):
            return SimpleNamespace(gcs_address="10.0.0.5:6379")

    ex = Executor(ray_address="auto")
    ex._ray = FakeRay()
    ex._cluster = {"cluster_cpus": 2.0, "nodes": 2, "gcs_address": "10.0.0.5:6379"}
    d = ex.describe()
    assert (d["nodes"], d["nodes_at_end"], d["cluster_cpus"], d["cluster_cpus_at_end"]) == (
        2,
        1,
        2.0,
        1.0,
    )
    assert d["address"] == "auto" and d["address_resolved"] == "10.0.0.5:6379"
    ex._cluster = {}  # Ray started by the caller: what it has now
    d = ex.describe()
    assert d["nodes"] == 1 and "nodes_at_end" not in d


def test_review_fixes_overlap_empty_column_snps_only_on_a_cache(tmp_path, example_data):
    from snpcnn.cv import _copied_traits
    from snpcnn.io import read_genotypes
    from snpcnn.io.cache import convert

    cache = convert(example_data / "wheat.bed", tmp_path / "w.snpcnn")
    with pytest.warns(InputWarning, match=r"snps_only=True is for VCF/BCF and PLINK files"):
        read_genotypes(cache, snps_only=True)

    y = np.full((200, 2), np.nan)
    y[:100, 0] = np.arange(100) % 2
    y[97:, 1] = np.arange(103) % 2  # 3 shared lines agree by chance
    assert _copied_traits(y, ["E1", "E2"]) is None
    folds = tmp_path / "f.csv"
    folds.write_text("sample_id,grp,\n" + "".join(f"s{i},{i % 2 + 1},\n" for i in range(6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert read_folds(folds, IDS)["fold"].tolist() == [i % 2 + 1 for i in range(6)]


def test_the_direct_solve_beats_cg_where_snps_are_close_to_the_rows():
    """The float32 Gram matrix's rounding made the dual worse than CG just above m = n
    (300 x 310: 1.9e-4 of the SD against 4e-6; a reviewer, session 44)."""
    import snpcnn.baselines.large_n as L

    rng = np.random.default_rng(0)
    for n, m in ((300, 310), (300, 290)):
        X = rng.integers(0, 3, (n, m)).astype(np.int8)
        y = X[:, :20] @ rng.normal(size=20) + 0.1 * rng.normal(size=n)
        _, _, _, _, mo = L.prepare(X, y, None, "test")
        Z = X.astype(np.float64) - X.mean(axis=0)
        S = np.eye(n) - mo.Q @ mo.Q.T
        ref = np.linalg.solve(Z.T @ S @ Z + 1e-3 * np.eye(m), Z.T @ S @ y)
        direct = L.solve_exact(X, mo, 1e-3, None).coef
        cg = L.solve_cg(X, mo, 1e-3).coef
        sd = np.std(Z @ ref)
        err = np.abs(Z @ (direct - ref)).max() / sd
        assert err < 1e-9 and err < np.abs(Z @ (cg - ref)).max() / sd


def test_simulate_writes_the_same_bytes_and_guards_its_truth(tmp_path, monkeypatch):
    import gzip

    from click.testing import CliRunner

    from snpcnn.cli import main

    out = tmp_path / "s"
    r = CliRunner().invoke(main, ["simulate", "--out", str(out), "--samples", "80", "--snps", "60"])
    assert r.exit_code == 0, r.output
    head = (out / "sim.vcf.gz").read_bytes()[:10]
    assert head[4:8] == b"\x00\x00\x00\x00"  # gzip mtime 0: no time of writing in the bytes
    assert gzip.decompress((out / "sim.vcf.gz").read_bytes()).startswith(b"##fileformat=VCF")
    from snpcnn.report import results_folder_owner

    assert results_folder_owner(out) == "snpcnn simulate"


def test_a_head_that_asks_for_an_auth_token_is_one_line_at_once(monkeypatch):
    """Ray's token authentication (on for `ray start` by default since Ray 2.5x): without a
    token ray.init retried for 20 s, printing Ray's gcs_client lines, then said only "Failed
    to connect"; with a wrong token the same (session 45)."""
    import socket

    grpc = pytest.importorskip("grpc")
    pytest.importorskip("ray.core.generated.gcs_service_pb2_grpc")
    from ray.core.generated import gcs_service_pb2_grpc

    from snpcnn.errors import InputError
    from snpcnn.executor import _check_reachable

    class Unauthenticated(grpc.RpcError):
        def code(self):
            return grpc.StatusCode.UNAUTHENTICATED

    class Stub:
        def __init__(self, channel):
            pass

        def CheckAlive(self, *a, **k):
            raise Unauthenticated()

    monkeypatch.setattr(gcs_service_pb2_grpc, "NodeInfoGcsServiceStub", Stub)
    monkeypatch.delenv("RAY_USE_TLS", raising=False)
    with socket.create_server(("127.0.0.1", 0)) as srv:  # something listens: reachable
        address = f"127.0.0.1:{srv.getsockname()[1]}"
        monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
        with pytest.raises(InputError, match="asks for an auth token .* set RAY_AUTH_MODE=token"):
            _check_reachable(address)
        monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
        with pytest.raises(InputError, match="asks for an auth token"):
            _check_reachable(address)
        monkeypatch.setenv("RAY_AUTH_MODE", "token")
        with pytest.raises(InputError, match="refused this process's auth token"):
            _check_reachable(address)
