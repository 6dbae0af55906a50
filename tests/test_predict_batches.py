"""Issue 15: `snpcnn predict` encodes and predicts in row chunks, with identical predictions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import snpcnn.bundle as bundle_mod
from snpcnn.backend import predict_array
from snpcnn.bundle import MissingSnpWarning, ModelBundle
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes


@pytest.fixture(scope="module")
def geno():
    return simulate_genotypes(70, 120, missing_rate=0.05, seed=3)


@pytest.fixture(scope="module")
def bundle(geno):
    import keras

    pre = GenotypePreprocessor().fit(geno, np.arange(50))
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(pre.input_shape),
            keras.layers.Conv1D(3, 4, strides=4, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    return ModelBundle(
        model, pre, traits=["y"], target_coef=[np.array([1.5])], target_sd=np.array([2.0])
    )


def whole(bundle, geno, batch_size):
    """What predict returned before: every sample encoded at once, then predicted."""
    x, _ = bundle.encode(geno)
    return predict_array(bundle.model, x, batch_size)[:, 0].astype(np.float64) * 2.0 + 1.5


def test_chunks_give_identical_predictions(bundle, geno, monkeypatch):
    seen = []
    real = bundle.preprocessor.transform_block
    monkeypatch.setattr(
        bundle.preprocessor,
        "transform_block",
        lambda block, **kw: seen.append(len(block)) or real(block, **kw),
    )
    default = bundle.predict(geno, batch_size=8)
    assert seen == [70]  # 70 rows fit in one default chunk
    seen.clear()
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", 1)  # one batch of 8 rows per chunk
    assert bundle.chunk_rows(8) == 8
    chunked = bundle.predict(geno, batch_size=8)
    assert seen == [8] * 8 + [6]  # memory: one chunk of rows at a time
    pd.testing.assert_frame_equal(chunked, default)
    np.testing.assert_array_equal(chunked["y"].to_numpy(), whole(bundle, geno, 8))
    assert chunked["sample_id"].tolist() == geno.samples.tolist()
    # chunks are whole batches: a chunk budget of 2.5 batches is 2 batches
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", int(2.5 * 8 * 4 * 120))
    assert bundle.chunk_rows(8) == 16


def test_chunks_keep_the_snp_match(bundle, geno, monkeypatch):
    """A new file with SNPs missing, reordered and counting the other allele: each chunk is
    matched and flipped like the whole file, and the warning comes once."""
    rng = np.random.default_rng(1)
    keep = np.sort(rng.choice(geno.n_snps, size=100, replace=False))
    order = rng.permutation(len(keep))
    sub = geno.subset(variants=keep[order])
    flipped = sub.variants.copy()
    flipped.loc[:10, ["ref", "alt"]] = flipped.loc[:10, ["alt", "ref"]].to_numpy()
    d = np.array(sub.dosages)
    d[:, :11] = np.where(d[:, :11] < 0, d[:, :11], 2 - d[:, :11])
    from snpcnn.genotypes import Genotypes

    new = Genotypes(d, sub.samples, flipped, source="new.vcf")
    with pytest.warns(MissingSnpWarning):
        ref = whole(bundle, new, 4)
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", 1)
    with pytest.warns(MissingSnpWarning) as caught:
        chunked = bundle.predict(new, batch_size=4)
    assert len(caught) == 1
    np.testing.assert_array_equal(chunked["y"].to_numpy(), ref)


def test_no_samples(bundle, geno):
    out = bundle.predict(geno.subset(samples=np.arange(0)))
    assert len(out) == 0 and list(out.columns) == ["sample_id", "y"]


def test_cli_predict_identical_in_tiny_chunks(bundle, geno, tmp_path, monkeypatch):
    path = bundle.save(tmp_path / "model.keras")
    table = pd.DataFrame(np.asarray(geno.dosages, float), columns=geno.snp_ids)
    table = table.mask(table < 0).astype("Int64")
    table.insert(0, "sample_id", geno.samples)
    table.to_csv(tmp_path / "new.csv", index=False)
    from snpcnn.cli import main

    args = ["predict", str(path), str(tmp_path / "new.csv"), "--format", "table"]
    a = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a.csv")])
    assert a.exit_code == 0, a.output
    assert "new.csv: 120 of the model's 120 SNPs found (120 by id)" in a.stderr
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", 1)
    b = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "b.csv")])
    assert b.exit_code == 0, b.output
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    got = pd.read_csv(tmp_path / "b.csv", dtype={"sample_id": str})
    assert got["sample_id"].tolist() == geno.samples.tolist()
    np.testing.assert_allclose(got["y"], whole(bundle, geno, 256), rtol=1e-5)


def test_covariates_for_a_model_without_covariates_are_refused(bundle, geno):
    from snpcnn.errors import InputError

    with pytest.raises(InputError, match="fitted without covariates"):
        bundle.predict(geno, covariates=np.zeros((geno.n_samples, 1)))


def test_samples_called_at_under_half_the_snps_are_named(bundle, geno, monkeypatch):
    """A sample with most calls missing is predicted from training means: predict says so,
    once, naming a sample (session 32; it was silent)."""
    import warnings

    from snpcnn.genotypes import Genotypes

    d = np.array(geno.dosages)
    d[3, :100] = -1  # at most 20 of 120 called
    d[9, :] = -1  # none called
    new = Genotypes(d, geno.samples, geno.variants, source="new.vcf")
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", 1)  # the count crosses chunks
    with pytest.warns(MissingSnpWarning) as caught:
        out = bundle.predict(new, batch_size=4)
    low, none = (str(w.message) for w in caught)
    assert low.startswith("1 sample(s) of new.vcf are called at fewer than half")
    assert f"'{geno.samples[3]}': {int((d[3] >= 0).sum())} of 120" in low
    # no call at all: no prediction (the CNN-GP start predicted the 77th percentile for
    # such a sample, not the average; a checking helper, session 35)
    assert none.startswith("1 sample(s) of new.vcf have no call at any of the model's SNPs")
    assert f"'{geno.samples[9]}'" in none and "left empty (NaN)" in none
    assert np.isnan(out["y"].iloc[9]) and out["y"].drop(index=9).notna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bundle.predict(geno, batch_size=8)  # 5% missing: no warning


def test_snps_in_the_file_without_any_call_are_reported_as_imputed(bundle, geno, monkeypatch):
    """A column of ./. calls was 'found' by predict and 'observed' in explain's
    importance.csv, while its predictions equal those of a file without the SNP (a
    checking helper, session 42)."""
    from snpcnn.cli.explain import _imputed_snps
    from snpcnn.cli.fit import match_text
    from snpcnn.genotypes import Genotypes

    d = np.array(geno.dosages)
    d[:, [5, 17, 18]] = -1
    new = Genotypes(d, geno.samples, geno.variants, source="new.vcf")
    keep = np.setdiff1d(np.arange(120), [5, 17, 18])
    absent = Genotypes(d[:, keep], geno.samples, geno.variants.iloc[keep], source="absent.vcf")
    monkeypatch.setattr(bundle_mod, "PREDICT_CHUNK_BYTES", 1)
    with pytest.warns(MissingSnpWarning) as caught:
        out = bundle.predict(new, batch_size=4)
    text = " ".join(str(w.message) for w in caught)
    assert "3 of the model's 120 SNPs are in new.vcf without a call in any sample" in text
    match = bundle.last_match_
    assert match["n_uncalled"] == 3 and list(np.flatnonzero(match["uncalled"])) == [5, 17, 18]
    assert list(np.flatnonzero(_imputed_snps(match))) == [5, 17, 18]
    assert "3 of the SNPs found have no call in any sample" in match_text(match, "new.vcf")
    with pytest.warns(MissingSnpWarning):
        ref = bundle.predict(absent, batch_size=4)
    np.testing.assert_array_equal(out["y"].to_numpy(), ref["y"].to_numpy())


def test_the_match_line_counts_position_matches_and_swapped_alleles():
    """Swapped alleles and chrom:pos matches were silent in predict (session 35)."""
    from snpcnn.cli.fit import match_text
    from snpcnn.preprocess import match_variants

    model = pd.DataFrame(
        {"chrom": ["1"] * 3, "pos": [10, 20, 30], "id": ["a", "b", "c"],
         "ref": ["A"] * 3, "alt": ["G"] * 3}
    )  # fmt: skip
    new = model.assign(id=["a", "x", "c"], ref=["G", "A", "A"], alt=["A", "G", "G"])
    text = match_text(match_variants(model, new), "new.vcf")
    assert text == (
        "new.vcf: 3 of the model's 3 SNPs found (2 by id, 1 by chrom:pos and alleles); 1 "
        "count the other allele (REF/ALT swapped), their dosages flipped"
    )


def test_no_match_names_the_chromosome_naming(bundle, geno):
    """'chr1' vs '1' with ids that differ: the error said 'same reference build' only."""
    from snpcnn.errors import InputError
    from snpcnn.genotypes import Genotypes

    v = geno.variants.copy()
    v["chrom"] = "chr" + v["chrom"].astype(str)
    v["id"] = [f"x{i}" for i in range(len(v))]
    new = Genotypes(np.array(geno.dosages), geno.samples, v, source="new.vcf")
    with pytest.raises(InputError, match="share no chromosome name \\(model '.*', file 'chr"):
        bundle.predict(new)


def test_a_table_models_placeholder_chromosome_gets_no_renaming_hint(bundle, geno):
    """A model fitted on a table has chromosome '0' (no map): the hint said "share no
    chromosome name (model '0', file 'chr0')", and renaming cannot help (session 41)."""
    import copy

    from snpcnn.errors import InputError
    from snpcnn.genotypes import Genotypes

    table_model = copy.copy(bundle)
    table_model.preprocessor = copy.copy(bundle.preprocessor)
    table_model.preprocessor.variants_ = bundle.variants.assign(chrom="0", pos=0)
    v = geno.variants.copy()
    v["chrom"] = "chr0"
    v["id"] = [f"x{i}" for i in range(len(v))]
    new = Genotypes(np.array(geno.dosages), geno.samples, v, source="new.vcf")
    with pytest.raises(InputError, match="fitted on a table without a map") as e:
        table_model.predict(new)
    assert "share no chromosome name" not in str(e.value)
    # chromosome '0' with positions is PLINK's "unplaced", not a table (a reviewer)
    table_model.preprocessor.variants_ = bundle.variants.assign(chrom="0")
    with pytest.raises(InputError) as e:
        table_model.predict(new)
    assert "without a map" not in str(e.value)


