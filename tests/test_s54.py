"""Session 54: simulated traits on real genotypes (``snpcnn simulate --genotypes``, a
benchmark ``simulate`` table with ``genotypes``)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError
from snpcnn.io import read_genotypes
from snpcnn.simulate import simulate_genotypes, simulate_trait


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    """A small simulated VCF to draw traits on, plus an inbred one (no heterozygote)."""
    d = tmp_path_factory.mktemp("s54")
    for name, extra in (("sim", []), ("inbred", ["--inbreeding", "1"])):
        res = CliRunner().invoke(
            main,
            ["simulate", "--samples", "80", "--snps", "150", "--seed", "3", *extra,
             "--out", str(d / name)],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
    return d


def test_trait_on_a_genotype_file_equals_the_library_draw(panel, tmp_path):
    vcf = panel / "sim" / "sim.vcf.gz"
    out = tmp_path / "t"
    res = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", str(vcf), "--architecture", "local_epistasis", "--loci",
         "3", "--seed", "11", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "on 80 samples x 150 SNPs of" in res.output
    assert f"next: snpcnn fit {vcf}" in res.output
    # no genotype file of its own: the trait belongs to the user's file
    assert sorted(p.name for p in out.iterdir()) == [
        "causal.csv",
        "phenotypes.csv",
        "simulation.json",
    ]
    g = read_genotypes(vcf)
    y, causal = simulate_trait(g, "local_epistasis", n_loci=3, seed=12, name="local_epistasis")
    ph = pd.read_csv(out / "phenotypes.csv", dtype={"sample_id": str})
    assert ph["sample_id"].tolist() == g.samples.astype(str).tolist()
    np.testing.assert_allclose(ph["local_epistasis"].to_numpy(), y.to_numpy(), rtol=1e-9)
    written = pd.read_csv(out / "causal.csv")
    assert written["index"].tolist() == causal["index"].tolist()
    assert written["id"].astype(str).tolist() == causal["id"].astype(str).tolist()
    rec = json.loads((out / "simulation.json").read_text())
    assert rec["genotypes"]["source"] == "file"
    assert rec["genotypes"]["n_samples"] == 80 and rec["genotypes"]["n_snps"] == 150
    assert len(rec["genotypes"]["checksum"]["sha256"]) == 64
    assert rec["ceiling"] == pytest.approx(y.attrs["ceiling"])
    assert rec["trait"]["seed"] == 12


def test_genotype_options_with_a_file_are_refused_and_nothing_is_written(panel, tmp_path):
    vcf = str(panel / "sim" / "sim.vcf.gz")
    out = tmp_path / "t"
    res = CliRunner().invoke(
        main, ["simulate", "--genotypes", vcf, "--samples", "50", "--ld", "0.5", "--out", str(out)]
    )
    assert res.exit_code != 0
    assert "--samples, --ld: shape simulated genotypes; with --genotypes" in res.output
    assert "leave them out" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_dominance_on_inbred_file_is_refused(panel, tmp_path):
    vcf = str(panel / "inbred" / "sim.vcf.gz")
    res = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", vcf, "--architecture", "dominance", "--out",
         str(tmp_path / "t")],
    )  # fmt: skip
    assert res.exit_code != 0
    assert "holds no heterozygous call (inbred lines?)" in res.output
    assert "choose another --architecture" in res.output
    assert not (tmp_path / "t").exists()


def test_too_many_loci_for_the_file_names_it(panel, tmp_path):
    vcf = str(panel / "sim" / "sim.vcf.gz")
    res = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", vcf, "--architecture", "sparse_additive", "--loci",
         "100000", "--out", str(tmp_path / "t")],
    )  # fmt: skip
    assert res.exit_code != 0
    assert f"--genotypes {vcf}: --loci 100000: give 1 to" in res.output
    assert "Traceback" not in res.output


def test_all_missing_snp_is_never_causal():
    """The allele frequencies of the group picker now come in row chunks (a real panel's
    int64 copy took 8 bytes per genotype); a SNP with no call has no frequency and is
    never picked."""
    g = simulate_genotypes(200, 60, seed=2)
    g.dosages[:, 10:20] = -1
    y, causal = simulate_trait(g, "local_epistasis", n_loci=4, seed=3)
    assert not set(causal["index"]) & set(range(10, 20))
    assert np.isfinite(y.to_numpy()).all()


def _config(tmp_path, simulate_table: str) -> str:
    p = tmp_path / "c.toml"
    p.write_text(
        'name = "c"\nbaselines = ["gblup"]\n[[datasets]]\nname = "d"\nfolds = 2\n'
        f"[datasets.simulate]\n{simulate_table}\n"
        '[[datasets.simulate.traits]]\nname = "pairs"\narchitecture = "local_epistasis"\n'
        "n_loci = 3\nseed = 5\n"
        '[[models]]\nname = "m"\npreset = "snpcnn_default"\n'
    )
    return str(p)


def test_benchmark_draws_traits_on_a_file(panel, tmp_path):
    from snpcnn.bench import _load_dataset, load_config

    vcf = panel / "sim" / "sim.vcf.gz"
    cfg = load_config(_config(tmp_path, f'genotypes = "{vcf}"'))
    spec = cfg.datasets[0]
    assert spec.simulate["genotypes"] == str(vcf)
    ds = _load_dataset(spec)
    g = read_genotypes(vcf)
    y, causal = simulate_trait(g, "local_epistasis", n_loci=3, seed=5, name="pairs")
    truth = ds.checksums["truth"]["pairs"]
    assert truth["causal_snps"] == causal["index"].tolist()
    assert truth["ceiling"] == pytest.approx(y.attrs["ceiling"])
    assert ds.genotypes.n_samples == 80 and ds.genotypes.n_snps == 150


@pytest.mark.parametrize(
    "table, words",
    [
        ('genotypes = "GENO"\nn_samples = 100', "'n_samples' shapes simulated genotypes"),
        ('genotypes = "nope.vcf.gz"', "nope.vcf.gz: no such file or PLINK prefix"),
        ('n_samples = 100\nn_snps = 50\nformat = "vcf"', "format applies to a genotype file"),
    ],
)
def test_benchmark_file_table_errors(panel, tmp_path, table, words):
    from snpcnn.bench import load_config

    table = table.replace("GENO", str(panel / "sim" / "sim.vcf.gz"))
    with pytest.raises(InputError, match=words.replace("(", r"\(")):
        load_config(_config(tmp_path, table))


# ------------------------------------------------------ a checking helper's findings


def test_constant_predictions_with_a_rounded_mean_are_collapsed():
    """12 copies of one float whose mean rounds: np.std 8.9e-16, which beside a trait of
    spread 1e-12 was scored r 0.001 (rounding noise) with a raw SciPy warning."""
    import warnings

    from snpcnn.metrics import is_collapsed, regression_metrics

    rng = np.random.default_rng(0)
    y = 5 + rng.normal(0, 1e-12, 12)
    pred = np.full(12, 5.000000000000103)
    assert np.std(pred) > 0  # the rounding the check must see through
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m, status = regression_metrics(y, pred)
    assert status == "collapsed" and np.isnan(m["pearson_r"])
    # real predictions around a large offset are not constant
    assert not is_collapsed(1e10 + rng.normal(0, 0.5, 12), 1e10 + rng.normal(0, 1, 12))
    assert is_collapsed(np.zeros(5))


def test_conv_folds_message_names_a_value_that_fits():
    from snpcnn.training import TrainConfig, _check_crossfit

    with pytest.raises(InputError) as info:
        _check_crossfit(TrainConfig(conv_folds=5), 9)
    msg = str(info.value)
    assert "need at least 10 training rows, this training part has 9" in msg
    assert "conv_folds=4" in msg and "conv_folds=0" in msg
    assert "fewer CV folds" not in msg
    with pytest.raises(InputError, match=r"use conv_folds=0 \(one network"):
        _check_crossfit(TrainConfig(conv_folds=5), 3)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_failed_refit_note_reads_as_words(tmp_path, monkeypatch):
    """The note named the exception class ("InputError: ...")."""
    import snpcnn.cv as cv
    from snpcnn.cv import cross_validate

    x = pd.DataFrame(
        np.random.default_rng(0).integers(0, 3, (40, 12)), columns=[f"m{j}" for j in range(12)]
    )
    x.insert(0, "sample_id", [f"s{i}" for i in range(40)])
    x.to_csv(tmp_path / "geno.csv", index=False)
    y = pd.DataFrame({"sample_id": x["sample_id"], "t": np.random.default_rng(1).normal(size=40)})
    y.to_csv(tmp_path / "pheno.csv", index=False)
    (tmp_path / "tiny.toml").write_text(
        'name = "tiny"\n[[blocks]]\ntype = "flatten"\n[[blocks]]\ntype = "dense"\nunits = 2\n'
    )

    def refuse(*a, **k):
        raise InputError(
            "no SNP passes the filters (MAF >= 0.49) in the 40 samples it is fitted on"
        )

    monkeypatch.setattr(cv, "_refit", refuse)
    res = cross_validate(
        str(tmp_path / "geno.csv"),
        str(tmp_path / "pheno.csv"),
        "t",
        model=str(tmp_path / "tiny.toml"),
        folds=2,
        epochs=1,
        baselines=["gblup"],
    )
    note = next(n for n in res.notes if "final refit" in n)
    assert note.startswith("the final refit on all 40 samples failed: no SNP passes the filters")
    assert "in the 40 samples it is fitted on" in note and "InputError" not in note
    assert res.final_bundle is None and not res.metrics.empty


def test_out_holding_the_genotype_file_is_refused_even_with_force(panel, tmp_path):
    """simulate --genotypes sim/sim.vcf.gz --out sim --force replaced sim/, deleting the
    genotypes the new trait was drawn on."""
    import shutil

    sim = tmp_path / "sim"
    shutil.copytree(panel / "sim", sim)
    res = CliRunner().invoke(
        main, ["simulate", "--genotypes", str(sim / "sim.vcf.gz"), "--out", str(sim), "--force"]
    )
    assert res.exit_code != 0
    assert "holds the input" in res.output and "Traceback" not in res.output
    assert (sim / "sim.vcf.gz").exists()


# ------------------------------------------------------ a reviewer's findings


def _write_table(path) -> None:
    """A 30 x 8 genotype table (sample_id + dosages)."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.integers(0, 3, (30, 8)), columns=[f"m{j}" for j in range(8)])
    x.insert(0, "sample_id", [f"s{i}" for i in range(30)])
    x.to_csv(path, index=False)


