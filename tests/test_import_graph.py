"""No import cycles between the modules of ai_connect (pure: reads the sources with ``ast``).

The graph has one node per module (a package is its ``__init__``) and one arrow per import
of another of our modules. Arrows come in three kinds, told apart because they run at
different times: imports at module level, imports inside a function (they run when it is
called: lazy imports that keep ``ai-connect hook`` start-up fast), and imports under
``if TYPE_CHECKING:`` (they never run). Importing ``a.b`` also runs ``a/__init__``; that
implied arrow is left out, so a package that imports its own modules is no cycle, while a
module that imports a name from its package's ``__init__`` is an arrow like any other.

``python tests/test_import_graph.py`` prints the figures: modules, arrows, floors (the
longest chain of arrows), and every cycle.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "ai_connect"

MODULE, FUNCTION, TYPING = "module", "function", "typing"


@dataclass
class Graph:
    modules: set[str] = field(default_factory=set)
    arrows: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """Kind -> (importer, imported)."""

    def edges(self, *kinds: str) -> set[tuple[str, str]]:
        return set().union(*(self.arrows.get(kind, set()) for kind in kinds))


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Collects (kind, dotted target, imported names) of every import in one module."""

    def __init__(self, name: str, is_package: bool) -> None:
        self.package = name if is_package else name.rpartition(".")[0]
        self.kind = MODULE
        self.found: list[tuple[str, str, list[str]]] = []

    def _nested(self, node: ast.AST, kind: str) -> None:
        outer, self.kind = self.kind, kind if self.kind == MODULE else self.kind
        self.generic_visit(node)
        self.kind = outer

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._nested(node, FUNCTION)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._nested(node, FUNCTION)

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        outer, self.kind = self.kind, TYPING
        for child in node.body:
            self.visit(child)
        self.kind = outer
        for child in node.orelse:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((self.kind, alias.name, []))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            anchor = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{anchor}.{base}" if base else anchor
        self.found.append((self.kind, base, [alias.name for alias in node.names]))


def build(src: Path = SRC) -> Graph:
    graph = Graph()
    files = sorted((src / PACKAGE).rglob("*.py"))
    graph.modules = {module_name(path, src) for path in files}
    for path in files:
        name = module_name(path, src)
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for kind, target, names in visitor.found:
            for imported in _targets(graph.modules, target, names):
                if imported != PACKAGE and imported != name:
                    graph.arrows.setdefault(kind, set()).add((name, imported))
    return graph


def _targets(modules: set[str], target: str, names: list[str]) -> Iterator[str]:
    """Our modules an import statement names: ``from a import b`` is ``a.b`` if that is a
    module, else ``a``."""
    if not names:
        if target in modules:
            yield target
        return
    for item in names:
        if f"{target}.{item}" in modules:
            yield f"{target}.{item}"
        elif target in modules:
            yield target


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    succ: dict[str, list[str]] = {}
    for a, b in sorted(edges):
        succ.setdefault(a, []).append(b)
        succ.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(succ):
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        component.append(top)
                        if top == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(succ[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found)


def floors(modules: set[str], edges: set[tuple[str, str]]) -> int:
    """The number of modules on the longest chain of imports (the graph must be acyclic)."""
    succ: dict[str, set[str]] = {m: set() for m in modules}
    for a, b in edges:
        succ[a].add(b)
    depth: dict[str, int] = {}

    def height(start: str) -> int:
        order, seen = [start], {start}
        while order:  # iterative post-order: a module's height after its imports'
            node = order[-1]
            pending = [c for c in succ[node] if c not in depth and c not in seen]
            if pending:
                seen.update(pending)
                order.extend(pending)
                continue
            order.pop()
            depth[node] = 1 + max((depth[c] for c in succ[node] if c in depth), default=0)
        return depth[start]

    return max((height(m) for m in sorted(modules)), default=0)


GRAPH = build()


def test_the_graph_sees_our_imports() -> None:
    """The walk finds the modules and reads relative and absolute imports of them."""
    assert {"ai_connect.cli", "ai_connect.protocol", "ai_connect.bridge.core"} <= GRAPH.modules
    module_arrows = GRAPH.edges(MODULE)
    assert ("ai_connect.bridge.core", "ai_connect.bridge.events") in module_arrows
    assert any(b.startswith("ai_connect.bridge.store.") for a, b in module_arrows if "store" in a)


def test_the_cycle_finder_finds_a_cycle() -> None:
    """A cycle of three modules is reported, and an acyclic graph reports none."""
    assert cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    assert cycles([("a", "b"), ("b", "c"), ("a", "c")]) == []


def test_no_cycle_between_modules_at_import_time() -> None:
    """The imports that run when a module is loaded form no cycle."""
    assert cycles(GRAPH.edges(MODULE)) == []


def test_no_cycle_even_counting_imports_inside_functions() -> None:
    """Lazy imports inside functions only defer work: they do not hide a cycle either."""
    lazy = sorted(GRAPH.edges(FUNCTION))
    assert cycles(GRAPH.edges(MODULE, FUNCTION)) == [], f"imports inside functions: {lazy}"


def private_imports(src: Path = SRC) -> list[str]:
    """``module: from other import _name`` for every underscore name one of our modules
    takes from another (a module may import its own package's private modules)."""
    found = []
    for path in sorted((src / PACKAGE).rglob("*.py")):
        name = module_name(path, src)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.ImportFrom) or node.level or node.module is None:
                continue
            if not node.module.startswith(PACKAGE):
                continue
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and node.module != package:
                    found.append(f"{name}: from {node.module} import {alias.name}")
    return found


def test_no_module_takes_a_private_name_from_another() -> None:
    """What a module offers is in its __all__; underscore names stay where they are."""
    assert private_imports() == []


def main() -> int:
    graph = build(Path(sys.argv[1]) if len(sys.argv) > 1 else SRC)
    runtime = graph.edges(MODULE)
    every = graph.edges(MODULE, FUNCTION)
    print(f"modules {len(graph.modules)}")
    print(f"arrows at module level {len(runtime)}, inside functions {len(graph.edges(FUNCTION))}")
    print(f"arrows under TYPE_CHECKING {len(graph.edges(TYPING))}")
    found = cycles(runtime)
    print(f"cycles at module level: {found}")
    print(f"cycles counting functions: {cycles(every)}")
    if not found:
        print(f"floors {floors(graph.modules, runtime)}")
    for a, b in sorted(graph.edges(FUNCTION)):
        print(f"  lazy: {a} -> {b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