def test_absent_snps_name_the_chromosome_naming_too(bundle, geno):
    """'chr1' vs '1' with 40 % of the ids renamed: those were 'absent' with no hint (the
    hint came only below half found; a checking helper, session 39)."""
    from snpcnn.bundle import MissingSnpWarning
    from snpcnn.genotypes import Genotypes

    v = geno.variants.copy()
    v["chrom"] = "chr" + v["chrom"].astype(str)
    v.loc[: int(0.4 * len(v)) - 1, "id"] = [f"x{i}" for i in range(int(0.4 * len(v)))]
    new = Genotypes(np.array(geno.dosages), geno.samples, v, source="new.vcf")
    with pytest.warns(
        MissingSnpWarning,
        match="48 of the model's 120 SNPs are absent.*share none with the model's \\(model '1', file 'chr1'\\)",
    ):
        bundle.predict(new)
    v["chrom"] = geno.variants["chrom"]  # the same names: found by position, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingSnpWarning)
        bundle.predict(Genotypes(np.array(geno.dosages), geno.samples, v, source="new.vcf"))


def test_a_transposed_table_is_named(bundle, geno):
    """A table written with SNPs as rows loads as 'samples' named like the model's SNPs: the
    error said to check the SNP ids or the reference build."""
    from snpcnn.errors import InputError
    from snpcnn.genotypes import Genotypes

    snp_ids = geno.variants["id"].astype(str).to_numpy(dtype=object)
    cols = pd.DataFrame({"id": [str(s) for s in geno.samples]})
    new = Genotypes(np.ascontiguousarray(np.asarray(geno.dosages).T), snp_ids, cols, source="t.csv")
    with pytest.raises(InputError, match="120 of the model's SNP ids are row .* looks transposed"):
        bundle.predict(new)


