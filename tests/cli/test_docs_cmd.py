"""`snpcnn docs`: the documents that help texts and messages name, shipped with the package."""

import tomllib
from pathlib import Path

from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.cli.docs import docs_folder, topics

ROOT = Path(__file__).resolve().parents[2]


def test_every_user_document_is_listed_and_printed_as_it_is():
    want = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert sorted(topics()) == want and "user-guide" in want
    r = CliRunner().invoke(main, ["docs"])
    assert r.exit_code == 0, r.output
    assert "outputs" in r.output and "Output files" in r.output  # name and first heading
    for form in ("outputs", "outputs.md", "docs/outputs.md", "OUTPUTS"):
        r = CliRunner().invoke(main, ["docs", form])
        assert r.exit_code == 0, r.output
        assert r.output == (ROOT / "docs" / "outputs.md").read_text(encoding="utf-8")
    r = CliRunner().invoke(main, ["docs", "io", "--path"])
    assert Path(r.output.strip()).resolve() == (ROOT / "docs" / "io.md").resolve()


def test_an_unknown_document_is_a_one_line_error_naming_the_choices():
    r = CliRunner().invoke(main, ["docs", "nope"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "no document named 'nope'; choose one of baselines," in r.output


def test_the_wheel_takes_the_documents_as_package_data():
    """snpcnn/_docs links to docs/ in the source tree; the wheel build copies what the link
    holds (checked by building one: session 44), so help texts' docs/NAME.md reach a wheel
    install through `snpcnn docs NAME`."""
    assert docs_folder().resolve() == (ROOT / "docs").resolve()
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "_docs/*.md" in cfg["tool"]["setuptools"]["package-data"]["snpcnn"]


def test_every_document_a_help_text_names_exists():
    import re

    for path in (ROOT / "snpcnn" / "cli").glob("*.py"):
        for name in re.findall(r"snpcnn docs ([a-z-]+)`", path.read_text(encoding="utf-8")):
            assert name in topics(), f"{path.name} names `snpcnn docs {name}`"
