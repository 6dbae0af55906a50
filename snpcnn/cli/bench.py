"""``snpcnn benchmark``: every dataset x trait x model x seed of a TOML config, on shared folds."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from snpcnn.cli import force_option, verbose_option
from snpcnn.errors import Interrupted, SnpcnnError
from snpcnn.progress import Progress
from snpcnn.threads import MAX_THREADS

__all__ = ["COMMANDS", "benchmark"]

log = logging.getLogger("snpcnn.bench")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


workers_option = click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Run the folds as Ray tasks, N at a time (a local Ray started for the run, one "
    "thread each); results are identical to the serial run. See `snpcnn docs cluster`.",
)
ray_address_option = click.option(
    "--ray-address",
    default=None,
    envvar="RAY_ADDRESS",
    show_envvar=True,
    help="Run the tasks on the existing Ray cluster at HOST:PORT (from `ray start --head`) "
    "instead of a local one.",
)


def _int_list(text, option: str, what: str, example: str) -> list[int] | None:
    """The integers of a comma-separated option (None where not given)."""
    if text is None:
        return None
    try:
        out = [int(r) for r in _split(text)]
    except ValueError:
        raise SnpcnnError(
            f"{option} {text!r}: give {what} separated by commas, e.g. {option} {example}"
        ) from None
    if not out:
        raise SnpcnnError(f"{option} is empty; give {what} such as {example}")
    return out


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False),
    help="Results directory (work goes to OUT.partial/ until the run completes).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the unfinished run in OUT.partial/ without recomputing finished folds.",
)
@click.option(
    "--datasets",
    "only_datasets",
    default=None,
    help="Run only these datasets of the config (comma-separated names).",
)
@click.option(
    "--models",
    "only_models",
    default=None,
    help="Run only these CNN models of the config (comma-separated; baselines always run); "
    "'none' runs the baselines alone.",
)
@click.option(
    "--repeats",
    "only_repeats",
    default=None,
    help="Run only these random-fold repeats (comma-separated, 0-based), e.g. '1,2,3,4'. "
    "Folds and seeds are those of the full run, so a long run can be split by repeat.",
)
@click.option(
    "--seeds",
    "only_seeds",
    default=None,
    help="Run only these of the config's seeds (comma-separated), e.g. '1,2'. Each seed's "
    "numbers are those of a run over all the seeds.",
)
@workers_option
@ray_address_option
@click.option(
    "--threads",
    default=None,
    type=click.IntRange(0, MAX_THREADS),
    help="Threads for TensorFlow and BLAS: in this process (serial run; default or 0: the "
    "cores it may use) and in each --workers task (default 1).",
)
@force_option
@verbose_option
def benchmark(
    config,
    out,
    resume,
    only_datasets,
    only_models,
    only_repeats,
    only_seeds,
    workers,
    ray_address,
    threads,
    force,
):
    """Benchmark CNNs against GBLUP, ridge and RKHS as described by CONFIG (a TOML file).

    Every dataset x trait x model x seed is cross-validated on the same folds; the
    results (results.csv, predictions.csv, results.md, plots/, run.json) appear in
    OUT when everything is done.  See `snpcnn docs benchmark-command`.
    """
    from snpcnn.bench import bench_executor, headline_table, load_config, run_benchmark
    from snpcnn.io.output import check_writable, claim, write_errors
    from snpcnn.report import resolve_link
    from snpcnn.threads import apply_threads

    # the link's target (results there, the link kept); no trailing "/" in OUT.partial
    out = str(resolve_link(Path(out)))
    check_writable(out)
    # a second run to the same OUT (and OUT.partial) is refused now, not after its work
    click.get_current_context().call_on_close(claim(out, "benchmark"))
    apply_threads(threads)
    # --workers: the local Ray starts (and its workers import TensorFlow) while the config
    # loads here; stopped when the command ends, whatever happens (serial: nothing)
    executor = bench_executor(workers, ray_address, threads or None).start()
    click.get_current_context().call_on_close(executor.close)
    cfg = load_config(config)
    for option, value in (("--models", only_models), ("--datasets", only_datasets)):
        if value is not None and not _split(value):
            raise SnpcnnError(
                f"{option} {value!r} names nothing; give names separated by commas, or leave "
                f"{option} out to run them all"
            )
    models = _split(only_models) or None
    if models == ["none"]:
        if not cfg.baselines:
            raise SnpcnnError(f"{config}: --models none leaves nothing to run (no baselines)")
        models = []
    repeats = _int_list(only_repeats, "--repeats", "0-based repeat numbers", "1,2,3,4")
    seeds = _int_list(only_seeds, "--seeds", "seeds of the config", "1,2")
    cfg = cfg.select(_split(only_datasets) or None, models, repeats, seeds)
    n_units = sum(
        len(cfg.seeds) * len(d.traits) * ((1 if cfg.baselines else 0) + len(cfg.models))
        for d in cfg.datasets
    )
    click.echo(
        f"benchmark '{cfg.name}': {len(cfg.datasets)} dataset(s), {len(cfg.models)} CNN "
        f"model(s), baselines {', '.join(cfg.baselines) or 'none'}, seeds {cfg.seeds}: "
        f"{n_units} units",
        err=True,
    )
    kept = f"finished folds are kept in {out}.partial/ (rerun with --resume to continue)"
    progress = Progress()
    try:
        with write_errors(out, kept=kept):
            bench = run_benchmark(
                cfg,
                out,
                resume=resume,
                force=force,
                progress=progress,
                argv=["snpcnn", *sys.argv[1:]],
                workers=workers,
                ray_address=ray_address,
                threads=threads or None,
                executor=executor,
            )
    except KeyboardInterrupt as stop:
        progress.close()
        partial = Path(out).with_name(Path(out).name + ".partial")  # bench._partial_dir
        if not partial.is_dir() or not any(partial.rglob("*.json")):
            # it said "finished folds are kept" where no folder was ever made
            raise Interrupted(
                "interrupted before any fold finished; nothing was kept", stop
            ) from None
        raise Interrupted(
            f"interrupted; finished folds are kept in {out}.partial/ — rerun with --resume "
            "to continue",
            stop,
        ) from None
    finally:
        progress.close()
    for d in cfg.datasets:
        for trait in d.traits:
            rows = headline_table(bench, d.name, trait)
            if not rows:
                continue
            click.echo(f"\n== {d.name}: {trait} ==")
            cols = list(rows[0])
            widths = [max(len(c), *(len(r[c]) for r in rows)) for c in cols]
            click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
            for r in rows:
                click.echo("  ".join(r[c].ljust(w) for c, w in zip(cols, widths)))
    click.echo(
        f"\nresults written to {out}/ (results.md, results.csv, predictions.csv, plots/, "
        f"units/, run.json) in {bench.wall_seconds:.1f} s on {bench.device}"
    )


COMMANDS = [benchmark]
