"""Copy the result tables into the README, so that no number there is typed by hand.

    python benchmarks/readme_tables.py [--check]

A block of README.md between ``<!-- results: PATH [N] -->`` and ``<!-- /results -->`` is replaced
by the N-th markdown table (1: the first) of ``PATH``, a results file that a benchmark or
``simpose eval`` wrote (``docs/results/...``). ``--check`` rewrites nothing and exits 1 where a
block differs from its file (tests/test_readme_tables.py runs the same check).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results: (\S+)(?: (\d+))? -->\n)(.*?)(<!-- /results -->)", re.S)


def markdown_tables(text: str) -> list[str]:
    """Every run of consecutive lines starting with ``|`` in ``text``, each with a final newline."""
    tables, current = [], []
    for line in text.splitlines():
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current) + "\n")
            current = []
    if current:
        tables.append("\n".join(current) + "\n")
    return tables


def render(readme: str, root: Path = ROOT) -> tuple[str, list[str]]:
    """The README with every results block refilled from its file, and the paths whose block changed.

    Raises:
        FileNotFoundError / IndexError: a block names a missing file or a table it does not have.
    """
    changed: list[str] = []

    def fill(m: re.Match) -> str:
        path, n = m.group(2), int(m.group(3) or 1)
        tables = markdown_tables((root / path).read_text())
        if not 1 <= n <= len(tables):
            raise IndexError(f"{path} has {len(tables)} tables, the README asks for table {n}")
        if m.group(4) != tables[n - 1]:
            changed.append(f"{path} {n}")
        return m.group(1) + tables[n - 1] + m.group(5)

    return BLOCK.sub(fill, readme), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report blocks that differ from their files")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text, changed = render(readme.read_text())
    if args.check:
        print("\n".join(f"differs: {c}" for c in changed) or "README tables match their results files")
        sys.exit(1 if changed else 0)
    readme.write_text(text)
    print("\n".join(f"updated: {c}" for c in changed) or "nothing to update")


if __name__ == "__main__":
    main()