def test_benchmark_genotype_path_is_relative_to_the_config(panel, tmp_path):
    import shutil

    from snpcnn.bench import load_config

    (tmp_path / "data").mkdir()
    shutil.copy(panel / "sim" / "sim.vcf.gz", tmp_path / "data" / "g.vcf.gz")
    (tmp_path / "configs").mkdir()
    cfg = _config(tmp_path / "configs", 'genotypes = "../data/g.vcf.gz"')
    spec = load_config(cfg).datasets[0]
    assert spec.simulate["genotypes"] == str((tmp_path / "data" / "g.vcf.gz").resolve())


def test_benchmark_bad_format_and_undetectable_file_fail_at_load(panel, tmp_path):
    from snpcnn.bench import load_config

    vcf = panel / "sim" / "sim.vcf.gz"
    with pytest.raises(InputError, match="format must be one of .* got 'vcff'"):
        load_config(_config(tmp_path, f'genotypes = "{vcf}"\nformat = "vcff"'))
    odd = tmp_path / "geno.dat"  # a table under a name that tells no format
    _write_table(odd)
    with pytest.raises(InputError, match="genotypes: .*geno.dat"):
        load_config(_config(tmp_path, f'genotypes = "{odd}"'))
    # with its format named, it loads
    spec = load_config(_config(tmp_path, f'genotypes = "{odd}"\nformat = "table"')).datasets[0]
    assert spec.simulate["format"] == "table"


