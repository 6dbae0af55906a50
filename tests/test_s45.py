"""Session 45: what a checking helper found in `snpcnn simulate` and results folders."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError


def _simulate(*args):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def test_force_never_deletes_a_file_written_into_a_results_folder_later(tmp_path):
    from snpcnn import __version__
    from snpcnn.report import FOLDER_FILES, atomic_directory, check_output_dir

    out = tmp_path / "sim"
    assert _simulate("--out", out, "--samples", 60, "--snps", 200).exit_code == 0
    own = json.loads((out / "simulation.json").read_text())[FOLDER_FILES]
    assert own == ["causal.csv", "phenotypes.csv", "sim.vcf.gz"]
    (out / "preds.csv").write_text("sample_id,y\n")  # e.g. `snpcnn predict --out sim/preds.csv`
    r = _simulate("--out", out, "--samples", 60, "--snps", 200, "--force")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "sim holds preds.csv, written there after snpcnn simulate wrote the folder" in r.output
    assert (out / "preds.csv").exists()
    (out / "preds.csv").unlink()
    assert _simulate("--out", out, "--samples", 60, "--snps", 200, "--force").exit_code == 0
    # a fit folder alike (run.json), and a folder from before the key is replaced as before
    fit = tmp_path / "fit"
    with atomic_directory(fit, command="fit") as tmp:
        (tmp / "metrics.csv").write_text("x\n")
        (tmp / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
    assert json.loads((fit / "run.json").read_text())[FOLDER_FILES] == ["metrics.csv"]
    (fit / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="holds mine.txt, written there after snpcnn fit"):
        check_output_dir(fit, True, command="fit")
    (fit / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
    assert check_output_dir(fit, True, command="fit") == fit


def test_missing_calls_are_masked_after_the_trait_is_drawn(tmp_path):
    """The trait was drawn on the masked calls (each the SNP's mean), so its ceiling did not
    move with --missing-rate and missing calls cost a model nothing."""
    import pandas as pd

    from snpcnn.io import read_genotypes

    ceilings = {}
    for rate in (0.0, 0.5):
        out = tmp_path / f"m{rate}"
        r = _simulate(
            "--out", out, "--samples", 400, "--snps", 300, "--architecture", "sparse_additive",
            "--missing-rate", rate, "--format", "plink",
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        rec = json.loads((out / "simulation.json").read_text())
        ceilings[rate] = rec["ceiling"]
        assert rec["genotypes"]["missing_rate"] == rate and rec["genotypes"]["missing_seed"] == 2
        g = read_genotypes(out / "sim.bed")
        assert abs(float((np.asarray(g.dosages) < 0).mean()) - rate) < 0.02
    # the same genotypes and trait with and without missing calls: the truth does not
    # depend on which calls are masked
    assert ceilings[0.0] == ceilings[0.5]
    a = pd.read_csv(tmp_path / "m0.0" / "phenotypes.csv")
    b = pd.read_csv(tmp_path / "m0.5" / "phenotypes.csv")
    assert a.equals(b)
    d0 = np.asarray(read_genotypes(tmp_path / "m0.0" / "sim.bed").dosages)
    d5 = np.asarray(read_genotypes(tmp_path / "m0.5" / "sim.bed").dosages)
    seen = d5 >= 0
    assert np.array_equal(d0[seen], d5[seen])
    # a fit on the masked genotypes loses against the complete ones: the calls carried the
    # signal (least squares on the causal SNPs, mean-imputed)
    causal = pd.read_csv(tmp_path / "m0.5" / "causal.csv")["index"].to_numpy()
    y = a.iloc[:, 1].to_numpy()

    def r2(d):
        x = d[:, causal].astype(float)
        for j in range(x.shape[1]):
            col = x[:, j]
            col[col < 0] = col[col >= 0].mean()
        x = np.column_stack([np.ones(len(x)), x])
        fit = x @ np.linalg.lstsq(x, y, rcond=None)[0]
        return np.corrcoef(fit, y)[0, 1]

    assert r2(d5) < r2(d0) - 0.05


def test_mask_calls_checks_and_records():
    from snpcnn.simulate import mask_calls, simulate_genotypes

    g = simulate_genotypes(50, 40, seed=1)
    with pytest.raises(InputError, match="missing_rate"):
        mask_calls(g, 1.5)
    g = mask_calls(g, 0.2, seed=4)
    assert g.report["simulation"]["missing_rate"] == 0.2
    assert g.report["simulation"]["missing_seed"] == 4


def test_simulate_messages_name_the_option_and_the_real_limit(tmp_path):
    r = _simulate("--out", tmp_path / "a", "--h2", "nan")
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: --h2 nan: give a number (see snpcnn simulate --help)"
    )
    r = _simulate("--out", tmp_path / "a", "--samples", 20, "--snps", 10)
    # 10 groups of 2 cannot come from 10 SNPs (it said "give 1 to 9", and 9 failed too)
    assert "--loci 10: give 1 to " in r.output and "groups of 2 SNPs among" in r.output
    most = int(r.output.split("give 1 to ")[1].split()[0])
    assert most <= 5
    r = _simulate("--out", tmp_path / "a", "--samples", 20, "--snps", 10, "--loci", 6,
                  "--architecture", "mixed")  # fmt: skip
    assert "additive SNPs and as many groups of 2" in r.output
    assert not (tmp_path / "a").exists()
    r = _simulate("--out", f"{tmp_path / 'my sim'}/", "--samples", 60, "--snps", 60)
    assert r.exit_code == 0, r.output
    assert f"--out '{tmp_path / 'my sim'}_results'" in r.output and "//" not in r.output


def test_force_checks_subfolders_ignores_os_clutter_and_looks_again_at_the_end(tmp_path):
    from snpcnn import __version__
    from snpcnn.report import FOLDER_FILES, atomic_directory, check_output_dir

    fit = tmp_path / "fit"
    with atomic_directory(fit, command="fit") as tmp:
        (tmp / "plots").mkdir()
        (tmp / "plots" / "a.png").write_text("x")
        (tmp / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
    assert json.loads((fit / "run.json").read_text())[FOLDER_FILES] == ["plots/a.png"]
    (fit / "plots" / "my_figure.png").write_text("mine")  # a reviewer's case: deleted before
    with pytest.raises(InputError, match="holds plots/my_figure.png, written there after"):
        check_output_dir(fit, True, command="fit")
    (fit / "plots" / "my_figure.png").unlink()
    (fit / ".DS_Store").write_text("")  # Finder's and Jupyter's clutter does not block --force
    (fit / ".ipynb_checkpoints").mkdir()
    (fit / ".ipynb_checkpoints" / "x.ipynb").write_text("{}")
    assert check_output_dir(fit, True, command="fit") == fit
    # a file written into the folder while the command ran is kept, and so are the new
    # results, beside it (a reviewer: they were thrown away)
    with pytest.raises(InputError, match=r"fit got notes.txt while this command ran.*fit.new"):
        with atomic_directory(fit, force=True, command="fit") as tmp:
            (tmp / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
            (tmp / "metrics.csv").write_text("new")
            (fit / "notes.txt").write_text("a colleague's")
    assert (fit / "notes.txt").read_text() == "a colleague's"
    assert (fit / "plots" / "a.png").exists()  # the earlier results are still there
    assert (tmp_path / "fit.new" / "metrics.csv").read_text() == "new"


def test_the_memory_left_in_a_cgroup_does_not_count_page_cache(tmp_path, monkeypatch):
    from snpcnn import threads

    files = {
        "/proc/self/cgroup": "0::/job\n",
        "/sys/fs/cgroup/job/memory.max": str(2 * 2**30),
        "/sys/fs/cgroup/job/memory.current": str(int(1.9 * 2**30)),
        "/sys/fs/cgroup/job/memory.stat": f"anon 100\ninactive_file {int(1.5 * 2**30)}\n",
        "/proc/meminfo": "MemTotal: 100 kB\nMemAvailable: 8388608 kB\n",
    }
    monkeypatch.setattr(threads, "_read_text", files.get)
    left = threads.available_memory()
    assert abs(left - 1.6 * 2**30) < 2**20  # 2 GiB - (1.9 - 1.5) GiB, not 0.1 GiB
    files["/sys/fs/cgroup/job/memory.max"] = "max"
    assert threads.available_memory() == 8 * 2**30  # no cap: the machine's MemAvailable
    del files["/proc/self/cgroup"]  # cgroup v1
    files["/sys/fs/cgroup/memory/memory.limit_in_bytes"] = str(2**30)
    files["/sys/fs/cgroup/memory/memory.usage_in_bytes"] = str(2**29)
    files["/sys/fs/cgroup/memory/memory.stat"] = f"total_inactive_file {2**28}\n"
    assert threads.available_memory() == 2**30 - 2**28
    # a Slurm-like tree: the job group is capped, the task group is not
    files["/proc/self/cgroup"] = "0::/job/task\n"
    files["/sys/fs/cgroup/job/task/memory.max"] = "max"
    files["/sys/fs/cgroup/job/task/memory.current"] = str(2**30)
    files["/sys/fs/cgroup/job/memory.max"] = str(4 * 2**30)
    files["/sys/fs/cgroup/job/memory.current"] = str(3 * 2**30)
    files["/sys/fs/cgroup/job/memory.stat"] = "inactive_file 0\n"
    assert threads.available_memory() == 2**30
    del files["/proc/self/cgroup"]
    # a tiny simulation in a nearly full container (page cache) is not refused
    files["/sys/fs/cgroup/memory/memory.usage_in_bytes"] = str(2**30 - 2**20)
    files["/sys/fs/cgroup/memory/memory.stat"] = f"total_inactive_file {2**29}\n"
    r = _simulate("--out", tmp_path / "s", "--samples", 50, "--snps", 100)
    assert r.exit_code == 0, r.output


def test_the_simulated_vcf_is_bgzf_and_indexable(tmp_path):
    """tabix and bcftools refused the plain gzip file (a checking helper, session 45)."""
    import gzip
    import shutil
    import struct
    import subprocess

    out = tmp_path / "s"
    assert _simulate("--out", out, "--samples", 300, "--snps", 400, "--seed", 2).exit_code == 0
    raw = (out / "sim.vcf.gz").read_bytes()
    pos, blocks = 0, 0
    while pos < len(raw):  # every member a BGZF block: FEXTRA with BC and its size
        assert raw[pos : pos + 4] == b"\x1f\x8b\x08\x04" and raw[pos + 12 : pos + 14] == b"BC"
        bsize = struct.unpack("<H", raw[pos + 16 : pos + 18])[0] + 1
        pos, blocks = pos + bsize, blocks + 1
    assert (
        pos == len(raw) and blocks > 2 and raw.endswith(bytes.fromhex("1b0003000000000000000000"))
    )
    text = gzip.decompress(raw).decode()
    assert '##FILTER=<ID=PASS,Description="All filters passed">' in text
    assert "##contig=<ID=1,length=" in text
    again = tmp_path / "t"
    assert _simulate("--out", again, "--samples", 300, "--snps", 400, "--seed", 2).exit_code == 0
    assert (again / "sim.vcf.gz").read_bytes() == raw  # the same seed, the same bytes
    if shutil.which("tabix"):
        subprocess.run(["tabix", "-p", "vcf", str(out / "sim.vcf.gz")], check=True)


def test_r_write_csv_phenotypes_and_na_like_sample_ids(tmp_path, example_data):
    import warnings

    import pandas as pd

    from snpcnn.errors import InputWarning
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str}).head(20)
    ph.index = range(1, len(ph) + 1)
    ph.to_csv(tmp_path / "r.csv", index=True, index_label="")  # R's write.csv(df)
    assert (tmp_path / "r.csv").read_text().startswith(",sample_id,")
    with pytest.warns(InputWarning, match="left out: the sample ids are column 'sample_id'"):
        p = read_phenotypes(tmp_path / "r.csv")
    assert list(p.table.index[:3]) == list(ph["sample_id"][:3])
    assert "row_names" not in p.traits and len(p.traits) == ph.shape[1] - 1
    # a sorted or filtered frame: row labels out of order, still left out (a checking
    # helper: with them read as the ids, phenotypes were paired with the wrong samples)
    ph.sort_values("GY_E1").to_csv(tmp_path / "sorted.csv", index_label="")
    with pytest.warns(InputWarning, match="left out"):
        p = read_phenotypes(tmp_path / "sorted.csv")
    assert p.table.loc[ph["sample_id"].iloc[4], "GY_E1"] == ph["GY_E1"].iloc[4]
    # an id column under another name: given with --id-column, or refused, never guessed
    other = ph.rename(columns={"sample_id": "GID"}).sort_values("GY_E1")
    other.to_csv(tmp_path / "gid.csv", index_label="")
    with pytest.raises(InputError, match="holds whole numbers: row numbers .* or the sample ids"):
        read_phenotypes(tmp_path / "gid.csv")
    with pytest.warns(InputWarning, match="the sample ids are column 'GID'"):
        p = read_phenotypes(tmp_path / "gid.csv", id_column="GID")
    assert p.table.loc[ph["sample_id"].iloc[4], "GY_E1"] == ph["GY_E1"].iloc[4]
    # R row names that are the ids (text) are the ids
    named = ph.assign(sample_id="L" + ph["sample_id"])
    named.set_index("sample_id").to_csv(tmp_path / "rn.csv", index_label="")
    with pytest.warns(InputWarning, match="read as the sample ids"):
        p = read_phenotypes(tmp_path / "rn.csv")
    assert list(p.table.index[:3]) == list(named["sample_id"][:3])
    from snpcnn.simulate import simulate_genotypes, write_genotypes

    g = simulate_genotypes(5, 20, n_chrom=1, seed=1)
    g.samples[1], g.samples[3] = "NA", "nan"
    path = write_genotypes(g, tmp_path, "vcf", "odd")
    with pytest.warns(InputWarning, match=r"sample ids 'NA', 'nan' read back as a missing value"):
        read_genotypes(path, cache=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_genotypes(
            write_genotypes(simulate_genotypes(5, 20, n_chrom=1), tmp_path, "plink", "ok")
        )


def test_token_mode_without_any_token_is_one_line(tmp_path):
    """RAY_AUTH_MODE=token with no token anywhere: Ray's own interceptor raised its
    AuthenticationError out of the check ("internal error ... report it"; a reviewer).  In a
    child process: Ray reads its token source once per process."""
    import os
    import subprocess
    import sys

    pytest.importorskip("grpc")
    pytest.importorskip(
        "ray._private.authentication.grpc_authentication_client_interceptor",
        exc_type=ImportError,
    )
    code = (
        "import socket\n"
        "from snpcnn.errors import InputError\n"
        "from snpcnn.executor import _check_reachable\n"
        "with socket.create_server(('127.0.0.1', 0)) as srv:\n"
        "    try:\n"
        "        _check_reachable(f'127.0.0.1:{srv.getsockname()[1]}')\n"
        "    except InputError as exc:\n"
        "        print(exc)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env.update(HOME=str(tmp_path), RAY_AUTH_MODE="token")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "Ray found no auth token to send to the Ray cluster at" in r.stdout, r.stderr[-2000:]


def test_benchmark_simulations_mask_calls_after_the_traits(tmp_path):
    import shutil

    from snpcnn.bench import DatasetSpec, _simulate_dataset

    sim = {
        "n_samples": 300,
        "n_snps": 200,
        "n_chrom": 2,
        "seed": 3,
        "traits": [{"name": "t", "architecture": "sparse_additive", "n_loci": 5, "seed": 1}],
    }
    full = _simulate_dataset(DatasetSpec(name="s", genotypes=None, phenotypes=None,
                                         traits=("t",), simulate=sim))  # fmt: skip
    masked = _simulate_dataset(DatasetSpec(name="s", genotypes=None, phenotypes=None,
                                           traits=("t",), simulate={**sim, "missing_rate": 0.3}))  # fmt: skip
    # the truth is that of the complete genotypes: the same trait and ceiling
    assert open(full[1]).read() == open(masked[1]).read()
    assert full[2]["t"]["ceiling"] == masked[2]["t"]["ceiling"]
    d0, d3 = np.asarray(full[0].dosages), np.asarray(masked[0].dosages)
    assert 0.25 < (d3 < 0).mean() < 0.35 and np.array_equal(d0[d3 >= 0], d3[d3 >= 0])
    for _, csv, _ in (full, masked):
        shutil.rmtree(csv.parent, ignore_errors=True)


def test_a_plink_raw_export_is_named_with_the_fix(tmp_path):
    from snpcnn.io import read_genotypes

    raw = tmp_path / "w.raw"
    raw.write_text(
        "FID IID PAT MAT SEX PHENOTYPE rs1_A rs2_G\n775 775 0 0 0 -9 0 2\n776 776 0 0 0 -9 1 NA\n"
    )
    with pytest.raises(InputError, match=r"a PLINK --recode A \(.raw\) file.*cut -d' ' -f2,7-"):
        read_genotypes(raw, "table", cache=False)


def test_test_folds_of_two_samples_are_refused(tmp_path):
    """A fold of 2 always scores r = +-1 and weighs as much as the others in the mean: a
    fold file's lifted a GBLUP mean from 0.505 to 0.629, group folds' to 0.694 (a checking
    helper, session 45)."""
    import pandas as pd

    from snpcnn.folds import make_folds, read_folds

    ids = np.array([f"s{i}" for i in range(30)])
    fold = np.r_[np.repeat([1, 2, 3], 9), [4, 4, 5]]  # folds 4 and 5 are tiny
    pd.DataFrame({"sample_id": ids, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(InputError, match=r"fold 5 holds a single sample"):
        read_folds(tmp_path / "f.csv", ids)
    fold[-1] = 3
    pd.DataFrame({"sample_id": ids, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    with pytest.raises(InputError, match=r"fold 4 holds only 2 samples \('s27', 's28'\).*always"):
        read_folds(tmp_path / "f.csv", ids)
    fold[-1] = 4  # three samples: scored
    pd.DataFrame({"sample_id": ids, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    assert read_folds(tmp_path / "f.csv", ids)["fold"].nunique() == 4
    from snpcnn.folds import NO_GROUP

    lone = np.array(["BIG"] * 28 + [NO_GROUP + "s28", NO_GROUP + "s29"])
    with pytest.raises(InputError, match=r"a sample with no value \(s28\)") as err:
        make_folds(ids, k=3, groups=lone)
    assert "\x00" not in str(err.value)
    groups = np.array(["BIG"] * 25 + ["A", "A", "B", "C", "C"])
    with pytest.raises(InputError, match=r"makes a test fold of 1 sample\(s\) \(group\(s\) B\)"):
        make_folds(ids, k=4, groups=groups)
    assert make_folds(ids, k=2, groups=groups)["fold"].value_counts().min() == 5


def test_a_repeated_group_split_is_a_run_note(example_data, tmp_path):
    """The warning reached the console only: summary.md and run.json counted the duplicate
    folds as independent without a word (a checking helper, session 45)."""
    import warnings

    import pandas as pd

    from snpcnn.cv import cross_validate

    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph["family"] = [f"F{i % 3}" for i in range(len(ph))]  # 3 groups: few ways to make 2 folds
    ph.to_csv(tmp_path / "ph.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cross_validate(
            example_data / "wheat.vcf.gz",
            tmp_path / "ph.csv",
            ["GY_E1"],
            folds=2,
            repeats=4,
            groups="family",
            cnn=False,
            baselines=["ridge"],
            refit=False,
        )
    assert any("split the groups into folds exactly as an earlier one" in n for n in res.notes)