def test_absent_snps_name_the_multiallelic_records_the_reader_dropped(bundle, geno):
    """A model SNP written as multi-allelic in the new file was reported 'absent' with no
    hint (a checking helper, session 35)."""
    from snpcnn.genotypes import Genotypes

    keep = np.arange(geno.n_snps) >= 3  # the first 3 model SNPs are not in the file
    new = Genotypes(
        np.array(geno.dosages)[:, keep],
        geno.samples,
        geno.variants[keep].reset_index(drop=True),
        source="new.vcf",
        report={"multiallelic_dropped": 3},
    )
    with pytest.warns(MissingSnpWarning) as caught:
        bundle.predict(new)
    msg = str(caught[0].message)
    assert msg.startswith("3 of the model's 120 SNPs are absent from new.vcf")
    assert "3 multi-allelic record(s) were dropped" in msg and "--multiallelic alt1" in msg


def test_training_samples_are_named_and_the_hashes_survive_saving(bundle, geno, tmp_path):
    """Predicting lines the model was trained on gives fitted values: predict says so
    (a checking helper, session 35: they were scored as if unseen)."""
    import dataclasses
    import warnings

    from snpcnn.bundle import TrainingSampleWarning, id_hashes, load_bundle

    assert bundle.in_training(geno.samples) is None  # a model file from before: unknown
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bundle.predict(geno, batch_size=8)
    trained = dataclasses.replace(bundle, training_id_hashes=id_hashes(geno.samples[10:40]))
    loaded = load_bundle(trained.save(tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.training_id_hashes, trained.training_id_hashes)
    mask = loaded.in_training(geno.samples)
    assert mask.tolist() == [10 <= i < 40 for i in range(70)]
    with pytest.warns(TrainingSampleWarning) as caught:
        out = loaded.predict(geno, batch_size=8)
    (msg,) = (str(w.message) for w in caught)
    assert msg.startswith("30 of the 70 samples of ")
    assert f"(e.g. '{geno.samples[10]}')" in msg and "fitted values" in msg
    np.testing.assert_array_equal(out["y"], bundle.predict(geno, batch_size=8)["y"])
    with warnings.catch_warnings():  # unseen lines only: silent
        warnings.simplefilter("error")
        loaded.predict(geno.subset(samples=np.arange(40, 70)), batch_size=8)
    # ids are hashed as text: "7" and 7 are the same id, "07" is not
    assert id_hashes([7])[0] == id_hashes(["7"])[0] != id_hashes(["07"])[0]
