"""The package's import graph: stages import downward only, no cycles, no private names across modules.

Read from the source with ``ast`` (every import, also the ones inside functions), so a lazy
import that goes the wrong way fails here as well as a top-level one. The allowed directions
are ARCHITECTURE.md's: a stage may import the stages below it in ``_LEVEL`` (and the
foundation modules ``camera``, ``geometry``, ``_files`` that any stage may use).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import simpose

_ROOT = Path(simpose.__file__).parent
# Level of each stage: a module may import modules of a strictly lower level or of its own stage.
_LEVEL = {
    "_files": 0, "camera": 0,
    "cluster": 0,  # Ray tasks for the jobs of synth and track; imports no other simpose module
    "geometry": 0.5,  # look_at returns a Camera: geometry sits on camera, below every stage
    "body": 1,
    "motion": 2, "data": 2, "cues": 2,
    # models (baselines sample the motion library) and export (BVH writing uses motion's writer)
    # build on motion: beside render, which also sits on motion
    "models": 3, "export": 3, "render": 3,
    "synth": 4, "viz": 4,
    "train": 5, "adapt": 5,
    "track": 6, "eval": 7,
    "cli": 9, "": 9,  # simpose/__init__.py re-exports the top-level API lazily
}  # fmt: skip


def _module_name(path: Path) -> str:
    parts = path.relative_to(_ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, list[tuple[str, list[str]]]]:
    """Module -> [(imported simpose module, names imported from it)]."""
    graph: dict[str, list[tuple[str, list[str]]]] = {}
    for path in sorted(_ROOT.rglob("*.py")):
        mod = _module_name(path)
        out = graph.setdefault(mod, [])
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and node.module.split(".")[0] == "simpose":
                out.append((node.module, [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                out.extend((a.name, []) for a in node.names if a.name.split(".")[0] == "simpose")
    return graph


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(module: str, name: str, graph) -> str:
    """``from simpose.x import y``: y is a module when simpose.x.y is one."""
    return f"{module}.{name}" if f"{module}.{name}" in graph else module


def test_stages_import_downward_only():
    graph = _imports()
    unknown = sorted({_stage(m) for m in graph} - set(_LEVEL))
    assert not unknown, f"stages missing from _LEVEL (add them where ARCHITECTURE.md puts them): {unknown}"
    bad = []
    for mod, edges in graph.items():
        for target, _ in edges:
            a, b = _stage(mod), _stage(target)
            if a != b and _LEVEL[b] >= _LEVEL[a]:
                bad.append(f"{mod} -> {target}")
    assert not bad, "imports against the stage order (ARCHITECTURE.md):\n" + "\n".join(sorted(set(bad)))


def test_no_import_cycles_between_modules():
    graph = _imports()
    edges = {m: {_resolve(t, n, graph) for t, names in e for n in (names or [""])} & set(graph) - {m} for m, e in graph.items()}
    # packages import their submodules to re-export them: not a dependency of the submodule on the package
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t] if t in stack else [m, t])
            elif t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_private_names_across_modules():
    graph = _imports()
    bad = [f"{mod} imports {name} from {target}" for mod, edges in graph.items() for target, names in edges
           for name in names if name.startswith("_") and _resolve(target, name, graph) == target and target != mod]
    assert not bad, "private names used across modules:\n" + "\n".join(sorted(bad))


@pytest.mark.parametrize("case", ["upward", "cycle"])
def test_the_checks_catch_a_bad_graph(case, monkeypatch):
    """The checks themselves fail on a planted upward import and a planted cycle."""
    fake = {
        "simpose.body.a": [("simpose.render.r", ["f"])] if case == "upward" else [("simpose.body.b", ["g"])],
        "simpose.body.b": [("simpose.body.a", ["h"])] if case == "cycle" else [],
        "simpose.render.r": [],
    }
    monkeypatch.setattr(__import__(__name__), "_imports", lambda: fake)
    check = test_stages_import_downward_only if case == "upward" else test_no_import_cycles_between_modules
    with pytest.raises(AssertionError):
        check()


def test_the_run_module_does_not_import_torch():
    """``simpose run`` starts its 2D stage (MediaPipe) at once and imports torch, roma and anny
    in the thread that loads the lifter and body model beside it (:mod:`simpose.track.run`);
    a module-level ``import torch`` on its import path would make that import serial again
    (about 2 s a process). Checked in a fresh interpreter, as a run starts."""
    import subprocess
    import sys

    code = "import sys, simpose.track.run, simpose.track.estimator; print(sorted({'torch', 'roma', 'anny', 'mediapipe'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stdout