def test_genotypes_format_names_the_input_file(panel, tmp_path):
    odd = tmp_path / "geno.dat"  # a table under a name that tells no format
    _write_table(odd)
    res = CliRunner().invoke(
        main, ["simulate", "--genotypes", str(odd), "--out", str(tmp_path / "a")]
    )
    assert res.exit_code != 0 and "Traceback" not in res.output
    res = CliRunner().invoke(
        main,
        ["simulate", "--genotypes", str(odd), "--genotypes-format", "table", "--loci", "2",
         "--architecture", "sparse_additive", "--out",
         str(tmp_path / "b")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rec = json.loads((tmp_path / "b" / "simulation.json").read_text())
    assert rec["genotypes"]["format"] == "table"
    assert rec["files"]["genotypes"] == str(odd.resolve())
    res = CliRunner().invoke(
        main, ["simulate", "--genotypes-format", "vcf", "--out", str(tmp_path / "c")]
    )
    assert res.exit_code != 0 and "give --genotypes FILE" in res.output


def test_collapse_tolerance_is_a_few_float_steps():
    from snpcnn.metrics import is_collapsed, regression_metrics

    rng = np.random.default_rng(3)
    g = rng.normal(size=200)
    y = 1e9 + 1e-4 * (g + rng.normal(size=200))
    m, status = regression_metrics(y, 1e9 + 8e-5 * g)  # real predictions, tiny spread
    assert status == "ok" and m["pearson_r"] > 0.5
    base = 1e9
    steps = np.float64(base) + np.arange(5) * np.spacing(base)  # 4 float steps apart
    assert is_collapsed(steps)


def test_refit_note_on_a_bare_memory_error():
    from snpcnn.cv import _out_of_memory

    assert _out_of_memory(MemoryError()) == "out of memory"
    assert _out_of_memory(MemoryError("8 GiB")) == "out of memory (8 GiB)"


def test_preprocessor_filter_error_counts_the_samples_it_is_fitted_on():
    """It said "in the training samples", also where the refit on all samples failed."""
    from snpcnn.preprocess import GenotypePreprocessor

    g = simulate_genotypes(30, 20, seed=1)
    with pytest.raises(InputError, match="in the 12 samples it is fitted on; relax them"):
        GenotypePreprocessor(min_maf=0.5).fit(g, np.arange(12))
