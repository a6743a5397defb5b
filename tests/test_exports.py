"""Every module of ai_connect declares its public surface in ``__all__`` (STYLE.md #11)."""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
from types import ModuleType

import pytest

import ai_connect


def module_names() -> list[str]:
    names = [ai_connect.__name__]
    for info in pkgutil.walk_packages(ai_connect.__path__, prefix=f"{ai_connect.__name__}."):
        names.append(info.name)
    return sorted(names)


MODULES = module_names()


def test_the_walk_finds_the_core_modules() -> None:
    """The package walk reaches sub-packages, so the export check covers them."""
    for name in ("ai_connect.protocol", "ai_connect.bridge.core", "ai_connect.bridge.store.base"):
        assert name in MODULES


@pytest.mark.parametrize("name", MODULES)
def test_module_declares_all(name: str) -> None:
    """The module has an __all__ list of unique strings."""
    module: ModuleType = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert isinstance(exported, list | tuple), f"{name} has no __all__"
    assert all(isinstance(item, str) for item in exported)
    assert len(set(exported)) == len(exported), f"{name}.__all__ lists a name twice"


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    """Every name in __all__ is an attribute of its module."""
    module = importlib.import_module(name)
    missing = [item for item in getattr(module, "__all__", []) if not hasattr(module, item)]
    assert missing == [], f"{name}.__all__ names missing attributes: {missing}"


def test_version_is_exported() -> None:
    """The package exports its version string."""
    assert isinstance(ai_connect.__version__, str) and ai_connect.__version__


def test_the_installed_version_is_the_package_version() -> None:
    """pyproject takes its version from ai_connect.__version__: one place to change it."""
    assert importlib.metadata.version("ai-connect") == ai_connect.__version__
