"""Session 49: interacting SNPs on different chromosomes (``placement="trans"``)."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError
from snpcnn.simulate import simulate_genotypes, simulate_trait
from snpcnn.training import screen_window_sets


def test_trans_placement_puts_each_snp_of_a_group_on_its_own_chromosome():
    g = simulate_genotypes(300, 600, n_chrom=4, seed=1)
    for order in (2, 3):
        y, causal = simulate_trait(g, n_loci=6, order=order, placement="trans", seed=2)
        per_group = causal.groupby("group")["chrom"].nunique()
        assert len(per_group) == 6 and (per_group == order).all()
        assert y.attrs["placement"] == "trans" and y.attrs["ceiling"] > 0.5
    y, causal = simulate_trait(g, "mixed", n_loci=5, placement="trans", seed=3)
    epi = causal[causal["component"] == "epistasis"]
    assert (epi.groupby("group")["chrom"].nunique() == 2).all()
    assert set(causal["index"]).__len__() == len(causal)  # additive SNPs and pairs disjoint
    # local (the default): one chromosome per group, within max_gap
    y, causal = simulate_trait(g, n_loci=6, seed=2)
    assert y.attrs["placement"] == "local"
    assert (causal.groupby("group")["chrom"].nunique() == 1).all()
    assert causal.groupby("group")["index"].agg(lambda s: s.max() - s.min()).between(1, 4).all()


def test_trans_placement_refuses_too_few_chromosomes_and_unknown_values(tmp_path):
    g = simulate_genotypes(200, 300, n_chrom=2, seed=1)
    with pytest.raises(InputError, match=r"placement='trans' .* at least 3 such chromosomes"):
        simulate_trait(g, order=3, placement="trans")
    with pytest.raises(InputError, match="Expected one of local, trans"):
        simulate_trait(g, placement="cis")
    simulate_trait(g, "dominance", placement="trans")  # no groups: plays no part
    args = ["simulate", "--samples", "200", "--snps", "300", "--chromosomes", "2"]
    res = CliRunner().invoke(main, [*args, "--placement", "trans", "--order", "3", "--out",
                                    str(tmp_path / "s")])  # fmt: skip
    assert res.exit_code != 0
    assert "--placement trans" in res.output and "--chromosomes 3 or more" in res.output
    assert not (tmp_path / "s").exists()


def test_simulate_cli_writes_a_trans_trait_and_records_it(tmp_path):
    out = tmp_path / "sim"
    args = ["simulate", "--samples", "200", "--snps", "400", "--placement", "trans"]
    res = CliRunner().invoke(main, [*args, "--loci", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "trait 'trans_epistasis'" in res.output
    assert list(pd.read_csv(out / "phenotypes.csv").columns) == ["sample_id", "trans_epistasis"]
    causal = pd.read_csv(out / "causal.csv")
    assert (causal.groupby("group")["chrom"].nunique() == 2).all()
    trait = json.loads((out / "simulation.json").read_text())["trait"]
    assert trait["placement"] == "trans" and trait["name"] == "trans_epistasis"
    # --max-gap plays no part with trans: a gap beyond the SNPs is not refused there
    res = CliRunner().invoke(main, [*args, "--max-gap", "400", "--out", str(tmp_path / "g")])
    assert res.exit_code == 0, res.output


def test_the_far_pair_screen_gives_a_pair_on_two_chromosomes_a_window():
    # two strong pairs across chromosomes; the screen as the default runs it (all pairs)
    g = simulate_genotypes(1200, 300, n_chrom=3, seed=5)
    y, causal = simulate_trait(g, n_loci=2, h2=0.8, placement="trans", effect_dist="equal", seed=6)
    x = np.asarray(g.dosages, dtype=np.float64)
    z = ((x - x.mean(0)) / np.maximum(x.std(0), 1e-9)).astype(np.float32)[..., None]
    r = ((y - y.mean()) / y.std()).to_numpy(np.float32)[:, None]
    pairs = [sorted(p) for p in causal.groupby("group")["index"].agg(list)]
    near = screen_window_sets(z, r, 6, 3, reach=16, lead=True)
    assert not any(p in near[:, :2].tolist() for p in pairs)  # no window reaches across
    info: dict = {}
    far = screen_window_sets(z, r, 6, 3, reach=16, all_pairs=True, info=info, lead=True)
    assert all(p in far[:, :2].tolist() for p in pairs)
    assert info["far_significant"] >= 2 and info["far_windows"] >= 2


def test_reports_say_where_a_far_pair_led_windows(tmp_path):
    from test_s47 import ARCH

    from snpcnn.cv import cross_validate
    from snpcnn.report import conv_kept_text, summary_markdown

    g = simulate_genotypes(300, 60, n_chrom=2, seed=7)
    y, causal = simulate_trait(g, n_loci=1, h2=0.9, placement="trans", seed=8)
    y.rename("t").to_frame().to_csv(tmp_path / "y.csv", index_label="sample_id")
    kw = dict(folds=2, epochs=5, patience=5, conv_folds=2, baselines=["gblup"], refit=False)
    screen = {**ARCH["screen"], "all_pairs": True, "map_all_pairs": True}
    res = cross_validate(g, tmp_path / "y.csv", "t", model={**ARCH, "screen": screen}, **kw)
    orders = res.screen_orders()
    assert orders["fits"] == 2 and orders["far_fits"] == 2 and orders["far_on_map"] == 2
    recs = [h["conv"]["screen_order"] for h in res.histories]
    assert orders["far_windows"] == sum(sum(r["far_windows"]) for r in recs) >= 4
    text = conv_kept_text(res).replace("\n", " ")
    assert "In 2 of 2 fits a pair of SNPs 3 or more SNPs apart in the file's (map) order" in text
    assert f"; {orders['far_windows']} window(s) of the cross-fitted networks held" in (
        summary_markdown(res).replace("\n", " ")
    )
    # without map_all_pairs no pair on a map is screened beyond the reach: no note
    res = cross_validate(g, tmp_path / "y.csv", "t", model=ARCH, **kw)
    assert "or more SNPs apart" not in (conv_kept_text(res) or "")


# --------------------------------------------------- bad input (a checking helper, session 49)
@pytest.fixture(scope="module")
def small_sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("s49")
    res = CliRunner().invoke(main, ["simulate", "--samples", "60", "--snps", "120", "--out",
                                    str(d / "sim")])  # fmt: skip
    assert res.exit_code == 0, res.output
    rng = np.random.default_rng(0)
    ids = pd.read_csv(d / "sim" / "phenotypes.csv")["sample_id"]
    pd.DataFrame(
        {
            "sample_id": ids,
            "sex": rng.choice(["M", "F"], len(ids)),
            "age": rng.integers(20, 60, len(ids)),
        }
    ).to_csv(d / "cov.csv", index=False)
    return d


@pytest.fixture(scope="module")
def fitted(small_sim):
    """A tiny model fitted with the covariates sex (categorical) and age (a number)."""
    fit = ["fit", str(small_sim / "sim" / "sim.vcf.gz"), str(small_sim / "sim" / "phenotypes.csv")]
    fit += ["--folds", "2", "--epochs", "1", "--baselines", "gblup", "--conv-folds", "0"]
    fit += ["--covariates-file", str(small_sim / "cov.csv"), "--covariates", "sex,age"]
    res = CliRunner().invoke(main, [*fit, "--patience", "1", "--out", str(small_sim / "f")])
    assert res.exit_code == 0, res.output
    return small_sim / "f" / "model.keras"


def test_predict_refuses_to_replace_a_link_or_a_pipe(small_sim, fitted, tmp_path):
    import os

    target = tmp_path / "real.csv"
    target.write_text("keep\n")
    os.symlink(target, tmp_path / "link.csv")
    os.mkfifo(tmp_path / "pipe")
    pred = ["predict", str(fitted), str(small_sim / "sim" / "sim.vcf.gz")]
    res = CliRunner().invoke(main, [*pred, "--out", str(tmp_path / "link.csv"), "--force"])
    assert res.exit_code != 0 and "is a symbolic link" in res.output and "--out -" in res.output
    assert (tmp_path / "link.csv").is_symlink() and target.read_text() == "keep\n"
    res = CliRunner().invoke(main, [*pred, "--out", str(tmp_path / "pipe"), "--force"])
    assert res.exit_code != 0 and "not a regular file" in res.output
    assert not (tmp_path / "pipe").is_file()  # still the FIFO
    res = CliRunner().invoke(main, [*pred, "--out", str(target), "--force"])
    assert res.exit_code == 0 and target.read_text().startswith("sample_id")
    # a bad number in a covariate the model fitted as numeric: no --categorical advice
    cov = pd.read_csv(small_sim / "cov.csv")
    cov["age"] = cov["age"].astype(object)
    cov.loc[4, "age"] = "abc"
    cov.to_csv(tmp_path / "bad.csv", index=False)
    res = CliRunner().invoke(main, [*pred, "--covariates", str(tmp_path / "bad.csv")])
    assert res.exit_code != 0 and "covariate 'age' is numeric except 'abc'" in res.output
    assert "--categorical" not in res.output and "fitted with this covariate as a number" in (
        res.output
    )


def test_covariates_listed_twice_are_refused_before_the_fit(small_sim, tmp_path):
    from snpcnn.config import DataConfig

    args = ["fit", str(small_sim / "sim" / "sim.vcf.gz"), str(small_sim / "sim" / "phenotypes.csv")]
    args += ["--covariates-file", str(small_sim / "cov.csv"), "--covariates", "sex,age,sex"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "f")])
    assert res.exit_code != 0 and "'sex' is listed twice" in res.output
    assert not (tmp_path / "f").exists()
    with pytest.raises(InputError, match="covariates: 'sex' is listed twice"):
        DataConfig(covariates=["sex", "age", "sex"])


def test_explain_and_tune_refuse_a_constant_trait_before_any_work(small_sim, fitted, tmp_path):
    ph = pd.read_csv(small_sim / "sim" / "phenotypes.csv")
    ph["local_epistasis"] = 1.5
    ph.to_csv(tmp_path / "const.csv", index=False)
    ph.iloc[:3].to_csv(tmp_path / "three.csv", index=False)
    geno = str(small_sim / "sim" / "sim.vcf.gz")
    space = tmp_path / "s.toml"
    space.write_text('model = "snpcnn_default"\n[params]\nepochs = { choices = [1] }\n')
    tune = ["tune", geno, "--space", str(space), "--folds", "2", "--trials", "1"]
    res = CliRunner().invoke(main, [*tune[:2], str(tmp_path / "const.csv"), *tune[2:],
                                    "--out", str(tmp_path / "t")])  # fmt: skip
    assert (
        res.exit_code != 0 and "const.csv: trait 'local_epistasis' has zero variance" in res.output
    )
    res = CliRunner().invoke(main, [*tune[:2], str(tmp_path / "three.csv"), *tune[2:],
                                    "--out", str(tmp_path / "t")])  # fmt: skip
    assert (
        res.exit_code != 0
        and "only 3 genotyped samples" in res.output
        and "at least 10" in res.output
    )
    assert not (tmp_path / "t").exists() and not (tmp_path / "t.partial").exists()
    ex = ["explain", str(fitted), geno, str(tmp_path / "const.csv"), "--methods", "saliency"]
    res = CliRunner().invoke(main, [*ex, "--out", str(tmp_path / "e")])
    assert res.exit_code != 0 and "has zero variance among the genotyped samples" in res.output
    assert not (tmp_path / "e").exists()


def test_a_phenotype_file_in_utf16_without_a_bom_is_named(small_sim, tmp_path):
    from snpcnn.io.phenotypes import read_phenotypes

    text = (small_sim / "sim" / "phenotypes.csv").read_text()
    (tmp_path / "le.csv").write_bytes(text.encode("utf-16-le"))
    (tmp_path / "be.csv").write_bytes(text.encode("utf-16-be"))
    (tmp_path / "nul.csv").write_bytes(b"sample_id,y\na,1\nb,2\x00\n")
    with pytest.raises(InputError, match="UTF-16 text without a byte-order mark.*UTF-16LE"):
        read_phenotypes(tmp_path / "le.csv")
    with pytest.raises(InputError, match="iconv -f UTF-16BE"):
        read_phenotypes(tmp_path / "be.csv")
    with pytest.raises(InputError, match="line 3 holds a NUL byte"):
        read_phenotypes(tmp_path / "nul.csv")


def test_tune_resume_with_damaged_or_missing_settings_is_one_line(tmp_path):
    from snpcnn.tune import _check_stamp

    part = tmp_path / "t.partial"
    (part / "outer").mkdir(parents=True)
    (part / "outer" / "r0_f1.json").write_text("{}")  # a finished outer unit
    (part / "settings.json").write_text('{"broken')
    with pytest.raises(InputError, match=r"settings.json is damaged .* without resume=True"):
        _check_stamp(part, "k", {})
    (part / "settings.json").write_text("")  # what a disk-full write could leave
    with pytest.raises(InputError, match=r"settings.json is damaged"):
        _check_stamp(part, "k", {})
    (part / "settings.json").unlink()
    with pytest.raises(InputError, match="holds trials but no settings.json"):
        _check_stamp(part, "k", {})
    # a new folder: the stamp is written, and then accepted for the same key only
    new = tmp_path / "n.partial"
    new.mkdir()
    _check_stamp(new, "k", {"a": 1})
    _check_stamp(new, "k", {"a": 1})
    with pytest.raises(InputError, match="other inputs or settings;"):
        _check_stamp(new, "other", {"a": 1})
    with pytest.raises(InputError, match=r"settings \(what differs: a, b\); rerun with the same"):
        _check_stamp(new, "other", {"a": 2, "b": 0})


def test_simulate_refuses_trans_in_strong_ld_and_names_options_that_play_no_part(tmp_path):
    g = simulate_genotypes(100, 200, n_chrom=3, seed=1)
    with pytest.raises(InputError, match="pair_ld='strong' cannot be combined with placement"):
        simulate_trait(g, placement="trans", pair_ld="strong")
    base = ["simulate", "--samples", "60", "--snps", "120"]
    res = CliRunner().invoke(main, [*base, "--placement", "trans", "--pair-ld", "strong",
                                    "--out", str(tmp_path / "a")])  # fmt: skip
    assert res.exit_code != 0 and "--pair-ld strong cannot be combined" in res.output
    res = CliRunner().invoke(main, [*base, "--architecture", "dominance", "--order", "3",
                                    "--placement", "trans", "--out", str(tmp_path / "b")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Note: --order, --placement apply to interacting SNP groups" in res.output
    record = json.loads((tmp_path / "b" / "simulation.json").read_text())
    assert record["ignored_options"] == ["--order", "--placement"]
    res = CliRunner().invoke(
        main, [*base, "--architecture", "dominance", "--out", str(tmp_path / "c")]
    )
    assert "Note:" not in res.output
    assert "ignored_options" not in json.loads((tmp_path / "c" / "simulation.json").read_text())


def test_info_counts_snps_without_calls_and_a_damaged_cache_names_its_own_file(small_sim, tmp_path):
    g = simulate_genotypes(40, 50, seed=3)
    np.asarray(g.dosages)[:, :5] = -1  # five SNPs without a call
    text = g.format_summary()
    assert "(5 of them without any call)" in text and "over the 45 SNPs with a call" in text
    assert "without any call" not in simulate_genotypes(40, 50, seed=3).format_summary()
    vcf = str(small_sim / "sim" / "sim.vcf.gz")
    cache = tmp_path / "c.snpcnn"
    assert CliRunner().invoke(main, ["convert", vcf, str(cache)]).exit_code == 0
    lines = (cache / "samples.txt").read_text().splitlines()
    lines[2] = lines[0]
    (cache / "samples.txt").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(main, ["info", str(cache)])
    assert res.exit_code != 0 and "in the cache's samples.txt" in res.output
    assert "sim.vcf.gz" not in res.output.split("damaged cache")[1].split(";")[0]


def test_far_windows_count_windows_not_pairs_and_the_report_names_each_order():
    from snpcnn.report import _far_text

    # y = z10 * z60, with SNP 59 a 97 % copy of SNP 60: the pairs (10, 60) and (10, 59) are
    # both significant, but one window holds them (a checking helper, session 49)
    rng = np.random.default_rng(0)
    x = rng.binomial(2, 0.5, size=(600, 80)).astype(float)
    flip = rng.random(600) < 0.03
    x[:, 59] = np.where(flip, rng.binomial(2, 0.5, 600), x[:, 60])
    z = (x - x.mean(0)) / x.std(0)
    g = z[:, 10] * z[:, 60]
    y = g / g.std() + rng.normal(scale=0.6, size=600)
    y = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    info: dict = {}
    sets = screen_window_sets(z.astype(np.float32)[..., None], y, 4, 5, 16, True, info, lead=True)
    holding = [w for w in sets.tolist() if any(a in w and b in w for a, b in ((10, 60), (10, 59)))]
    assert info["far_significant"] >= 2 and info["far_windows"] == len(holding) == 1
    base = {"fits": 4, "far_fits": 2, "far_windows": 3, "far_reach": 16}
    assert "in the file's (map) order" in _far_text({**base, "far_on_map": 2}, True)
    assert "16 or more positions apart in the LD order" in _far_text(
        {**base, "far_on_map": 0}, True
    )
    mixed = _far_text({**base, "far_on_map": 1}, False)
    assert mixed.startswith(" Note: In 2 of 4 fits") and "map) order or in the LD order" in mixed
    assert _far_text({**base, "far_fits": 0}, True) == ""


def test_review_follow_ups_tune_api_max_gap_note_and_an_all_nul_file(small_sim, tmp_path):
    from snpcnn.io.phenotypes import read_phenotypes
    from snpcnn.tune import tune

    sim = small_sim / "sim"
    with pytest.raises(InputError, match="covariates: 'sex' is listed twice"):
        tune(sim / "sim.vcf.gz", sim / "phenotypes.csv", space={"params": {"epochs": {"choices": [1]}}},
             covariates=["sex", "sex"], covariates_path=small_sim / "cov.csv")  # fmt: skip
    base = ["simulate", "--samples", "60", "--snps", "120", "--placement", "trans"]
    res = CliRunner().invoke(main, [*base, "--max-gap", "7", "--out", str(tmp_path / "a")])
    assert res.exit_code == 0 and "Note: --max-gap applies to --placement local only" in (
        res.output
    )
    record = json.loads((tmp_path / "a" / "simulation.json").read_text())
    assert record["ignored_options"] == ["--max-gap"]
    (tmp_path / "z.csv").write_bytes(b"\0" * 2048)  # a crash or a full disk leaves this
    with pytest.raises(InputError, match="line 1 holds a NUL byte"):
        read_phenotypes(tmp_path / "z.csv")


def test_a_model_given_where_the_genotypes_go_is_named(small_sim, fitted, tmp_path):
    vcf = str(small_sim / "sim" / "sim.vcf.gz")
    for cmd in ("predict", "explain"):
        res = CliRunner().invoke(main, [cmd, vcf, str(fitted), "--out", str(tmp_path / cmd)])
        assert res.exit_code != 0
        assert f"snpcnn {cmd} takes the model first and the genotypes second" in res.output
        assert f"snpcnn {cmd} {fitted} {vcf}" in res.output
        assert not (tmp_path / cmd).exists()
    res = CliRunner().invoke(main, ["info", str(fitted)])
    assert res.exit_code != 0 and "is a saved model (model.keras), not a genotype file" in (
        res.output
    )


def test_cosmetic_follow_ups_h2_zero_wording_and_a_utf16_space_file(tmp_path):
    res = CliRunner().invoke(main, ["simulate", "--samples", "60", "--snps", "120", "--h2", "0",
                                    "--out", str(tmp_path / "s")])  # fmt: skip
    assert res.exit_code == 0 and "h2 0: the trait is noise" in res.output
    assert "ceiling" not in res.output.splitlines()[0]
    from snpcnn.tune import load_space

    (tmp_path / "s.toml").write_bytes('model = "snpcnn_default"\n'.encode("utf-16"))
    with pytest.raises(InputError, match="search space file .*UTF-16 text"):
        load_space(tmp_path / "s.toml")
