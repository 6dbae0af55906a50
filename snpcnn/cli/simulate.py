"""``snpcnn simulate``: a simulated data set with a known genetic architecture, to run
``snpcnn fit`` on and see what each model can learn (issue 16: the simulation suite that
users run).  The Python API is :mod:`snpcnn.simulate`; the benchmark config
``benchmarks/configs/simulated.toml`` runs every architecture at once."""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from pathlib import Path

import click

from snpcnn.cli import coding_option, force_option, verbose_option
from snpcnn.io import FORMAT_HELP, FORMAT_NAMES

__all__ = ["COMMANDS", "simulate"]

#: files ``snpcnn simulate`` writes besides the genotypes
PHENOTYPES = "phenotypes.csv"
CAUSAL = "causal.csv"
#: options that shape simulated genotypes (parameter name, flag): refused with --genotypes,
#: where the trait is drawn on a file's own samples and SNPs
GENOTYPE_OPTIONS = (
    ("samples", "--samples"),
    ("snps", "--snps"),
    ("chromosomes", "--chromosomes"),
    ("ld", "--ld"),
    ("maf_range", "--maf-range"),
    ("block_length", "--block-length"),
    ("spacing", "--spacing"),
    ("missing_rate", "--missing-rate"),
    ("inbreeding", "--inbreeding"),
    ("fmt", "--format"),
)


