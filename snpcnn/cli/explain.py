"""``snpcnn explain``: per-SNP importance, Manhattan plots and filter maps of a fitted model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click

from snpcnn.cli import (
    coding_for_model,
    coding_option,
    force_option,
    format_option,
    read_cli_genotypes,
    verbose_option,
)
from snpcnn.errors import InputError
from snpcnn.progress import Progress

__all__ = ["COMMANDS", "explain"]

#: Below this many phenotyped samples the marginal scan is flagged as noisy.
FEW_SCAN_SAMPLES = 30


@click.command()
# not exists=True: load_bundle's error says why a fit folder has no model.keras
@click.argument("model", type=click.Path())
@click.argument("genotypes", type=click.Path())
@click.argument("phenotypes", type=click.Path(dir_okay=False), required=False)
@format_option()
@coding_option()
@click.option(
    "--trait",
    default=None,
    help="Trait (model output) to explain, and the phenotype column for the marginal scan. "
    "Default: the model's first trait.",
)
@click.option(
    "--id-column",
    default=None,
    help="Sample-id column of the phenotype file (and of the covariate file where it has one of that name).",
)
@click.option(
    "--covariates",
    "covariates_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Table with the covariates the model was fitted with, projected out of the marginal "
    "scan (default: looked for in PHENOTYPES).",
)
@click.option(
    "--methods",
    default="saliency,gradxinput,integrated_gradients,grad_cam,hirescam",
    show_default=True,
    help="Comma-separated attribution methods.",
)
@click.option(
    "--layer", default=None, help="Grad-CAM and HiResCAM layer (default: the last convolution)."
)
@click.option("--steps", default=64, show_default=True, type=int, help="Integrated-gradient steps.")
@click.option(
    "--max-samples",
    default=1000,
    show_default=True,
    type=int,
    help="Explain at most this many samples (a seeded random subset beyond that).",
)
@click.option("--batch-size", default=128, show_default=True, type=int)
@click.option("--top-k", default=10, show_default=True, type=int, help="SNPs labelled per plot.")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option(
    "--out", "out", default="snpcnn_explain", show_default=True, type=click.Path(file_okay=False)
)
@force_option
@verbose_option
def explain(
    model,
    genotypes,
    phenotypes,
    geno_format,
    coding,
    trait,
    id_column,
    covariates_file,
    methods,
    layer,
    steps,
    max_samples,
    batch_size,
    top_k,
    seed,
    out,
    force,
):
    """Explain a MODEL written by `snpcnn fit` on GENOTYPES: which SNPs drive its predictions.

    Writes to --out: importance.csv (chrom, pos, id and one column per method: mean
    |score| over the samples explained; `imputed`, true for the model's SNPs absent from
    GENOTYPES; with PHENOTYPES also the marginal association beta, p and -log10 p),
    manhattan_<method>.png (with the marginal scan below it and their Spearman rank
    correlation when PHENOTYPES is given), filters.png (first convolution's kernels) and
    explain.json (settings and provenance). --out is written whole or not at all (a hidden
    temporary folder beside it, renamed into place at the end); --force replaces only a
    folder `snpcnn explain` wrote.
    """
    import numpy as np

    from snpcnn import __version__

    for name, value, least in (
        ("--steps", steps, 1),
        ("--max-samples", max_samples, 1),
        ("--batch-size", batch_size, 1),
        ("--top-k", top_k, 0),
    ):
        if value < least:
            raise InputError(f"{name} must be at least {least}, got {value}")
    if top_k > 100:
        raise InputError(
            f"--top-k must be at most 100 (the SNPs labelled on each plot), got {top_k}; "
            "importance.csv ranks every SNP"
        )
    try:
        from snpcnn import explain as ex
    except ImportError as exc:
        if "snpcnn.explain needs" not in str(exc):
            raise
        raise InputError(str(exc)) from None
    from snpcnn.bundle import load_bundle
    from snpcnn.io.output import check_writable, write_errors
    from snpcnn.report import EXPLAIN_MARKER, atomic_directory, check_output_dir
    from snpcnn.stats import marginal_association

    method_list = list(dict.fromkeys(m.strip() for m in methods.split(",") if m.strip()))
    bad = [m for m in method_list if m not in ex.METHODS]
    if not method_list:
        raise InputError(f"--methods: give at least one of {', '.join(ex.METHODS)}")
    if bad:
        raise InputError(
            f"--methods: unknown method '{bad[0]}'; choose from {', '.join(ex.METHODS)}"
        )
    if max_samples < 1:
        raise InputError(f"--max-samples must be >= 1; got {max_samples}")
    out = Path(out)
    # refused before any work: an existing folder without --force, one of other files, another
    # command's results (a fit folder), the current folder or one holding an input
    from snpcnn.report import resolve_link

    if covariates_file and not phenotypes:  # ignored without a word (session 43)
        raise InputError(
            "--covariates adjusts the marginal scan, which runs only with PHENOTYPES (the "
            "third argument); give PHENOTYPES, or leave --covariates out"
        )
    from snpcnn.cli.fit import check_model_first

    check_model_first(model, genotypes, "explain")
    target = resolve_link(out)  # a link's target, checked before any work
    check_output_dir(
        target, force, inputs=(model, genotypes, phenotypes, covariates_file), marker=EXPLAIN_MARKER
    )
    check_writable(target)
    # a second run to the same --out is refused now, not after its work
    from snpcnn.io.output import claim

    click.get_current_context().call_on_close(claim(target, "explain"))

    bundle = load_bundle(model)
    if bundle.head == "multiclass" and trait is not None:
        raise InputError(
            "--trait does not apply to a multiclass model (the predicted class is used)"
        )
    traits = list(bundle.traits)
    trait = trait or traits[0]
    if trait not in traits:
        raise InputError(f"--trait {trait}: the model predicts {', '.join(traits)}")
    output_index = None if bundle.head == "multiclass" else traits.index(trait)

    progress = Progress()
    progress("step_start", name=f"reading genotypes {genotypes}")
    coding = coding_for_model(genotypes, geno_format, coding, bundle)
    geno = read_cli_genotypes(genotypes, geno_format, coding, by_id=True)
    progress(
        "step_done",
        name="reading genotypes",
        detail=f": {geno.n_samples:,} samples x {geno.n_snps:,} SNPs",
    )
    rows = np.arange(geno.n_samples)
    assoc = None
    y = None
    if phenotypes:
        from snpcnn.io.phenotypes import align, read_phenotypes

        # only the explained trait is read as a trait: other columns (covariates such as sex,
        # other traits) may hold anything
        try:
            ph = read_phenotypes(phenotypes, id_column=id_column, traits=[trait])
        except InputError as exc:
            if f"'{trait}' not found" not in str(exc):
                raise
            raise InputError(
                f"{exc} (the trait explained, --trait; default: the model's first trait)"
            ) from None
        al = align(geno, ph, traits=[trait])
        yv = al.trait(trait)
        ok = np.isfinite(yv)
        if ok.sum() < 3:
            raise InputError(f"{phenotypes}: fewer than 3 samples with a value of '{trait}'")
        if np.ptp(yv[ok]) == 0:  # the scan's p-values were rounding noise (session 49)
            raise InputError(
                f"{phenotypes}: trait '{trait}' has zero variance among the genotyped samples "
                f"(every value is {yv[ok][0]:g}), so the marginal scan has nothing to test; "
                "check the column, or leave PHENOTYPES out"
            )
        rows = al.geno_index[ok]
        y = yv[ok]
        if len(y) < FEW_SCAN_SAMPLES:
            click.echo(
                f"Warning: the marginal scan has only {len(y)} samples with a value of "
                f"'{trait}': its p-values, and their rank correlation with the importances, "
                "are very noisy",
                err=True,
            )
    n_avail = len(rows)  # the samples that could be explained (phenotyped, where given)
    if len(rows) > max_samples:
        rng = np.random.default_rng(seed)
        rows = np.sort(rng.choice(rows, size=max_samples, replace=False)) if y is None else rows
    sub = geno.subset(samples=rows)
    explained = np.arange(len(rows))
    if y is not None and len(rows) > max_samples:
        # the scan below uses every phenotyped sample (int8); only the explained ones are
        # encoded to float
        rng = np.random.default_rng(seed)
        explained = np.sort(rng.choice(len(rows), size=max_samples, replace=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X, match = bundle.encode(
            sub if len(explained) == len(rows) else geno.subset(samples=rows[explained])
        )
    for w in caught:
        click.echo(f"Warning: {w.message}", err=True)
    if y is not None:
        block, _ = bundle.aligned_block(sub)
        c_scan, adjusted = _scan_covariates(
            bundle, phenotypes, covariates_file, id_column, geno.samples[rows]
        )
        assoc = marginal_association(block, y, covariates=c_scan)
        # a SNP the file lacks was filled with its training mean: it has no scan (NaN, so it
        # also stays out of the rank correlation with the importances)
        # ... as has a SNP without any call among the scan's samples (which may be more
        # than those explained: --max-samples)
        absent = (np.asarray(match["column"]) < 0) | ~(block >= 0).any(axis=0)
        if absent.any() and len(absent) == len(assoc):
            num = [c for c in assoc.columns if c not in ("chrom", "pos", "id")]
            assoc.loc[absent, num] = np.nan
    skipped = {}
    parts = ex.hybrid_parts(bundle.model)
    if parts is not None:
        click.echo(
            f"explaining the CNN hybrid: its start ({parts['start']}) "
            + (
                "plus its trained convolutions' correction (kept)"
                if parts["convolutions_kept"]
                else "alone: its convolutions' correction was dropped"
            ),
            err=True,
        )
    cams = [m for m in method_list if m in ex.CAM_METHODS]
    if cams:  # with --layer too: a dropped correction's map is flat
        why = ex.grad_cam_status(bundle.model)
        if why:
            for m in cams:
                skipped[m] = why
            method_list = [m for m in method_list if m not in ex.CAM_METHODS]
            click.echo(f"{' and '.join(_CAM_NAMES[m] for m in cams)} skipped: {why}.", err=True)
            cams = []
    if not method_list:
        raise InputError(
            "no method left to run (the class-activation maps were skipped); add --methods saliency"
        )
    if layer is not None and not cams:  # it was accepted without a word, and not checked
        # (a checking helper, session 49)
        click.echo(
            f"Note: --layer {layer} is not used: only Grad-CAM and HiResCAM read a layer, and "
            + ("they were skipped." if skipped else "neither is among --methods."),
            err=True,
        )
    source = click.get_current_context().get_parameter_source("steps")
    if (
        "integrated_gradients" not in method_list
        and source == click.core.ParameterSource.COMMANDLINE
    ):
        click.echo(  # as for --layer (session 56)
            f"Note: --steps {steps} is not used: only integrated gradients reads it, and it is "
            "not among --methods.",
            err=True,
        )
    caveat = ex.grad_cam_caveat(bundle.model) if "grad_cam" in method_list else None
    if caveat:
        click.echo(f"Note: Grad-CAM: {caveat}.", err=True)
    # with PHENOTYPES only the phenotyped samples are explained (the importances are set
    # beside the marginal scan on the same samples): the others were left out without a
    # word (a checking helper, session 43)
    n_unphenotyped = geno.n_samples - n_avail if y is not None else 0
    click.echo(
        f"explaining {len(X):,} samples"
        + (
            f" (a seeded random subset of the {n_avail:,}; --max-samples {max_samples})"
            if len(X) < n_avail
            else ""
        )
        + f" x {X.shape[1]:,} SNPs with {', '.join(method_list)}",
        err=True,
    )
    if n_unphenotyped:
        click.echo(
            f"Note: {n_unphenotyped:,} of the {geno.n_samples:,} genotyped samples have no "
            f"value of '{trait}' and are not explained (with PHENOTYPES, the importances "
            "are computed on the samples of the marginal scan); leave PHENOTYPES out to "
            "explain every genotyped sample",
            err=True,
        )
    try:
        imp = ex.snp_importance(
            bundle.model,
            X,
            bundle.variants,
            methods=method_list,
            layer_name=layer,
            output_index=output_index,
            steps=steps,
            batch_size=batch_size,
            progress=progress,
        )
    finally:
        progress.close()
    cam_note = None
    if cams and parts is not None:
        covered = int(np.count_nonzero(imp[cams[0]].to_numpy()))
        if covered < len(imp):
            named = " and ".join(_CAM_NAMES[m] for m in cams)
            cam_note = (
                f"{named} map{'' if len(cams) > 1 else 's'} only the convolutions' correction: "
                f"the {covered:,} SNPs of its windows; the other {len(imp) - covered:,} score 0, "
                f"and the start's effects ({parts['start']}) are not in it (saliency, gradient "
                "x input and integrated gradients cover the whole model)"
            )
            click.echo(f"Note: {cam_note}.", err=True)
    table = imp.copy()
    if len(table) == len(match["column"]):
        # absent from the genotypes and filled with the training mean: their importance
        # says nothing about the SNP
        table["imputed"] = _imputed_snps(match)
    if assoc is not None:
        for c in ("beta", "p", "neglog10p"):
            table[f"marginal_{c}"] = assoc[c].to_numpy()
    convs = ex.conv_layer_names(bundle.model)
    info = {
        "snpcnn_version": __version__,
        "model": str(model),
        "genotypes": str(genotypes),
        "phenotypes": str(phenotypes) if phenotypes else None,
        "trait": trait,
        "output_index": output_index,
        "methods": method_list,
        "skipped": skipped,
        "grad_cam_caveat": caveat,
        "grad_cam_note": cam_note,
        "hybrid": parts,
        # its settings where it ran, else null (the steps were recorded for any method: an
        # adversarial tester, session 56)
        "integrated_gradients": {"steps": steps, "baseline": "all-zero encoded input"}
        if "integrated_gradients" in method_list
        else None,
        "grad_cam_layer": None
        if not cams
        else (layer or (convs[-1] if convs else "conv layers of the averaged networks")),
        "n_samples_explained": int(len(X)),
        # genotyped samples without a value of the trait, left out where PHENOTYPES is given
        "n_samples_without_phenotype": int(n_unphenotyped),
        "n_snps": int(X.shape[1]),
        "snp_match": {k: int(v) for k, v in match.items() if k.startswith("n_")},
        "spearman_vs_marginal": None,  # filled in as the plots are drawn
        "marginal_adjusted_for": adjusted if assoc is not None else None,
        "seed": seed,
    }
    # every file goes into a hidden temporary folder beside --out, renamed into place when
    # all are written: an error or Ctrl-C leaves --out as it was (docs/outputs.md)
    with write_errors(out), atomic_directory(out, force, marker=EXPLAIN_MARKER) as tmp:
        written = _write_outputs(ex, tmp, bundle, imp, table, assoc, method_list, top_k, info)
    scores = table[method_list[0]].to_numpy()
    if len(scores) and np.nanmax(scores) == np.nanmin(scores):
        # every SNP scores the same: a "top 10" would be the file's first SNPs
        click.echo(f"every SNP scores {np.nanmax(scores):g} by {method_list[0]}: no ranking")
        click.echo(f"results written to {out}/ ({', '.join(written)})")
        return
    if top_k == 0:  # "top 0 SNPs by ...: " was an empty line
        click.echo(f"results written to {out}/ ({', '.join(written)})")
        return
    top = table.sort_values(method_list[0], ascending=False).head(top_k)
    # a SNP the model knows but the file lacks was filled with its training mean: its
    # score says nothing about the SNP (docs/explain.md), so it is marked
    absent = top["imputed"] if "imputed" in top else [False] * len(top)
    col = np.asarray(match["column"])
    why = [
        " (absent from the file)"
        if len(col) == len(table) and col[k] < 0
        else " (no call in the file)"
        for k in top.index
    ]
    names = [f"{i}{w}" if a else str(i) for i, a, w in zip(top["id"], absent, why)]
    click.echo(f"top {len(top)} SNPs by {method_list[0]}: " + ", ".join(names))
    click.echo(f"results written to {out}/ ({', '.join(written)})")


def _imputed_snps(match):
    """The model's SNPs whose every dosage was filled with the training mean: absent from
    the file, or in it without any call (a column of ./.: before session 42 such SNPs
    counted as observed, with a marginal p of 1 that inflated the Spearman correlations)."""
    import numpy as np

    col = np.asarray(match["column"])
    return (col < 0) | np.asarray(match.get("uncalled", np.zeros(len(col), bool)), dtype=bool)


#: the class-activation map methods as the console names them
_CAM_NAMES = {"grad_cam": "Grad-CAM", "hirescam": "HiResCAM"}


def _write_outputs(ex, folder, bundle, imp, table, assoc, method_list, top_k, info) -> list[str]:
    """Write importance.csv, the plots and, last, explain.json (with the Spearman
    correlations of the plots) into ``folder``, the temporary folder; return their names."""
    (folder / "importance.csv").write_text(table.to_csv(index=False, float_format="%.6g"))
    spearman = {}
    for m in method_list:
        res = ex.plot_manhattan(
            table,  # with `imputed`: the plot marks those SNPs as the console does
            m,
            folder / f"manhattan_{m}.png",
            assoc=None if assoc is None else assoc.assign(id=imp["id"].to_numpy()),
            top_k=top_k,
            force=True,
        )
        spearman[m] = res["spearman"]
    convs = ex.conv_layer_names(bundle.model)
    # a model that averages networks (the default with kept convolutions, seed ensembles)
    # holds its convolutions in its member networks: the first member's first layer
    members = [] if convs else ex._conv_members(bundle.model)
    holder = bundle.model if convs else (members[0] if members else None)
    first = convs[0] if convs else (ex.conv_layer_names(holder)[0] if holder is not None else None)
    patterns = ex.filter_patterns(holder, first, method="weights") if first else None
    written = ["importance.csv", *(f"manhattan_{m}.png" for m in method_list)]
    if patterns is not None and patterns.ndim == 3:
        ex.plot_filter_patterns(patterns, folder / "filters.png", force=True)
        written.append("filters.png")
        if len(members) > 1:
            click.echo(
                f"filters.png: the first convolution of network '{holder.name}', 1 of the "
                f"{len(members)} averaged networks"
            )
        if ex.grad_cam_status(bundle.model):
            click.echo(
                "Note: the convolutions' correction was dropped, so the kernels in filters.png "
                "do not affect the predictions"
            )
    else:
        click.echo(
            "Note: no filters.png: "
            + (
                "the model has no convolutional layer"
                if first is None
                else "its convolutions are not 1-D"
            )
        )
    info = {**info, "spearman_vs_marginal": spearman if assoc is not None else None}
    (folder / "explain.json").write_text(json.dumps(info, indent=2) + "\n")
    written.append("explain.json")
    return written


def _scan_covariates(bundle, phenotypes, covariates_file, id_column, sample_ids):
    """(design, names): the model's covariates for the marginal scan, as in fit; (None, [])
    with one line on stderr where the model has covariates the files do not hold."""
    from snpcnn.io.phenotypes import as_fitted, read_phenotypes

    names = bundle.covariate_names if bundle.head == "regression" else []
    if covariates_file and not names:  # ignored without a word, where predict refuses it
        why = (
            "the model is a binary trait's CNN, which does not use covariates"
            if bundle.head == "binary" and bundle.covariate_names
            else "the model was fitted without covariates"
        )
        raise InputError(
            f"--covariates {covariates_file}: {why}, so the marginal scan has none to adjust "
            "for; leave the option out"
        )
    if not names:
        return None, []
    src = covariates_file or phenotypes
    # predict's way out ("predict without covariates") does not exist here (a checking
    # helper, session 43)
    without = (
        "leave out --covariates"
        if covariates_file
        else "leave the covariate columns out of PHENOTYPES"
    ) + " for a marginal scan not adjusted for them"
    try:
        ph = read_phenotypes(
            src,
            id_column=None if covariates_file else id_column,
            traits=[],
            covariates=names,
            categorical=[c for c in names if c in bundle.covariate_levels],
        )
    except InputError as exc:
        # the model fixes which covariates are numbers: explain has no --categorical
        exc = as_fitted(exc, without)
        if covariates_file:
            raise exc from None
        click.echo(
            f"the marginal scan is NOT adjusted for the model's covariates ({', '.join(names)}): "
            f"{exc}; give --covariates FILE to adjust it",
            err=True,
        )
        return None, []
    c, notes = bundle.covariate_design(ph, sample_ids, source=str(src), without=without)
    for n in notes:
        click.echo(f"Warning: {src}: {n}", err=True)
    click.echo(f"marginal scan adjusted for the covariates {', '.join(names)}", err=True)
    return c, list(names)


COMMANDS = [explain]
