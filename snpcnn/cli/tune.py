"""``snpcnn tune``: nested hyperparameter search of the CNN (`snpcnn docs tune`)."""

from __future__ import annotations

import sys
import time

import click

from snpcnn.cli import (
    categorical_option,
    covariate_lists,
    describe_covariates,
    force_option,
    format_option,
    verbose_option,
)
from snpcnn.errors import InputError, Interrupted
from snpcnn.threads import MAX_THREADS

__all__ = ["COMMANDS", "tune"]


class _Lines:
    """One line per outer split and per trial on stderr; fold tasks through Progress."""

    def __init__(self, progress):
        self.progress = progress
        self.t0 = time.perf_counter()

    def __call__(self, event: str, **info):
        from snpcnn.progress import format_duration

        if event == "outer_start":
            self.progress.line(
                f"outer split {info['index']}/{info['total']} (repeat {info['repeat']}, "
                f"fold {info['fold']}): searching on its training part"
            )
        elif event == "trial":
            # the trial's score is the mean over its inner folds of the fold's Pearson r
            # (AUC for a binary trait; a fold with constant predictions counts as no
            # information: r 0, AUC 0.5)
            metric = {"pearson_r": "Pearson r", "auc": "AUC"}.get(info.get("metric"), "score")
            best = "-" if info["best"] is None else f"{info['best']:.3f}"
            if info["value"] is not None:
                score = f"inner score {info['value']:.3f} (mean {metric} of its inner folds)"
            elif info["state"] == "pruned":
                score = f"stopped after {info.get('folds_run', '?')} of {info.get('inner_folds')} "
                score += "inner folds"
            else:
                score = "no score"
            took = info.get("seconds")
            took = "" if took is None else f"; took {format_duration(took)}"
            self.progress.line(
                f"  r{info['repeat']} f{info['fold']} trial {info['trial']} (budget "
                f"{info['n_trials']}, failed trials not counted) {info['state']}: {score}; "
                f"best so far {best}{took}"
            )
        elif event == "outer_done":
            params = ", ".join(f"{k}={_short(v)}" for k, v in info["params"].items())
            self.progress.line(
                f"  r{info['repeat']} f{info['fold']} chosen (inner score {info['best']:.3f}): "
                f"{params}"
            )
        elif event == "outer_scored":
            self.progress.line(
                f"  r{info['repeat']} f{info['fold']} {info['model']}: scored on the outer test "
                f"fold ({format_duration(time.perf_counter() - self.t0)} since the start)"
            )
        elif event == "tasks":
            self.progress("tasks", dataset="outer scoring", **info)


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