@click.command()
@click.option(
    "--out",
    "out",
    default="snpcnn_simulation",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder to write (whole or not at all; replaced only with --force).",
)
@click.option(
    "--genotypes",
    "genotypes_path",
    default=None,
    type=click.Path(dir_okay=True),
    metavar="FILE",
    help="Draw the trait on these genotypes (VCF/BCF, PLINK 1 or 2, a table or a .snpcnn "
    "cache, as snpcnn fit reads them) instead of simulating genotypes: their own samples, "
    "allele frequencies, LD and SNP order (an interacting group's SNPs lie within --max-gap "
    "columns of each other in the order snpcnn reads them: a VCF's records sorted by "
    "chromosome and position, PLINK and tables as in the file).  No genotype file is written; "
    "phenotypes.csv holds the file's sample ids.  The options that shape simulated "
    "genotypes (--samples, --snps, --chromosomes, --ld, --maf-range, --block-length, "
    "--spacing, --missing-rate, --inbreeding, --format) do not apply.",
)
@click.option(
    "--genotypes-format",
    "genotypes_format",
    type=click.Choice(FORMAT_NAMES, case_sensitive=False),
    default=None,
    help=f"With --genotypes: the file's format, {FORMAT_HELP} (default: detected from the "
    "path, as snpcnn fit's --format).",
)
@coding_option("--genotypes-coding", "genotypes_coding")
@click.option(
    "--architecture",
    type=click.Choice(["sparse_additive", "polygenic", "local_epistasis", "dominance", "mixed"]),
    default="local_epistasis",
    show_default=True,
    help="Genetic architecture of the trait: sparse or polygenic additive effects, "
    "interacting SNP groups inside short windows (local epistasis), heterozygote advantage "
    "(dominance), or a sparse additive part plus local epistasis (mixed).",
)
@click.option("--samples", type=click.IntRange(20, 1_000_000), default=2000, show_default=True)
@click.option("--snps", type=click.IntRange(10, 10_000_000), default=4000, show_default=True)
@click.option("--chromosomes", type=click.IntRange(1, 1000), default=5, show_default=True)
@click.option(
    "--loci",
    type=click.IntRange(1),
    default=None,
    help="Causal SNPs (additive, dominance) or interacting groups (local epistasis); "
    "default: 10, for polygenic 1000 or half the polymorphic SNPs where fewer; mixed: this "
    "many of each.",
)
@click.option(
    "--h2",
    type=click.FloatRange(0.0, 1.0),
    default=0.6,
    show_default=True,
    help="Heritability: the genetic values are scaled to variance h2 exactly and the noise "
    "drawn with variance 1 - h2 (the realised share, in simulation.json, varies with the "
    "sample).",
)
@click.option(
    "--order",
    type=click.IntRange(2, 8),
    default=2,
    show_default=True,
    help="SNPs per interacting group (local epistasis, mixed): 2 pairs, 3 triples.",
)
@click.option(
    "--max-gap",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Each SNP of an interacting group (local epistasis, mixed) lies 1 to this many SNPs "
    "after the previous one on the same chromosome (uniform).  Blocks average --block-length "
    "SNPs, so a larger gap spreads the groups further inside (and across) them.",
)
@click.option(
    "--placement",
    type=click.Choice(["local", "trans"]),
    default="local",
    show_default=True,
    help="Where an interacting group's SNPs lie (local epistasis, mixed): within --max-gap "
    "SNPs of each other on one chromosome (local), or each on a different chromosome, "
    "anywhere along it (trans: interactions between unlinked loci; needs at least --order "
    "chromosomes).",
)
@click.option(
    "--pair-ld",
    type=click.Choice(["any", "weak", "strong"]),
    default="any",
    show_default=True,
    help="Interacting groups whose SNPs are in weak LD (every |r| < 0.3: no single SNP "
    "carries the signal), strong LD (largest |r| >= 0.5) or either.",
)
@click.option(
    "--ld",
    type=click.FloatRange(0.0, 0.999),
    default=0.9,
    show_default=True,
    help="Latent correlation of adjacent SNPs inside haplotype blocks (0: no LD).",
)
@click.option(
    "--maf-range",
    type=(float, float),
    default=(0.05, 0.5),
    show_default=True,
    metavar="LOW HIGH",
    help="Minor-allele frequencies are drawn uniformly between LOW and HIGH (0 < LOW <= HIGH "
    "<= 0.5).",
)
@click.option(
    "--block-length",
    type=click.FloatRange(1.0),
    default=50.0,
    show_default=True,
    help="Mean length of a haplotype block in SNPs (LD does not cross block ends).",
)
@click.option(
    "--spacing",
    type=click.FloatRange(1.0),
    default=10_000.0,  # snpcnn.simulate.SPACING (a test checks)
    show_default=True,
    help="Mean distance between adjacent SNPs in bp (LD decays with distance).",
)
@click.option(
    "--missing-rate",
    type=click.FloatRange(0.0, 0.99),
    default=0.0,
    show_default=True,
    help="Share of genotype calls set missing at random, after the trait is drawn on the "
    "complete genotypes (seed + 2).",
)
@click.option(
    "--inbreeding",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Inbreeding coefficient F: in each haplotype block of each sample the two "
    "haplotypes are identical by descent with probability F. 1 gives fully inbred lines "
    "(doubled haploids, RILs: dosages 0 and 2 only); 0 gives Hardy-Weinberg proportions.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["vcf", "plink"]),
    default="vcf",
    show_default=True,
    help="Genotype file: sim.vcf.gz, or sim.bed/.bim/.fam.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Seed of the genotypes; the trait uses seed + 1. The same seed gives the same files.",
)
@force_option
@verbose_option
def simulate(
    out,
    genotypes_path,
    genotypes_format,
    genotypes_coding,
    architecture,
    samples,
    snps,
    chromosomes,
    loci,
    h2,
    order,
    max_gap,
    placement,
    pair_ld,
    ld,
    maf_range,
    block_length,
    spacing,
    missing_rate,
    inbreeding,
    fmt,
    seed,
    force,
):
    """Write a simulated data set with a known genetic architecture to --out.

    Genotypes with haplotype-block LD (sim.vcf.gz or sim.bed), one trait
    (phenotypes.csv: sample_id and the trait, named after the architecture, or
    trans_epistasis for local_epistasis with --placement trans), the true
    causal SNPs (causal.csv: index, chrom, pos, id, component, group, effect) and
    simulation.json: the settings, the seeds and the trait's ceiling, corr(true genetic
    value, y), the highest Pearson r any model can reach on these data.  Then:

    \b
    snpcnn simulate --architecture local_epistasis --out sim
    snpcnn fit sim/sim.vcf.gz sim/phenotypes.csv --baselines gblup,rkhs,gblup_ad,egblup \\
        --out sim_results
    snpcnn explain sim_results/model.keras sim/sim.vcf.gz   # compare with sim/causal.csv

    With --genotypes FILE the trait is drawn on your own genotypes (their LD, allele
    frequencies and SNP order), and no genotype file is written:

    \b
    snpcnn simulate --genotypes my.vcf.gz --architecture dominance --out sim_my
    snpcnn fit my.vcf.gz sim_my/phenotypes.csv --out sim_my_results
    """
    from snpcnn.errors import InputError
    from snpcnn.io.output import write_errors
    from snpcnn.report import SIMULATE_MARKER, atomic_directory, check_output_dir
    from snpcnn.simulate import (
        POS_LIMIT,
        check_genotype_arguments,
        check_trait_arguments,
        chromosome_reach,
        mask_calls,
        simulate_genotypes,
        simulate_trait,
        write_genotypes,
    )

    genotype_args = dict(
        n_chrom=chromosomes,
        maf_range=tuple(maf_range),
        ld=ld,
        block_length=block_length,
        spacing=spacing,
        missing_rate=missing_rate,
        seed=seed,
        inbreeding=inbreeding,
    )
    trait_args = dict(
        architecture=architecture,
        h2=h2,
        n_loci=loci,
        order=order,
        max_gap=max_gap,
        pair_ld=pair_ld,
        seed=seed + 1,
        placement=placement,
    )
    if genotypes_path is not None:
        _simulate_on_file(
            genotypes_path, genotypes_format, genotypes_coding, out, trait_args, force
        )
        return
    if genotypes_format is not None:
        raise InputError(
            f"--genotypes-format {genotypes_format} names the format of a --genotypes file; "
            "give --genotypes FILE, or leave it out (--format chooses the written file's)"
        )
    if _given(click.get_current_context(), "genotypes_coding"):
        raise InputError(
            f"--genotypes-coding {genotypes_coding} says how a --genotypes table codes its "
            "genotypes; give --genotypes FILE, or leave it out"
        )
    # every check before any drawing or writing: a bad value leaves nothing behind (click's
    # ranges let NaN through; --maf-range's own check below refuses it)
    for flag, value in (
        ("--h2", h2),
        ("--ld", ld),
        ("--missing-rate", missing_rate),
        ("--block-length", block_length),
        ("--spacing", spacing),
        ("--inbreeding", inbreeding),
    ):
        if math.isnan(value) or (flag != "--block-length" and math.isinf(value)):
            raise InputError(f"{flag} {value}: give a number (see snpcnn simulate --help)")
    if architecture in ("local_epistasis", "mixed") and placement == "local" and max_gap >= snps:
        raise InputError(
            f"--max-gap {max_gap}: give 1 to {snps - 1} (the gap between two SNPs of a group, "
            f"among --snps {snps})"
        )
    if architecture == "dominance" and inbreeding >= 1.0:
        raise InputError(
            "--architecture dominance with --inbreeding 1: fully inbred lines hold no "
            "heterozygote, so the trait would have no genetic variance; give --inbreeding "
            "below 1, or another --architecture"
        )
    if chromosomes > snps:
        raise InputError(f"--chromosomes {chromosomes}: at most --snps ({snps})")
    if (
        architecture in ("local_epistasis", "mixed")
        and placement == "trans"
        and chromosomes < order
    ):
        raise InputError(
            f"--placement trans puts each SNP of a group of --order {order} on a different "
            f"chromosome: give --chromosomes {order} or more (now {chromosomes}), or "
            "--placement local"
        )
    low, high = maf_range
    if not (0.0 < low <= high <= 0.5):
        raise InputError(f"--maf-range {low:g} {high:g}: give 0 < LOW <= HIGH <= 0.5")
    if spacing * chromosome_reach(snps, chromosomes) >= POS_LIMIT:
        # positions must stay below VCF's and PLINK's 2^31 - 1 (the library's message names
        # its spacing argument, and more chromosomes is the fix at a given spacing)
        # the fewest chromosomes that fit (the reach shrinks as chromosomes grow)
        least = None
        lo_c, hi_c = chromosomes, min(snps, 1000)  # --chromosomes allows 1000
        if spacing * chromosome_reach(snps, hi_c) < POS_LIMIT:
            while lo_c < hi_c:
                mid = (lo_c + hi_c) // 2
                if spacing * chromosome_reach(snps, mid) < POS_LIMIT:
                    hi_c = mid
                else:
                    lo_c = mid + 1
            least = lo_c
        fix = (
            f"give --chromosomes {least} or more, or a smaller --spacing"
            if least is not None
            else "give a smaller --spacing"
        )
        raise InputError(
            f"--snps {snps} on --chromosomes {chromosomes}: {-(-snps // chromosomes):,} SNPs "
            f"{spacing / 1000:g} kb apart on one chromosome pass VCF's and PLINK's largest "
            f"position; {fix}"
        )
    ignored = _ignored_options(click.get_current_context(), architecture, placement)
    _check_memory(samples, snps, fmt, _causal_columns(architecture, loci, order, snps))
    check_genotype_arguments(samples, snps, **genotype_args)
    check_trait_arguments(**trait_args)
    check_output_dir(out, force, marker=SIMULATE_MARKER)
    t0 = time.perf_counter()
    # the trait on the complete genotypes, then the missing calls (seed + 2): drawn on masked
    # calls, the true genetic values were those of the mean-imputed data, and missing calls
    # cost a model nothing (a checking helper, session 45)
    g = simulate_genotypes(samples, snps, **{**genotype_args, "missing_rate": 0.0})
    trait = _trait_name(architecture, placement)
    y, causal = simulate_trait(g, name=trait, **trait_args)
    mask_calls(g, missing_rate, seed=seed + 2)
    attrs = dict(y.attrs)
    record = _record(
        {
            "n_samples": samples,
            "n_snps": snps,
            "format": fmt,
            **genotype_args,
            "missing_seed": seed + 2,
        },
        trait,
        trait_args,
        attrs,
        ignored,
        len(causal),
        {},
    )
    with write_errors(out), atomic_directory(out, force, marker=SIMULATE_MARKER) as tmp:
        geno_path = write_genotypes(g, tmp, fmt, "sim")
        y.rename(trait).to_frame().to_csv(
            tmp / PHENOTYPES, index_label="sample_id", float_format="%.10g"
        )
        causal.to_csv(tmp / CAUSAL, index=False, float_format="%.10g")
        record["files"] = {
            "genotypes": geno_path.name,
            "phenotypes": PHENOTYPES,
            "causal": CAUSAL,
        }
        (tmp / SIMULATE_MARKER).write_text(
            json.dumps(record, indent=2, default=_plain) + "\n", encoding="utf-8"
        )
    _say_ignored(ignored, architecture)
    shown = Path(out).as_posix().rstrip("/") or "/"  # `--out sim/` (tab completion): not sim//
    click.echo(
        f"wrote {shown}/ in {time.perf_counter() - t0:.1f} s: {samples:,} samples x {snps:,} "
        f"SNPs ({geno_path.name}), trait '{trait}' (h2 {h2:g}; {len(causal)} causal "
        f"SNPs in {CAUSAL}); " + _ceiling_text(h2, attrs)
    )
    q = shlex.quote
    click.echo(
        f"next: snpcnn fit {q(f'{shown}/{geno_path.name}')} {q(f'{shown}/{PHENOTYPES}')} "
        f"--out {q(f'{shown}_results')}"
    )


