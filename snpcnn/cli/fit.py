"""``snpcnn fit`` and ``snpcnn predict``: cross-validated genomic prediction and its use."""

from __future__ import annotations

import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import click

from snpcnn.cli import (
    categorical_option,
    coding_for_model,
    coding_option,
    covariate_lists,
    describe_covariates,
    force_option,
    format_option,
    read_cli_genotypes,
    verbose_option,
)
from snpcnn.cv import TRAIN_DEFAULTS
from snpcnn.errors import InputError
from snpcnn.progress import Progress
from snpcnn.threads import MAX_THREADS
from snpcnn.training import LINEAR_INITS

__all__ = ["COMMANDS", "fit", "predict"]


def _split_list(value: str | None) -> list[str]:
    if not value:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _folds_arg(value: str):
    if value.isdigit():
        return int(value)
    if not Path(value).exists():
        raise InputError(f"--folds {value}: give a number of folds or an existing fold table file")
    return value


@click.command()
@click.argument("genotypes", type=click.Path(dir_okay=True))
@click.argument("phenotypes", type=click.Path(dir_okay=False))
@click.option(
    "--trait",
    "traits",
    multiple=True,
    help="Trait column (repeat for several traits, "
    "fitted jointly by one multi-output CNN). Default: the only or first trait.",
)
@click.option(
    "--covariates",
    default=None,
    help="Comma-separated covariate columns (numeric, or "
    "categorical -> one-hot), fitted as fixed effects inside each fold.",
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
    help="Sample-id column of the phenotype file, and of the --covariates-file where it has "
    "a column of that name (default: sample_id, IID, id, else the first column).",
)
@format_option()
@coding_option()
@click.option(
    "--model",
    default="snpcnn_default",
    show_default=True,
    help="CNN preset name or an architecture TOML file (see `snpcnn models`).",
)
@click.option(
    "--encoding", type=click.Choice(["dosage", "onehot"]), default="dosage", show_default=True
)
@click.option(
    "--scaling",
    type=click.Choice(["none", "center", "standardize"]),
    default=TRAIN_DEFAULTS["scaling"],
    show_default=True,
    help="Dosage scaling, fitted on each training part.",
)
@click.option(
    "--linear-init",
    type=click.Choice(list(LINEAR_INITS)),
    default=TRAIN_DEFAULTS["linear_init"],
    show_default=True,
    help="How the linear SNP path of a wide & deep model (snpcnn_default) starts (`snpcnn docs models`).",
)
@click.option(
    "--conv-gate",
    default=TRAIN_DEFAULTS["conv_gate"],
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="Keep the convolutions' correction of the start only if it lowers the out-of-fold "
    "error on the training rows (cross-fitted; with --conv-folds 0 the inner-validation "
    "error) at this significance level (0 = any gain).",
)
@click.option(
    "--conv-folds",
    default=TRAIN_DEFAULTS["conv_folds"],
    show_default=True,
    type=click.IntRange(0),
    help="Cross-fit the convolutions in K parts of each training set (K networks, "
    "out-of-fold gate and weight on all training rows); 0 = one inner validation split.",
)
@click.option(
    "--folds",
    default="5",
    show_default=True,
    help="Number of folds K, or a sample_id -> fold table (CSV/TSV).",
)
@click.option(
    "--repeats",
    default=1,
    show_default=True,
    type=int,
    help="Repeat random K-fold with different splits.",
)
@click.option("--stratify", is_flag=True, help="Stratified folds (binary traits).")
@click.option(
    "--cv-scheme",
    type=click.Choice(["cv1", "cv2"]),
    default="cv1",
    show_default=True,
    help="With several --trait (environments): cv1 predicts new lines (hidden in every "
    "environment); cv2 predicts lines in an environment where they were not observed, "
    "from their other environments (folds of line x environment cells).",
)
@click.option(
    "--groups",
    default=None,
    help="Phenotype/covariate column for group K-fold "
    "(families, populations): a group never spans training and test.",
)
@click.option(
    "--epochs",
    default=TRAIN_DEFAULTS["epochs"],
    show_default=True,
    type=int,
    help="Maximum epochs.",
)
@click.option("--batch-size", default=TRAIN_DEFAULTS["batch_size"], show_default=True, type=int)
@click.option(
    "--learning-rate", default=TRAIN_DEFAULTS["learning_rate"], show_default=True, type=float
)
@click.option(
    "--patience",
    default=TRAIN_DEFAULTS["patience"],
    show_default=True,
    type=int,
    help="Early-stopping patience (epochs) on the inner validation split.",
)
@click.option(
    "--seeds",
    "n_seeds",
    default=TRAIN_DEFAULTS["n_seeds"],
    show_default=True,
    type=int,
    help="Average this many CNNs trained from different seeds (models without cross-fitted "
    "convolutions; the default already averages its --conv-folds networks).",
)
@click.option(
    "--baselines",
    default="gblup,ridge,rkhs",
    show_default=True,
    help="Comma-separated baselines on the same folds (gblup, ridge, rkhs, gblup_ad, egblup, "
    "cnn_gp = the infinite-width CNN, mlp_gp, lasso = the sparse linear model; with several --trait also mtgblup, the multi-trait "
    "GBLUP) or 'none'.",
)
@click.option(
    "--min-maf",
    default=0.0,
    show_default=True,
    type=float,
    help="Drop SNPs with training-fold MAF below this.",
)
@click.option(
    "--min-call-rate",
    default=0.0,
    show_default=True,
    type=float,
    help="Drop SNPs with training-fold call rate below this.",
)
@click.option(
    "--preselect-top-k",
    default=None,
    type=int,
    help="Keep the k SNPs most associated with the trait in each training fold.",
)
@click.option(
    "--preselect-p",
    default=None,
    type=float,
    help="Keep SNPs with training-fold marginal p-value below this.",
)
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--xla", is_flag=True, help="Compile the CNN with XLA (jit_compile).")
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(0, MAX_THREADS),
    help="Threads for TensorFlow and BLAS (the baselines); default (or 0): the cores this "
    "process may use.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Run the folds as Ray tasks, N at a time (a local Ray started for the run, "
    "--threads per task, default 1); same results as a serial --threads 1 run "
    "(`snpcnn docs cluster`).",
)
@click.option(
    "--ray-address",
    default=None,
    help="Run the fold tasks on the existing Ray cluster at HOST:PORT (or set RAY_ADDRESS "
    "with --workers).",
)
@click.option(
    "--no-refit", is_flag=True, help="Skip the final refit on all samples (no model.keras)."
)
@click.option(
    "--out",
    "out",
    default="snpcnn_results",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Output directory.",
)
@force_option
@verbose_option
def fit(
    genotypes,
    phenotypes,
    traits,
    covariates,
    covariates_file,
    categorical,
    id_column,
    geno_format,
    coding,
    model,
    encoding,
    scaling,
    linear_init,
    conv_gate,
    conv_folds,
    folds,
    repeats,
    stratify,
    cv_scheme,
    groups,
    epochs,
    batch_size,
    learning_rate,
    patience,
    n_seeds,
    baselines,
    min_maf,
    min_call_rate,
    preselect_top_k,
    preselect_p,
    seed,
    xla,
    threads,
    workers,
    ray_address,
    no_refit,
    out,
    force,
):
    """Cross-validate a CNN and GBLUP, ridge and RKHS on the same folds and save the results.

    GENOTYPES is a VCF/BCF, PLINK 1 (.bed) or 2 (.pgen) or prefix, numeric CSV matrix or
    snpcnn cache;
    PHENOTYPES a CSV/TSV or PLINK .pheno file, joined by sample id.
    """
    from snpcnn.config import (
        BaselineConfig,
        DataConfig,
        ExecutionConfig,
        PreprocessConfig,
        TrainingConfig,
    )
    from snpcnn.cv import cross_validate, named_twice_note
    from snpcnn.io.output import check_writable, write_errors
    from snpcnn.io.phenotypes import align, read_phenotypes
    from snpcnn.report import check_output_dir, console_report, input_checksums, save_results
    from snpcnn.threads import apply_threads

    t0 = time.perf_counter()
    apply_threads(threads)
    from snpcnn.report import resolve_link

    target = resolve_link(out)  # where the results will go (a link's target): checked now
    check_output_dir(
        target, force, inputs=(genotypes, phenotypes, covariates_file, folds), command="fit"
    )
    check_writable(target)
    # a second run to the same --out is refused now, not after its work (session 40: it
    # computed everything, then refused, or with --force replaced the first's results)
    from snpcnn.io.output import claim

    click.get_current_context().call_on_close(claim(target, "fit"))
    folds_value = _folds_arg(folds)
    if epochs < 1:
        raise InputError(f"--epochs must be at least 1, got {epochs}")
    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    if not 0 < learning_rate < float("inf"):  # inf failed inside Keras (session 43)
        raise InputError(f"--learning-rate must be positive and finite, got {learning_rate}")
    if n_seeds < 1:
        raise InputError(f"--seeds must be at least 1, got {n_seeds}")
    cov_list, cat_list = covariate_lists(covariates, covariates_file, categorical)
    model_arg = model
    if model.endswith(".toml") or Path(model).is_file():
        model_arg = str(Path(model))
    # every setting is checked here, before the genotypes are read
    settings = dict(
        data=DataConfig(
            covariates=cov_list,
            folds=folds_value,
            repeats=repeats,
            stratify=stratify,
            cv_scheme=cv_scheme,
            groups=groups,
            seed=seed,
        ),
        preprocessing=PreprocessConfig(
            encoding=encoding,
            scaling=scaling,
            min_maf=min_maf,
            min_call_rate=min_call_rate,
            preselect_top_k=preselect_top_k,
            preselect_p=preselect_p,
        ),
        training=TrainingConfig(
            model=model_arg,
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            patience=patience,
            n_seeds=n_seeds,
            jit_compile=xla,
            linear_init=linear_init,
            conv_gate=conv_gate,
            conv_folds=conv_folds,
        ),
        baselines=BaselineConfig(names=_split_list(baselines)),
    )
    from snpcnn.models import load_architecture

    spec = load_architecture(model_arg)  # a bad architecture file is one line before any data
    ctx = click.get_current_context()
    if (
        encoding == "onehot"
        and ctx.get_parameter_source("scaling") == click.core.ParameterSource.COMMANDLINE
    ):
        raise InputError(
            "--scaling applies to the dosage encoding; --encoding onehot feeds 0/1 genotype "
            "indicators, which are not scaled: leave --scaling out"
        )
    if "linear" not in spec and not callable(spec):
        # the cross-fitted correction's options do nothing for a network trained as a whole
        # (deepgs, mlp, ...): they were recorded in run.json as if used (a checking helper,
        # session 39)
        given = [
            f"--{name.replace('_', '-')}"
            for name in ("conv_gate", "conv_folds", "linear_init")
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        ]
        if given:
            raise InputError(
                f"{', '.join(given)}: for models whose convolutions correct a linear SNP path "
                f"(the default's [linear] table); --model {model} is trained as a whole and "
                "has none: leave them out"
            )

    # --workers / --ray-address: Ray starts in the background while the inputs are read
    # (its workers import the fold task's modules); stopped when the command ends
    from snpcnn.executor import start_early

    if workers is not None or ray_address is not None:
        _check_paths(genotypes, phenotypes)  # a typo is reported at once, not after Ray starts
    # one fold a task: no more workers warmed than there are folds (unknown for a fold file)
    n_units = folds_value * repeats if isinstance(folds_value, int) else None
    early = start_early(workers, ray_address, threads, ("snpcnn.cv", "snpcnn.models"), n_units)
    if early is not None:
        click.get_current_context().call_on_close(early.close)
    # fitted once, as cross_validate notes (a checking helper, session 44); the note goes
    # into the results' notes, so the console prints it once, with the others
    twice_note = named_twice_note(traits) if len(set(traits)) < len(traits) else None
    traits = list(dict.fromkeys(traits))  # a trait named twice is fitted once
    # first: a trait or covariate the file lacks is one line before the genotypes are read
    pheno = read_phenotypes(
        phenotypes,
        id_column=id_column,
        traits=traits or None,
        covariates=cov_list or None,
        covariates_path=covariates_file,
        categorical=cat_list or None,
        labels=[groups] if groups else None,
    )
    inputs = {"genotypes": genotypes, "phenotypes": phenotypes}
    if covariates_file:
        inputs["covariates"] = covariates_file
    if isinstance(folds_value, str):
        inputs["folds"] = folds_value
    # hashed as soon as they are read (the genotype file after its read, below)
    read_checksums = input_checksums({k: v for k, v in inputs.items() if k != "genotypes"})
    if covariates_file and not cov_list:
        # --covariates-file alone: every column of the file but its id (and a --groups
        # column) is a covariate, as the console says; they were read, then dropped, and
        # the fit used none (a checking helper, session 39)
        cov_list = list(pheno.covariates)
        settings["data"] = replace(settings["data"], covariates=cov_list)
    progress = Progress()
    progress("step_start", name=f"reading genotypes {genotypes}")
    geno = read_cli_genotypes(genotypes, geno_format, coding)
    progress(
        "step_done",
        name="reading genotypes",
        detail=f": {geno.n_samples:,} samples x {geno.n_snps:,} SNPs",
    )
    # the files as read: run.json records these, and names a file replaced during the run
    read_checksums = {**input_checksums({"genotypes": genotypes}), **read_checksums}
    trait_list = traits or [pheno.default_trait()]
    if not traits:
        click.echo(default_trait_text(pheno, trait_list[0]), err=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        al = align(geno, pheno, traits=trait_list)
    for w in caught:
        click.echo(f"Warning: {w.message}", err=True)
    click.echo(al.format_report(), err=True)
    cov_line = describe_covariates(pheno, al.sample_ids)  # levels among the samples used
    if cov_line:
        click.echo(cov_line, err=True)
    # --workers / --ray-address: the folds as executor tasks (snpcnn.executor)
    execution = ExecutionConfig(
        refit=not no_refit,
        progress=progress,
        workers=workers,
        ray_address=ray_address,
        threads=threads or None,  # 0 = the default, as the help says (benchmark, tune too)
    )
    if early is not None:
        early.wait()  # cross_validate's executor runs on this Ray
    from snpcnn.io.phenotypes import AlignmentWarning

    try:
        with warnings.catch_warnings():
            # cross_validate aligns the same files again: its warnings were printed above
            warnings.filterwarnings("ignore", category=AlignmentWarning)
            results = cross_validate(geno, pheno, trait_list, execution=execution, **settings)
    finally:
        progress.close()
    results.timings["total_seconds"] = time.perf_counter() - t0
    if twice_note and twice_note not in results.notes:  # summary.md and run.json record it
        results.notes.insert(0, twice_note)
    with write_errors(out):
        save_results(
            results,
            out,
            inputs=inputs,
            force=force,
            argv=["snpcnn", *sys.argv[1:]],
            read_checksums=read_checksums,
        )
    click.echo(console_report(results))
    click.echo(
        f"\nresults written to {out}/ (summary.md, metrics.csv, predictions.csv, "
        f"{'model.keras, ' if results.final_bundle is not None else ''}run.json, plots/)"
    )


@click.command()
@click.argument("model", type=click.Path())
@click.argument("genotypes", type=click.Path())
@format_option()
@coding_option()
@click.option(
    "--out",
    "out",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write predictions to this CSV (default, or -: print to stdout).",
)
@click.option(
    "--covariates",
    "covariates_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Table (CSV/TSV, one row per sample id) with the covariate columns the model was "
    "fitted with; their fixed effects are then added per sample. Without it a model with "
    "covariates uses their training means.",
)
@click.option("--id-column", default=None, help="Sample-id column of the --covariates file.")
@click.option("--force", is_flag=True, help="Overwrite an existing output file (never a folder).")
@verbose_option
def predict(model, genotypes, geno_format, coding, out, covariates_file, id_column, force):
    """Predict traits for new individuals with a MODEL written by `snpcnn fit`.

    SNPs are matched to the model's by id, else by chrom:pos with alleles; a file
    that counts the other allele is flipped; absent SNPs are mean-imputed. A model
    fitted with covariates takes them per sample from --covariates FILE (same columns
    and checks as in fit); without the file it says so and uses their training means.
    """
    from snpcnn.bundle import load_bundle
    from snpcnn.io.output import check_writable, write_errors
    from snpcnn.report import atomic_write_text

    if id_column and not covariates_file:
        raise InputError("--id-column names the --covariates file's id column; give --covariates")
    if out == "-":  # the usual spelling of stdout
        out = None
    if out and str(out).endswith(("/", os.sep)) and not Path(out).is_dir():
        # "--out newdir/" wrote a file named newdir (an adversarial tester, session 56)
        raise InputError(
            f"--out {out} names a folder; give a file name, such as {out}predictions.csv"
        )
    if out and any(
        item and Path(item).exists() and Path(item).resolve() == Path(out).resolve()
        for item in (model, genotypes, covariates_file)
    ):
        raise InputError(f"--out {out} is an input file; choose another --out")
    if out:
        from snpcnn.io import input_files

        target = Path(out).resolve()
        if any(f.resolve() == target for f in input_files(genotypes, geno_format)):
            # --out wheat.fam (--force) replaced the .fam of the input wheat; likewise a
            # VCF's .tbi or a file of the input's cache (an adversarial tester, session 56)
            raise InputError(
                f"--out {out} is a file of the input {genotypes}, which predict never "
                "overwrites, even with --force; choose another --out"
            )
    if out and Path(out).is_file() and Path(out).name in RESULT_FILES:
        from snpcnn.report import results_folder_owner

        owner = results_folder_owner(Path(out).parent)
        if owner:  # e.g. --out FIT/predictions.csv: the fit's out-of-fold predictions
            raise InputError(
                f"{out} is a file of {owner}'s results in {Path(out).parent}, which predict "
                "never overwrites, even with --force; choose another --out"
            )
    if out and Path(out).is_symlink():
        # written atomically, the new file would replace the link itself (a link to
        # /proc/self/fd/1 or a log elsewhere; a checking helper, session 49)
        raise InputError(
            f"--out {out} is a symbolic link; give the file it points to "
            f"({Path(out).resolve()}), another name, or --out - for standard output"
        )
    if out and Path(out).exists() and not (Path(out).is_file() or Path(out).is_dir()):
        # a FIFO or a device (/dev/stdout is a link): a rename would put a file in its place
        raise InputError(
            f"--out {out} is not a regular file (a device, pipe or socket); give a file name, "
            "or --out - for standard output"
        )
    if out and Path(out).exists() and not force:
        raise InputError(f"{out} exists; use --force to overwrite it")
    if out and Path(out).is_file():
        check_not_results_file(out)
    if out and Path(out).is_dir():
        raise InputError(f"{out} is a folder; give --out a file name such as predictions.csv")
    if out:
        check_writable(out)
    check_model_first(model, genotypes, "predict")
    bundle = load_bundle(model)
    coding = coding_for_model(genotypes, geno_format, coding, bundle)
    geno = read_cli_genotypes(genotypes, geno_format, coding, by_id=True)
    cov = model_covariates(bundle, covariates_file, id_column, geno.samples, "snpcnn predict")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = bundle.predict(geno, covariates=cov)
    for w in caught:
        click.echo(f"Warning: {w.message}", err=True)
    click.echo(match_text(getattr(bundle, "last_match_", None), genotypes), err=True)
    for t, levels in (bundle.binary_levels or {}).items():
        # what a binary trait's column holds (a 1/2 trait is scored on its 0/1 code: the
        # column is neither on the 1/2 scale nor, for the default, a probability; nothing
        # said so: a checking helper, session 39)
        from snpcnn.folds import level_text

        lo, hi = (level_text(v) for v in levels)
        click.echo(
            f"Note: '{t}' is a binary trait (0 = {lo}, 1 = {hi}): its column is "
            + (
                f"the probability of {hi} (a sigmoid network's output)"
                if bundle.head == "binary"
                else f"the expected 0/1 code (1 = {hi}) of a linear probability model: a score "
                "that ranks samples and can fall outside 0..1, not a probability"
            ),
            err=True,
        )
    csv = table.to_csv(index=False, float_format="%.10g")
    if out:
        with write_errors(out):
            atomic_write_text(out, csv)
        values = table[[c for c in table.columns if c in set(bundle.traits)]]
        empty = int(values.isna().all(axis=1).sum()) if values.shape[1] else 0
        gaps = f" ({empty:,} of them empty: see the warning above)" if empty else ""
        samples = "sample" if len(table) == 1 else "samples"
        click.echo(f"predictions for {len(table):,} {samples} written to {out}{gaps}", err=True)
    else:
        click.echo(csv, nl=False)


def check_not_results_file(out) -> None:
    """Refuse ``out``, an existing file inside a folder of another snpcnn command's results
    (at any depth, or in an unfinished benchmark or tune's ``.partial`` folder), unless it
    is a predictions table that predict wrote there: ``--force`` replaced a benchmark
    unit's ``units/DATASET/TRAIT/MODEL/seedK/r0_f1.json``, which a later ``--resume``
    recomputed (an adversarial tester, session 56)."""
    from snpcnn.report import results_folder_owner

    path = Path(out).resolve()
    for folder in path.parents:
        owner = results_folder_owner(folder)
        if owner is None and folder.name.endswith(".partial"):
            if any((folder / m).exists() for m in ("units", "settings.json", "outer")):
                owner = "an unfinished snpcnn benchmark or tune"
        if owner is None:
            continue
        if path.name not in RESULT_FILES and _predictions_table(path):
            return  # predict's own earlier output there: --force may replace it
        owner = owner if owner.startswith("an ") else f"{owner}'s results"
        raise InputError(
            f"--out {out} is a file in {folder}, {owner}, that predict did not write; predict "
            "never overwrites it, even with --force: choose another --out"
        )


def _predictions_table(path: Path) -> bool:
    """Whether ``path`` starts as a table that predict writes: a CSV whose header's first
    column is ``sample_id``."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline(4096)
    except OSError:
        return False
    return first.split(",")[0].strip() == "sample_id"


def check_model_first(model, genotypes, command: str) -> None:
    """One line where the model and the genotypes were given the other way round (it said
    "not a .keras model file ... fit the model again"; a checking helper, session 49)."""
    if str(genotypes).endswith(".keras") and not str(model).endswith(".keras"):
        raise InputError(
            f"snpcnn {command} takes the model first and the genotypes second, and {genotypes} "
            f"looks like the model: snpcnn {command} {genotypes} {model}"
        )


#: the files fit, benchmark, tune and explain write into their folders (predict never
#: overwrites one of these there; its own earlier output it may, with --force)
RESULT_FILES = frozenset(
    {
        "predictions.csv", "metrics.csv", "summary.md", "run.json", "model.keras",
        "results.csv", "results.md", "trials.csv", "chosen.csv", "chosen.json", "folds.csv",
        "importance.csv", "explain.json", "simulation.json", "causal.csv", "phenotypes.csv",
    }
)  # fmt: skip


def default_trait_text(pheno, trait: str) -> str:
    """The line naming the trait fitted where none was chosen: the other trait columns, and
    a warning where the first one looks like codes (a year column fitted as the trait: a
    checking helper, session 39)."""
    others = [t for t in pheno.traits if t != trait]
    text = f"trait: {trait} (the first trait column"
    if others:
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        text += f"; the others: {shown}"
    text += "; choose with --trait)"
    import re

    values = pheno.table[trait].dropna().to_numpy(dtype=float)
    years = len(values) and ((values >= 1900) & (values <= 2100) & (values == values.round())).all()
    named = re.search(
        r"(^|[^a-z])(year|yr|herd|cage|litter|batch|block|rep|env|site|loc)", trait.lower()
    )
    # a 1-9 score or a litter size is a trait: only a column of years, or one named like a
    # code, is flagged (a review, session 39)
    if others and len(values) > 20 and (years or named):
        text += (
            f"\nWarning: '{trait}' looks like a code ({'years' if years else 'its name'}), not "
            "a trait; choose the trait with --trait, and make it a covariate with "
            f"--covariates {trait} --categorical {trait}"
        )
    return text


def match_text(match: dict | None, source: str) -> str:
    """One line on how the model's SNPs were found in ``source``: by id, by chrom:pos, and
    how many count the other allele (their dosages flipped).  Swapped alleles and position
    matches were silent, so a breeder could not check the file (a checking helper,
    session 35)."""
    if not match:
        return ""
    found = match["n_by_id"] + match["n_by_position"]
    parts = [f"{match['n_by_id']:,} by id"]
    if match["n_by_position"]:
        parts.append(f"{match['n_by_position']:,} by chrom:pos and alleles")
    text = f"{source}: {found:,} of the model's {match['n_model_snps']:,} SNPs found ({', '.join(parts)})"
    if match["n_flipped"]:
        text += (
            f"; {match['n_flipped']:,} count the other allele (REF/ALT swapped), their "
            "dosages flipped"
        )
    unverified = match.get("n_orientation_unverified", 0)
    if unverified:
        text += (
            f"; {unverified:,} matched by id alone, their counted allele not checked (no "
            "alleles in "
            + ("the file" if match.get("new_has_no_alleles") else "the model's training file")
            + ")"
        )
    if match.get("n_uncalled"):
        text += (
            f"; {match['n_uncalled']:,} of the SNPs found have no call in any sample (imputed "
            "with the training mean, as absent SNPs are)"
        )
    return text


def _check_paths(genotypes, phenotypes) -> None:
    """The readers' one-line errors for input paths that do not exist (a PLINK prefix is a
    path whose .bed or .pgen exists), before anything slow starts."""
    from snpcnn.io.plink import fileset_path

    g = Path(genotypes)
    if not (g.exists() or fileset_path(g, ".bed").exists()):
        if not fileset_path(g, ".pgen").exists():
            raise InputError(f"{g}: no such file; check the path")
    if not Path(phenotypes).exists():
        raise InputError(f"phenotype file {phenotypes} does not exist; check the path")


def model_covariates(bundle, covariates_file, id_column, sample_ids, command: str):
    """The model's covariate design for ``sample_ids`` from ``covariates_file`` (or None).

    Says on stderr what is assumed when the model has covariates and no file is given,
    and refuses a file for a model without covariates.
    """
    import numpy as np

    from snpcnn.io.phenotypes import as_fitted, read_phenotypes

    names = bundle.covariate_names if bundle.head == "regression" else []
    if not names:
        if covariates_file:
            why = (
                "the model is a binary trait's CNN, which does not use covariates (fit "
                "ignored them for the CNN)"
                if bundle.head == "binary" and bundle.covariate_names
                else "the model was fitted without covariates"
            )
            raise InputError(f"--covariates {covariates_file}: {why}; leave the option out")
        return None
    if not covariates_file:
        click.echo(
            f"{command}: the model was fitted with the covariates {', '.join(names)}; none "
            "given (--covariates FILE), so every sample gets their training means (a "
            "prediction for an average individual: only the genomic part differs between "
            "samples)",
            err=True,
        )
        return None
    # a prediction needs every covariate value: the reader's "leave the cell empty for
    # missing" led to a refusal (an adversarial tester, session 56)
    without = (
        "leave those samples out of the genotypes, or leave out --covariates (every sample "
        "then gets the covariates' training means)"
    )
    try:
        ph = read_phenotypes(
            covariates_file,
            id_column=id_column,
            traits=[],
            covariates=names,
            categorical=[c for c in names if c in bundle.covariate_levels],
        )
    except InputError as exc:  # the model fixes which covariates are numbers: no --categorical
        raise as_fitted(exc, without) from None
    c, notes = bundle.covariate_design(ph, sample_ids, source=str(covariates_file), without=without)
    for n in notes:
        click.echo(f"Warning: {covariates_file}: {n}", err=True)
    return np.asarray(c, dtype=np.float64)


COMMANDS = [fit, predict]
