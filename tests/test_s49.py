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
    with pytest.raises(InputError, match=r"placement='trans' .* at least 3 chromosomes"):
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
    text = conv_kept_text(res)
    assert (
        "In 2 of 2 fits a pair of SNPs 3 or more SNPs apart on the map (or on different "
        "chromosomes) was significant" in text.replace("\n", " ")
    )
    assert f"led {orders['far_windows']} window(s)" in summary_markdown(res).replace("\n", " ")
    # without map_all_pairs no pair on a map is screened beyond the reach: no note
    res = cross_validate(g, tmp_path / "y.csv", "t", model=ARCH, **kw)
    assert "or more SNPs apart" not in (conv_kept_text(res) or "")
