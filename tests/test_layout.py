"""The shape of the code, held: no import cycle, layers that call downwards only, small files.

STYLE.md's rules, read from the source with ``ast`` (nothing is imported):
the API and the console import the services and never each other; the services
import no FastAPI; no stage (features, training, outreach, store) imports the
web layer; nothing under ``features``/``training`` imports Prefect; no module
of ``serving`` is over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "store", "simulator", "cli", "features", "training", "serving", "flows",
            "outreach")  # fmt: skip


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports at run time (``TYPE_CHECKING`` blocks are not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    files = {m: p for m, p in files.items() if "migrations" not in m}
    return {m: {i for i in _imports(p) if i in files} - {m} for m, p in files.items()}


GRAPH = _graph()


def _top_level_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles among modules (Tarjan's strongly connected components of size > 1)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                out.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_module_imports_itself_around_a_circle() -> None:
    # a package's __init__ importing its own submodules is not a cycle of modules
    graph = {m: {i for i in deps if not m.startswith(i + ".") and not i.startswith(m + ".")}
             for m, deps in GRAPH.items()}  # fmt: skip
    assert _top_level_cycles(graph) == []


def _importers(prefix: str, of: str) -> list[str]:
    return sorted(
        m
        for m, deps in GRAPH.items()
        if (m == prefix or m.startswith(prefix + "."))
        and any(d == of or d.startswith(of + ".") for d in deps)
    )


@pytest.mark.parametrize(
    ("who", "never"),
    [
        ("serving.api", "serving.console"),
        ("serving.console", "serving.api"),
        ("serving.services", "serving.api"),
        ("serving.services", "serving.console"),
        ("serving.services", "serving.main"),
        ("features", "serving"),
        ("training", "serving"),
        ("outreach", "serving"),
        ("store", "serving"),
        ("features", "flows"),
        ("training", "flows"),
    ],
)
def test_layers_call_downwards_only(who: str, never: str) -> None:
    assert _importers(who, never) == []


@pytest.mark.parametrize("package", ["serving/services", "features", "training"])
def test_stage_logic_imports_no_web_framework_or_orchestrator(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        banned = {
            i for i in _imports(path) if i.split(".")[0] in ("fastapi", "starlette", "prefect")
        }
        assert not banned, (path.name, banned)


def test_no_serving_module_is_over_500_lines() -> None:
    sizes = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in (ROOT / "serving").rglob("*.py")
    }
    assert {p: n for p, n in sizes.items() if n > 500} == {}


def test_every_package_says_what_it_holds() -> None:
    for pkg in PACKAGES:
        doc = ast.get_docstring(ast.parse((ROOT / pkg / "__init__.py").read_text("utf-8")))
        assert doc and "nothing here yet" not in doc, pkg
