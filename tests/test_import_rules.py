"""The design's import rules (DESIGN.md, Layout): data flows one way and the stages stay separable."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAGES = {"train": "qualedge.train", "export": "qualedge.export", "runtime": "qualedge.runtime", "benchmarks": "qualedge.benchmarks"}


def _imports(folder: Path) -> dict[Path, set[str]]:
    out = {}
    for f in folder.rglob("*.py"):
        mods = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import):
                mods |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods.add(node.module)
        out[f] = mods
    return out


def _violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for f, mods in _imports(REPO / folder).items():
        for m in mods:
            if any(m == p or m.startswith(p + ".") for p in forbidden):
                bad.append(f"{f.relative_to(REPO)} imports {m}")
    return bad


def test_stage_code_imports_through_the_package_name() -> None:
    bare = tuple(STAGES)
    for folder in (*STAGES, "qualedge"):
        assert not _violations(folder, bare), "import stage code as qualedge.<stage>, not by folder name"


def test_core_imports_no_stage() -> None:
    bad = [v for v in _violations("qualedge", tuple(STAGES.values())) if not v.startswith("qualedge/cli/")]
    assert not bad, bad


def test_runtime_imports_neither_train_nor_export() -> None:
    assert not _violations("runtime", ("qualedge.train", "qualedge.export"))


def test_export_does_not_import_train_and_train_not_runtime() -> None:
    assert not _violations("export", ("qualedge.train",))
    assert not _violations("train", ("qualedge.runtime",))