@click.command()
@click.argument("genotypes", type=click.Path(dir_okay=True))
@click.argument("phenotypes", type=click.Path(dir_okay=False))
@click.option(
    "--space",
    default=None,
    type=click.Path(dir_okay=False),
    help="Search space TOML (default: the shipped snpcnn_default.space.toml; `snpcnn docs tune`).",
)
@click.option("--trait", default=None, help="Trait column (default: the only or first trait).")
@click.option(
    "--covariates",
    default=None,
    help="Comma-separated covariate columns, fitted as fixed effects inside each fold.",
)
@click.option(
    "--covariates-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Read the covariates from this file (joined by sample id).",
)
@categorical_option()
@click.option(
    "--id-column",
    default=None,
    help="Sample-id column of the phenotype file (and of the covariate file where it has one of that name).",
)
@format_option()
@click.option(
    "--folds",
    default="5",
    show_default=True,
    help="Outer folds: a number K, or a sample_id -> fold table (CSV/TSV), as for fit.",
)
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--stratify",
    is_flag=True,
    help="Stratified random outer folds (binary traits; the inner folds of a binary trait "
    "are always stratified where each class has enough samples).",
)
@click.option(
    "--inner-folds",
    default=5,
    show_default=True,
    type=click.IntRange(2),
    help="K of the inner CV that scores each trial inside an outer training part.",
)
@click.option(
    "--trials",
    "n_trials",
    default=None,
    type=click.IntRange(1),
    help="Optuna trials per outer split (default: the space's n_trials, else 20).",
)
@click.option("--min-maf", default=0.0, show_default=True, type=float)
@click.option("--min-call-rate", default=0.0, show_default=True, type=float)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0))
@click.option(
    "--no-default",
    is_flag=True,
    help="Do not score the default configuration and GBLUP on the outer folds.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Run trials N at a time as Ray tasks (a local Ray started for the run).",
)
@click.option(
    "--ray-address",
    default=None,
    envvar="RAY_ADDRESS",
    show_envvar=True,
    help="Run the trials on the Ray cluster at HOST:PORT (`snpcnn docs cluster`).",
)
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(0, MAX_THREADS),
    help="Threads for TensorFlow and BLAS: in this process (serial) or per Ray task "
    "(default 1 with --workers).",
)
@click.option("--resume", is_flag=True, help="Continue the unfinished tune in OUT.partial/.")
@click.option(
    "--out",
    default="snpcnn_tune",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output directory (work goes to OUT.partial/ until the tune completes).",
)
@force_option
@verbose_option
def tune(
    genotypes,
    phenotypes,
    space,
    trait,
    covariates,
    covariates_file,
    categorical,
    id_column,
    geno_format,
    folds,
    repeats,
    stratify,
    inner_folds,
    n_trials,
    min_maf,
    min_call_rate,
    seed,
    no_default,
    workers,
    ray_address,
    threads,
    resume,
    out,
    force,
):
    """Nested hyperparameter search: outer folds report, inner folds choose.

    In each outer training part, Optuna trials (TPE, median pruning) are scored by an
    inner K-fold CV; the best configuration is refitted on that whole part and scored
    once on the outer test fold, beside the default configuration and GBLUP.  The outer
    test phenotypes are removed before the search starts.  See `snpcnn docs tune`.
    """
    from pathlib import Path

    from snpcnn.io import read_genotypes
    from snpcnn.io.output import check_writable
    from snpcnn.io.phenotypes import read_phenotypes
    from snpcnn.progress import Progress
    from snpcnn.threads import apply_threads
    from snpcnn.tune import check_filters, import_optuna, load_space
    from snpcnn.tune import tune as run_tune

    import_optuna()  # before anything is read: a plain install has no Optuna

    if workers is None and ray_address is None:
        apply_threads(threads)
    from snpcnn.report import resolve_link

    # the link's target (results there, the link kept); no trailing "/" in OUT.partial
    out = str(resolve_link(Path(out)))
    check_writable(out)
    # a second run to the same OUT (and OUT.partial) is refused now, not after its work
    from snpcnn.io.output import claim

    click.get_current_context().call_on_close(claim(out, "tune"))
    if Path(out).exists() and not force:
        raise InputError(f"output directory {out} exists; use --force to replace it")
    folds_value = int(folds) if folds.isdigit() else folds
    if isinstance(folds_value, int) and folds_value < 2:  # before the inputs are read
        raise InputError(f"--folds {folds}: outer CV needs at least 2 folds")
    if isinstance(folds_value, str) and not Path(folds_value).is_file():
        raise InputError(f"--folds {folds}: give a number of folds or an existing fold table file")
    cov_list, cat_list = covariate_lists(covariates, covariates_file, categorical)
    search = load_space(space)
    check_filters(min_maf, min_call_rate)  # before the inputs are read
    # --workers / --ray-address: Ray starts in the background while the inputs are read;
    # stopped when the command ends (the tune's executor runs on it)
    from snpcnn.cli.fit import _check_paths
    from snpcnn.executor import start_early

    if workers is not None or ray_address is not None:
        _check_paths(genotypes, phenotypes)  # a typo is reported at once, not after Ray starts
    early = start_early(workers, ray_address, threads, ("snpcnn.tune", "snpcnn.models"))
    if early is not None:
        click.get_current_context().call_on_close(early.close)
    progress = Progress()
    lines = _Lines(progress)
    geno = read_genotypes(genotypes, format=geno_format, verify=True)
    pheno = read_phenotypes(
        phenotypes,
        id_column=id_column,
        traits=[trait] if trait else None,
        covariates=cov_list or None,
        covariates_path=covariates_file,
        categorical=cat_list or None,
    )
    if covariates_file and not cov_list:  # --covariates-file alone: its every column
        cov_list = list(pheno.covariates)
    from snpcnn.report import input_checksums

    files = {"genotypes": genotypes, "phenotypes": phenotypes, "covariates": covariates_file}
    if isinstance(folds_value, str):
        files["folds"] = folds_value
    read_checksums = input_checksums(files)  # the files as read (run.json)
    cov_line = describe_covariates(pheno)
    if cov_line:
        click.echo(cov_line, err=True)
    trials = n_trials or search.n_trials or 20
    progress.line(
        f"tune: {geno.n_samples:,} samples x {geno.n_snps:,} SNPs; space {search.source} "
        f"({', '.join(search.names)}); {trials} trials x {inner_folds} inner folds per outer "
        "split"
    )
    if early is not None:
        early.wait()
    try:
        res = run_tune(
            geno,
            pheno,
            trait,
            space=search,
            out=out,
            folds=folds_value,
            repeats=repeats,
            stratify=stratify,
            inner_folds=inner_folds,
            n_trials=n_trials,
            covariates=cov_list or None,
            min_maf=min_maf,
            min_call_rate=min_call_rate,
            seed=seed,
            compare_default=not no_default,
            workers=workers,
            ray_address=ray_address,
            threads=threads,
            resume=resume,
            force=force,
            progress=lines,
            argv=["snpcnn", *sys.argv[1:]],
            read_checksums=read_checksums,
        )
    except KeyboardInterrupt as stop:
        progress.close()
        if not Path(f"{out}.partial").exists():  # nothing had finished: nothing kept
            raise Interrupted(
                "interrupted before any trial finished; nothing was kept", stop
            ) from None
        raise Interrupted(
            f"interrupted; finished trials are kept in {out}.partial/ — rerun with --resume "
            "to continue",
            stop,
        ) from None
    finally:
        progress.close()
    click.echo(f"\n== {res.trait}: outer folds ({res.headline_metric}) ==")
    for model, value, folds in res.summary_cells():
        click.echo(f"{model:<14} {value}  ({folds} folds)")
    click.echo(
        f"\nresults written to {out}/ (summary.md, chosen.csv, trials.csv, metrics.csv, "
        f"predictions.csv, run.json) in {res.wall_seconds:.1f} s"
    )


COMMANDS = [tune]
