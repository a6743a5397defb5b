"""Old import paths keep working after the move to one package per surface (issue 10).

``tests/data/public_names_c10686f.txt`` lists every (module, name) of every ``__all__``
at commit c10686f, before the move (``scripts/public_names.py`` wrote it); each must still
import. Our own code, tests and benchmarks use only the new paths.
"""

from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

import pytest

import ai_connect
from ai_connect import _moved

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = Path(__file__).parent / "data" / "public_names_c10686f.txt"


def snapshot() -> dict[str, list[str]]:
    names: dict[str, list[str]] = {}
    for line in SNAPSHOT.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            module, _, name = line.partition(" ")
            names.setdefault(module, []).extend([name] if name else [])
    return names


PUBLIC = snapshot()


def test_the_snapshot_holds_the_public_surface() -> None:
    """The snapshot covers the modules and names users import (a guard on the data)."""
    assert len(PUBLIC) > 50 and sum(map(len, PUBLIC.values())) > 300
    assert "BridgeClient" in PUBLIC["ai_connect.client"]
    assert "main" in PUBLIC["ai_connect.cli"]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_every_public_name_of_c10686f_still_imports(module: str) -> None:
    """``from OLD_MODULE import NAME`` works for every name that module exported."""
    imported = importlib.import_module(module)
    missing = [name for name in PUBLIC[module] if not hasattr(imported, name)]
    assert missing == [], f"{module} lost {missing}"
    namespace: dict[str, object] = {}
    for name in PUBLIC[module]:
        exec(f"from {module} import {name}", namespace)


def test_an_old_path_is_the_new_module_itself() -> None:
    """An old path resolves to the new module object, which keeps its own name."""
    old, new = next((o, n) for o, n in sorted(_moved.MOVED.items()) if o not in _moved.MOVED_NAMES)
    module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new and module.__spec__ is not None
    assert module.__spec__.name == new
    assert sys.modules[old] is sys.modules[new]


def test_a_name_that_moved_elsewhere_is_found_where_it_went() -> None:
    """A name that left its module is still importable from the old path."""
    for old, names in sorted(_moved.MOVED_NAMES.items()):
        module = importlib.import_module(old)
        for name, holder in names.items():
            assert getattr(module, name) is getattr(importlib.import_module(holder), name)
        assert set(names) <= set(module.__all__)


def test_the_moved_table_names_real_modules() -> None:
    """Every new name of the table is a module that exists (no alias points nowhere)."""
    for new in [
        *_moved.MOVED.values(),
        *(m for n in _moved.MOVED_NAMES.values() for m in n.values()),
    ]:
        assert importlib.import_module(new).__name__ == new


def test_an_unknown_module_is_still_an_import_error() -> None:
    """The finder answers only old paths: a typo still fails as usual."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("ai_connect.no_such_module")


def _old_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            targets = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        found += [f"{path.relative_to(ROOT)}: {t}" for t in targets if _moved.new_name(t)]
    return found


def test_our_code_uses_only_the_new_paths() -> None:
    """No module of src/, tests/ or bench/ imports a module by its old path."""
    files = [p for d in ("src", "tests", "bench") for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 100
    old = [hit for path in files for hit in _old_imports(path)]
    assert old == []


def test_the_package_still_exports_its_version() -> None:
    """Installing the finder left the package's own surface alone."""
    assert ai_connect.__all__ == ["__version__"]
