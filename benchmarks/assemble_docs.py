"""Assemble docs/benchmarks.md from the sections the benchmark scripts write to docs/bench/.

Usage: .venv/bin/python benchmarks/assemble_docs.py

docs/bench/SUMMARY.md (hand-maintained: the targets and where each number comes from) goes first,
then every other docs/bench/*.md in the order below, each demoted by one heading level.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
ORDER = [
    "load.md",
    "gblup_wheat.md",
    "default_cnn.md",
    "full_runs.md",
    "published_table.md",
    "model_speed.md",
    "backends.md",
    "jax_fit.md",
    "mnist.md",
    "explain.md",
]


def _demote(text: str) -> str:
    # headings only: a '# comment' line inside a ``` code block stays as written
    out, fenced = [], False
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            line = re.sub(r"^(#+) ", lambda m: "#" + m.group(1) + " ", line)
        out.append(line)
    return "".join(out)


def main() -> None:
    parts = [(BENCH / "SUMMARY.md").read_text().rstrip()]
    names = [n for n in ORDER if (BENCH / n).exists()]
    names += sorted(p.name for p in BENCH.glob("*.md") if p.name not in ORDER + ["SUMMARY.md"])
    for name in names:
        parts.append(f"<!-- from docs/bench/{name} -->\n" + _demote((BENCH / name).read_text()))
    out = ROOT / "docs" / "benchmarks.md"
    out.write_text("\n\n---\n\n".join(parts) + "\n")
    print(f"wrote {out} from {len(names)} sections")


if __name__ == "__main__":
    main()