def _given(ctx: click.Context, name: str) -> bool:
    """Whether the user set option ``name`` (on the command line or from the environment)."""
    return ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)


def _trait_name(architecture: str, placement: str) -> str:
    """The trait's column: its architecture, "trans_epistasis" for groups across
    chromosomes."""
    if (architecture, placement) == ("local_epistasis", "trans"):
        return "trans_epistasis"
    return architecture


def _record(
    genotypes: dict,
    trait: str,
    trait_args: dict,
    attrs: dict,
    ignored: list[str],
    n_causal: int,
    files: dict,
) -> dict:
    """simulation.json's content."""
    from snpcnn import __version__

    return {
        "snpcnn_version": __version__,
        "written_by": "snpcnn simulate",
        "command": ["snpcnn", *sys.argv[1:]],
        "genotypes": genotypes,
        "trait": {"name": trait, **trait_args, **attrs},
        "ceiling": attrs.get("ceiling"),
        **({"ignored_options": ignored} if ignored else {}),
        "n_causal_snps": int(n_causal),
        "files": files,
    }


def _ignored_options(ctx: click.Context, architecture: str, placement: str) -> list[str]:
    """The options of interacting groups given with an architecture that has none, or
    --max-gap with trans groups (which lie anywhere on their chromosomes): said, and
    recorded as ignored (simulation.json listed them as if they applied; session 49)."""
    given = [n for n in ("order", "max_gap", "placement", "pair_ld") if _given(ctx, n)]
    if architecture not in ("local_epistasis", "mixed"):
        return ["--" + n.replace("_", "-") for n in given]
    return ["--max-gap"] if placement == "trans" and "max_gap" in given else []


