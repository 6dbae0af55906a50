"""``snpcnn info`` and ``snpcnn convert``: look at genotype files and convert them to a cache."""

from __future__ import annotations

import time

import click

from snpcnn.cli import coding_option, force_option, format_option, verbose_option

__all__ = ["COMMANDS", "info", "convert"]

_format_option = format_option("fmt")
_snps_only_option = click.option(
    "--snps-only", is_flag=True, help="VCF/PLINK: drop indels and symbolic alleles."
)
_multiallelic_option = click.option(
    "--multiallelic",
    type=click.Choice(["drop", "alt1"]),
    default="drop",
    show_default=True,
    help="VCF: drop multi-allelic sites, or count their first ALT (other ALT calls -> missing).",
)
_coding_option = coding_option()


@click.command()
@click.argument("file", type=click.Path())
@_format_option
@_snps_only_option
@_multiallelic_option
@_coding_option
@click.option(
    "--no-cache",
    is_flag=True,
    help="Parse the file even if a converted cache exists, and write none.",
)
@verbose_option
def info(fmt, file, snps_only, multiallelic, coding, no_cache):
    """Summarize a genotype FILE: samples, SNPs, chromosomes, missingness, MAF, load report.

    A VCF, BCF or table of 1 MiB or more is cached after parsing (one line on stderr says
    where; --no-cache or SNPCNN_NO_CACHE=1 turns that off, SNPCNN_CACHE_DIR moves it).

    FILE is a .vcf/.vcf.gz or .bcf, a PLINK 1 (.bed) or PLINK 2 (.pgen) file or prefix, a
    .csv/.tsv matrix or a .snpcnn cache.
    """
    from snpcnn.io import read_genotypes

    t0 = time.perf_counter()
    g = read_genotypes(
        file,
        fmt,
        snps_only=snps_only,
        multiallelic=multiallelic,
        coding=coding,
        cache=False if no_cache else True,
        verify=True,
    )
    t_read = time.perf_counter() - t0
    t1 = time.perf_counter()
    summary = g.format_summary()  # MAF and the LD-order check read every SNP: timed apart
    click.echo(summary)
    # the read alone (it included the summary's seconds, so a cache looked hardly faster
    # than parsing: a checking helper, session 45)
    click.echo(
        f"read in:       {t_read:.2f} s (the summary above took {time.perf_counter() - t1:.2f} s)"
    )


@click.command()
@click.argument("src", metavar="IN", type=click.Path())
@click.argument("dst", metavar="[OUT]", type=click.Path(), required=False)
@click.option(
    "-o",
    "--out",
    "out",
    type=click.Path(),
    default=None,
    help="The cache directory to write (same as OUT; default: IN.snpcnn next to IN).",
)
@_format_option
@_snps_only_option
@_multiallelic_option
@_coding_option
@force_option
@verbose_option
def convert(src, dst, out, fmt, snps_only, multiallelic, coding, force):
    """Convert genotypes IN to a memory-mappable cache directory OUT (default IN.snpcnn).

    The cache (dosages.npy, samples.txt, variants.tsv, meta.json) loads in
    milliseconds and is reused automatically by every command reading IN while
    IN is unchanged.  The default OUT is next to IN; give OUT (or --out) when
    that folder is read-only or shared.
    """
    from snpcnn.errors import InputError
    from snpcnn.io.cache import convert as _convert
    from snpcnn.io.cache import load_cache

    if out is not None and dst is not None and out != dst:
        raise InputError(f"two output paths given ({dst} and --out {out}); give one")
    dst = out if out is not None else dst
    t0 = time.perf_counter()
    kwargs = {"snps_only": snps_only, "multiallelic": multiallelic, "coding": coding}
    out = _convert(src, dst, force=force, format=fmt, **kwargs)
    g = load_cache(out)
    size = sum(f.stat().st_size for f in out.iterdir())
    click.echo(
        f"wrote {out} ({g.n_samples:,} samples x {g.n_snps:,} SNPs, {size / 1e6:.1f} MB) "
        f"in {time.perf_counter() - t0:.2f} s"
    )


COMMANDS = [info, convert]
