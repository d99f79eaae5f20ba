"""The layout keeps the data flow: no import cycles, and no import against the stage order.

Every module's imports are read from its source (those under ``TYPE_CHECKING`` and inside
functions included: a lazy import is still a dependency), and each module is placed in a
stage. A stage may import only the stages its rule lists:

    records ← parser contract ← parsers, assembly; records ← sources, store; store ← analysis;
    everything ← daemon, cli, api; nothing below imports daemon, cli or api.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Stage of a module, by the longest matching name prefix.
STAGES = {
    "tailer.records": "records",
    "tailer.native": "records",
    "tailer.timeparse": "records",
    "tailer._scan": "records",
    "tailer._journal": "records",
    "tailer.parser": "contract",
    "tailer.hookspecs": "contract",
    "parsers": "parsers",
    "tailer.assembly": "assembly",
    "tailer.plugins": "plugins",
    "tailer.processes": "runtime",
    "tailer.runtime": "runtime",
    "tailer.sources": "sources",
    "tailer.store": "store",
    "tailer.analysis": "analysis",
    "tailer.config": "composition",
    "tailer.collect": "composition",
    "tailer.functions": "composition",
    "tailer.handler": "composition",
    "tailer.testing": "composition",
    "tailer.daemon": "surface",
    "tailer.cli": "surface",
    "tailer.api": "surface",
    "tailer": "surface",  # the façade: it names everything (lazily)
}
#: What each stage may import (besides itself).
ALLOWED = {
    "records": set(),
    "contract": {"records"},
    "parsers": {"records", "contract"},
    "assembly": {"records", "contract"},
    "plugins": {"records", "contract", "assembly"},
    "runtime": {"records"},
    "sources": {"records", "runtime"},
    "store": {"records"},
    "analysis": {"records", "store"},
    "composition": {"records", "contract", "assembly", "plugins", "runtime", "sources", "store",
                    "analysis"},
    "surface": {"records", "contract", "assembly", "plugins", "runtime", "sources", "store",
                "analysis", "composition", "surface"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in ("tailer", "parsers"):
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _stage(module: str) -> str:
    best = max((p for p in STAGES if module == p or module.startswith(p + ".")), key=len)
    return STAGES[best]


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (a ``from package import name`` of a submodule
    counts as that submodule)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:  # a submodule by name, else a name of the module
                sub = f"{base}.{alias.name}"
                out.add(sub if sub in MODULES else base)
    project = {m for m in out if m in MODULES or m.startswith(("tailer._scan", "tailer._journal"))}
    return project - {module}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _is_face_edge(a: str, b: str) -> bool:
    """A module importing its own package's face (``tailer.x.y`` -> ``tailer.x``) is how a
    package re-exports its children, not a cycle of design."""
    return a.startswith(b + ".")


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in GRAPH or _is_face_edge(v, w):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return found


def test_the_layout_has_every_stage() -> None:
    """The rules below are about real modules: each stage holds some (a rename would
    otherwise leave a stage empty and its rule checking nothing)."""
    stages = {_stage(m) for m in MODULES}
    assert stages >= set(ALLOWED) - {"surface"} and "surface" in stages
    assert len(MODULES) > 60


def test_no_import_cycles() -> None:
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_stage_order(module: str) -> None:
    stage = _stage(module)
    wrong = sorted(
        f"{dep} ({_stage(dep)})" for dep in GRAPH[module]
        if _stage(dep) != stage and _stage(dep) not in ALLOWED[stage]
    )
    assert not wrong, f"{module} ({stage}) imports against the stage order: {', '.join(wrong)}"


def test_the_checker_sees_a_wrong_import() -> None:
    """The rule catches what it is for: the store importing the daemon, parsers the store."""
    assert "daemon" not in ALLOWED["store"] and _stage("tailer.daemon.writer") == "surface"
    assert _stage("tailer.store.sqlite.ingest") not in ALLOWED["parsers"]
    assert "tailer.store.sqlite.schema" in GRAPH["tailer.store.sqlite.ingest"]