def _simulate_on_file(
    genotypes_path, genotypes_format, genotypes_coding, out, trait_args: dict, force: bool
) -> None:
    """``snpcnn simulate --genotypes FILE``: the trait drawn on a file's genotypes; writes
    phenotypes.csv, causal.csv and simulation.json (with the file's path and checksum)."""
    from snpcnn.cli import read_cli_genotypes
    from snpcnn.errors import CLI_FLAG_RENAMES, InputError
    from snpcnn.io.output import write_errors
    from snpcnn.report import SIMULATE_MARKER, atomic_directory, check_output_dir, file_checksum
    from snpcnn.simulate import check_trait_arguments, simulate_trait

    ctx = click.get_current_context()
    clash = [flag for name, flag in GENOTYPE_OPTIONS if _given(ctx, name)]
    if clash:
        raise InputError(
            f"{', '.join(clash)}: shape{'s' if len(clash) == 1 else ''} simulated genotypes; "
            f"with --genotypes the trait is drawn on {genotypes_path}'s own samples and SNPs: "
            f"leave {'it' if len(clash) == 1 else 'them'} out"
        )
    architecture, placement = trait_args["architecture"], trait_args["placement"]
    ignored = _ignored_options(ctx, architecture, placement)
    check_trait_arguments(**trait_args)
    # an --out that holds the genotype file (sim/ from an earlier simulate, --force) would
    # delete it when replaced
    check_output_dir(out, force, inputs=(genotypes_path,), marker=SIMULATE_MARKER)
    t0 = time.perf_counter()
    # the reader's advice names this command's options (--format and --coding are others)
    token = CLI_FLAG_RENAMES.set({"format": "--genotypes-format", "coding": "--genotypes-coding"})
    try:
        g = read_cli_genotypes(genotypes_path, genotypes_format, genotypes_coding)
    finally:
        CLI_FLAG_RENAMES.reset(token)
    # the coding the reader applied (a table's); a PLINK or VCF file, which it only warned
    # about, recorded "coding": "012" as if it had been read so (an adversarial tester,
    # session 56)
    from snpcnn.io import _normalize_format, detect_format, read_options_for

    fmt = _normalize_format(genotypes_format) or detect_format(genotypes_path)
    applied = read_options_for(fmt, coding=genotypes_coding).get("coding", "auto")
    where = f"--genotypes {genotypes_path}"
    if g.n_samples < 20:
        raise InputError(
            f"{where}: {g.n_samples} samples; a simulated trait needs at least 20 (as "
            "--samples) to be cross-validated"
        )
    if architecture == "dominance" and not g.counts()["n1"].any():
        raise InputError(
            f"{where} holds no heterozygous call (inbred lines?), so a dominance trait "
            "would have no genetic variance; choose another --architecture"
        )
    trait = _trait_name(architecture, placement)
    try:
        y, causal = simulate_trait(g, name=trait, **trait_args)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    attrs = dict(y.attrs)
    record = _record(
        {
            "source": "file",
            "path": str(Path(genotypes_path).resolve()),
            **({"format": genotypes_format} if genotypes_format else {}),
            **({"coding": applied} if applied != "auto" else {}),
            "checksum": file_checksum(genotypes_path),
            "n_samples": int(g.n_samples),
            "n_snps": int(g.n_snps),
        },
        trait,
        trait_args,
        attrs,
        ignored,
        len(causal),
        # the genotypes are not in the folder: their full path (the other names are the
        # folder's files)
        {
            "genotypes": str(Path(genotypes_path).resolve()),
            "phenotypes": PHENOTYPES,
            "causal": CAUSAL,
        },
    )
    with write_errors(out), atomic_directory(out, force, marker=SIMULATE_MARKER) as tmp:
        y.rename(trait).to_frame().to_csv(
            tmp / PHENOTYPES, index_label="sample_id", float_format="%.10g"
        )
        causal.to_csv(tmp / CAUSAL, index=False, float_format="%.10g")
        (tmp / SIMULATE_MARKER).write_text(
            json.dumps(record, indent=2, default=_plain) + "\n", encoding="utf-8"
        )
    _say_ignored(ignored, architecture)
    shown = Path(out).as_posix().rstrip("/") or "/"
    click.echo(
        f"wrote {shown}/ in {time.perf_counter() - t0:.1f} s: trait '{trait}' (h2 "
        f"{trait_args['h2']:g}; {len(causal)} causal SNPs in {CAUSAL}) on {g.n_samples:,} "
        f"samples x {g.n_snps:,} SNPs of {genotypes_path}; "
        + _ceiling_text(trait_args["h2"], attrs)
    )
    q = shlex.quote
    # the fit reads the genotypes as simulate did: without --coding 012 it read a 0/1/2
    # table as presence/absence (an adversarial tester, session 56)
    read_as = (f" --format {q(genotypes_format)}" if genotypes_format else "") + (
        f" --coding {q(applied)}" if applied != "auto" else ""
    )
    click.echo(
        f"next: snpcnn fit {q(str(genotypes_path))} {q(f'{shown}/{PHENOTYPES}')}{read_as} "
        f"--out {q(f'{shown}_results')}"
    )


