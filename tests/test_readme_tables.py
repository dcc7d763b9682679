"""The README's result tables are copies of results files (benchmarks/readme_tables.py), never typed by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_tables_match_their_results_files(benchmark_script):
    tool = benchmark_script("readme_tables")
    readme = (ROOT / "README.md").read_text()
    assert tool.BLOCK.search(readme), "the README has no results block"
    _, changed = tool.render(readme)
    assert not changed, f"README tables differ from their results files (run python benchmarks/readme_tables.py): {changed}"


def test_a_hand_edited_table_is_caught(tmp_path, benchmark_script):
    tool = benchmark_script("readme_tables")
    (tmp_path / "r.md").write_text("# title\n\n| a | b |\n|---|---:|\n| x | 1.0 |\n\ntext\n\n| c |\n|---|\n| 2 |\n")
    readme = "intro\n<!-- results: r.md -->\n| a | b |\n|---|---:|\n| x | 1.5 |\n<!-- /results -->\nand <!-- results: r.md 2 -->\n| c |\n|---|\n| 2 |\n<!-- /results -->\n"
    fixed, changed = tool.render(readme, tmp_path)
    assert changed == ["r.md 1"]  # the typed 1.5 is caught, the second block is right
    assert "| x | 1.0 |" in fixed and "| x | 1.5 |" not in fixed
    assert tool.render(fixed, tmp_path)[1] == []
    with pytest.raises(IndexError):
        tool.render("<!-- results: r.md 3 -->\n<!-- /results -->", tmp_path)
