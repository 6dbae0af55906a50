"""``snpcnn docs``: the user documentation (docs/*.md), shipped with the package.

Help texts and messages name documents as ``docs/NAME.md``; a wheel install has no docs/
folder beside it, so the documents travel as package data (``snpcnn/_docs``, a link to the
repository's docs/ folder that the wheel build copies) and this command prints them.
"""

from __future__ import annotations

from pathlib import Path

import click

from snpcnn.cli import verbose_option
from snpcnn.errors import InputError

__all__ = ["COMMANDS", "docs", "docs_folder", "topics"]


def docs_folder() -> Path:
    """The folder of the shipped documents: the package's ``_docs`` (a wheel's copy, or in a
    source checkout the link to docs/)."""
    return Path(__file__).resolve().parent.parent / "_docs"


def topics() -> dict[str, Path]:
    """Each document's name (its file name without ``.md``) and path, sorted by name."""
    folder = docs_folder()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.md"))}


def _title(path: Path) -> str:
    """The document's first heading, without its '#'s."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                return line.lstrip("#").strip()
    return ""


def _topic_name(name: str) -> str:
    """'models', 'models.md', 'docs/models.md' and './docs/models.md' all name 'models'."""
    name = name.strip().replace("\\", "/").rsplit("/", 1)[-1]
    return name[:-3] if name.lower().endswith(".md") else name


@click.command()
@click.argument("topic", required=False)
@click.option("--path", "show_path", is_flag=True, help="Print the document's file path only.")
@verbose_option
def docs(topic, show_path):
    """List the user documents, or print TOPIC (e.g. `snpcnn docs models`).

    \b
    snpcnn docs                      # every document with its title
    snpcnn docs user-guide           # the user guide, as Markdown
    snpcnn docs docs/outputs.md      # a name as messages and help texts give it
    snpcnn docs io --path            # where the file is (to open it in a viewer)
    """
    found = topics()
    if not found:
        raise InputError(
            f"no documents found in {docs_folder()}: this install lacks snpcnn's docs; "
            "reinstall snpcnn (pip install snpcnn) or read docs/ in its source repository"
        )
    if topic is None:
        width = max(len(n) for n in found)
        for name, path in found.items():
            click.echo(f"{name.ljust(width)}  {_title(path)}")
        click.echo("\nsnpcnn docs NAME prints one (Markdown); --path gives its file.")
        return
    name = _topic_name(topic)
    by_lower = {n.lower(): n for n in found}
    if name.lower() not in by_lower:
        raise InputError(
            f"no document named '{topic}'; choose one of {', '.join(found)} "
            "(`snpcnn docs` lists them with their titles)"
        )
    path = found[by_lower[name.lower()]]
    if show_path:
        click.echo(str(path))
        return
    click.echo(path.read_text(encoding="utf-8"), nl=False)


COMMANDS = [docs]