def _say_ignored(ignored: list[str], architecture: str) -> None:
    """The note on options given that do not apply to this architecture or placement."""
    if ignored == ["--max-gap"] and architecture in ("local_epistasis", "mixed"):
        click.echo("Note: --max-gap applies to --placement local only; ignored", err=True)
    elif ignored:
        click.echo(
            f"Note: {', '.join(ignored)} appl{'ies' if len(ignored) == 1 else 'y'} to "
            f"interacting SNP groups (local_epistasis, mixed) only; ignored for {architecture}",
            err=True,
        )


def _ceiling_text(h2: float, attrs: dict) -> str:
    """The console's words on the trait's ceiling."""
    if h2 > 0:
        return (
            f"its ceiling, corr(true genetic value, y), is {attrs.get('ceiling', float('nan')):.3f}: "
            "no model's Pearson r can exceed it beyond chance"
        )
    return "h2 0: the trait is noise, so any model's Pearson r is chance"


def _causal_columns(architecture: str, loci: int | None, order: int, snps: int) -> int:
    """Causal SNPs the trait draws (at most), for the memory estimate."""
    from snpcnn.simulate import _DEFAULT_LOCI

    k = loci if loci is not None else _DEFAULT_LOCI[architecture]
    if architecture == "polygenic" and loci is None:
        k = min(k, snps // 2)
    return {"local_epistasis": k * order, "mixed": k + k * order}.get(architecture, k)


def _check_memory(samples: int, snps: int, fmt: str, causal: int) -> None:
    """Refuse, before drawing, a data set that would not fit in the memory available now
    (100,000 x 100,000 ran out of memory after minutes, session 44): the int8 matrix (twice
    for PLINK, whose writer needs its own copy), and the trait's float64 columns of the
    causal SNPs (a dosage and a dominance term each, with their least-squares copies)."""
    from snpcnn.errors import InputError
    from snpcnn.threads import available_memory

    cells = samples * snps
    need = cells * (2 if fmt == "plink" else 1) + samples * (2 * causal + 1) * 8 * 3
    have = available_memory()
    if have is not None and need > 0.9 * have:
        raise InputError(
            f"--samples {samples:,} x --snps {snps:,} needs about {need / 2**30:.1f} GiB of "
            f"memory to draw and write, and {have / 2**30:.1f} GiB is available; give fewer "
            "--samples or --snps"
        )


def _plain(o):
    """numpy scalars in simulation.json as plain numbers."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


COMMANDS = [simulate]
