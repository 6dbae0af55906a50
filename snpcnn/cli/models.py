"""``snpcnn models``: the built-in architectures, and one preset's full architecture."""

from __future__ import annotations

import click

from snpcnn.cli import verbose_option
from snpcnn.errors import InputError

__all__ = ["COMMANDS", "models"]


@click.command()
@click.argument("preset", required=False)
@click.option(
    "--snps",
    default=10_000,
    show_default=True,
    type=click.IntRange(1, 5_000_000),
    help="With PRESET: the number of SNPs to build it for (its layer table and parameter counts).",
)
@verbose_option
def models(preset, snps):
    """List the built-in architectures, or print PRESET's layers, blocks and training defaults.

    \b
    snpcnn models                    # every preset with its one-line description
    snpcnn models snpcnn_default     # its architecture at 10,000 SNPs
    snpcnn models my_arch.toml       # an architecture file's, as `snpcnn fit --model` reads it
    """
    from snpcnn.models import build_model, describe, get_preset, list_presets
    from snpcnn.models.core import InputTooSmall
    from snpcnn.models.spec import load_architecture

    if preset is None:
        names = list_presets()
        width = max(len(n) for n in names)
        for name in names:
            desc = get_preset(name).get("description", "")
            click.echo(f"{name.ljust(width)}  {desc}")
        click.echo(
            "\nsnpcnn models NAME prints one in full; `snpcnn docs models` describes them all; "
            "`snpcnn fit --model NAME|FILE.toml` uses one."
        )
        return
    # a preset name or a .toml/.json file (InputError with the valid names otherwise)
    spec = get_preset(preset) if preset in list_presets() else load_architecture(preset)
    click.echo(f"{preset}: {spec.get('description', '')}")
    if spec.get("reference"):
        click.echo(f"reference: {spec['reference']}")
    for key in ("defaults", "linear", "screen", "training", "triple_stage"):
        if key in spec:
            click.echo(f"[{key}] " + ", ".join(f"{k} = {v}" for k, v in spec[key].items()))
    try:
        model = build_model(spec, (snps, 1))
    except InputTooSmall as exc:  # fits longer inputs (an image preset too deep for this length)
        click.echo(
            f"(cannot be built on {snps:,} SNPs x 1 channel: {str(exc).splitlines()[0]}; "
            "try a larger --snps)"
        )
        return
    except InputError as exc:  # the architecture itself: an error, not a note
        raise InputError(f"{preset}: cannot be built: {exc}") from None
    except ValueError as exc:  # a Keras error the checks did not foresee: name it
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{preset}: cannot be built on {snps:,} SNPs x 1 channel "
            f"({type(exc).__name__}: {first})"
        ) from None
    click.echo(describe(model))
    if preset == "snpcnn_default":
        from snpcnn.cv import TRAIN_DEFAULTS

        click.echo(
            "training defaults (snpcnn fit, cross_validate): "
            + ", ".join(f"{k} = {v}" for k, v in TRAIN_DEFAULTS.items())
        )


COMMANDS = [models]
