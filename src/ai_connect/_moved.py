"""Old import paths keep working: ``ai_connect.mcp_server`` is ``ai_connect.mcp.server``.

Issue 10 moved the flat modules into one package per surface (README "Development"). Code
written against the old paths still imports: a finder at the front of ``sys.meta_path``
answers each old dotted name of :data:`MOVED` with the new module itself (the same object,
so patching one patches the other). Where a name left its module for another,
:data:`MOVED_NAMES` says where it went, and the old path is a small module that forwards
every attribute. Our own code and tests use only the new paths (tests/test_moved.py).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from importlib.abc import Loader

__all__ = ["MOVED", "MOVED_NAMES", "install", "new_name"]

MOVED: dict[str, str] = {
    "ai_connect.agent_link": "ai_connect.hooks.agent_link",
    "ai_connect.bridge.store.sqlite_consensus": "ai_connect.bridge.store.sqlite.consensus",
    "ai_connect.bridge.store.sqlite_tokens": "ai_connect.bridge.store.sqlite.tokens",
    "ai_connect.bridge_cli": "ai_connect.cli.bridge",
    "ai_connect.client_consensus": "ai_connect.client.consensus",
    "ai_connect.client_setup": "ai_connect.agent_setup",
    "ai_connect.consensus_cli": "ai_connect.cli.consensus",
    "ai_connect.hook_cli": "ai_connect.cli.hook",
    "ai_connect.hook_runtime": "ai_connect.hooks.runtime",
    "ai_connect.hook_slots": "ai_connect.hooks.slots",
    "ai_connect.mailbox": "ai_connect.client.mailbox",
    "ai_connect.mcp_channel": "ai_connect.mcp.channel",
    "ai_connect.mcp_consensus": "ai_connect.mcp.consensus",
    "ai_connect.mcp_format": "ai_connect.text.agent",
    "ai_connect.mcp_http": "ai_connect.mcp.http",
    "ai_connect.mcp_models": "ai_connect.mcp.models",
    "ai_connect.mcp_server": "ai_connect.mcp.server",
    "ai_connect.mcp_tools": "ai_connect.mcp.tools",
    "ai_connect.render": "ai_connect.text.terminal",
    "ai_connect.setup_cli": "ai_connect.cli.setup",
    "ai_connect.token_cli": "ai_connect.cli.token",
}
"""Old dotted name -> new one. A moved package takes its modules along: with
``a.old -> a.new``, ``a.old.x`` is ``a.new.x``."""

MOVED_NAMES: dict[str, dict[str, str]] = {
    "ai_connect.mcp_consensus": {
        "ALL_TOOLS": "ai_connect.mcp.server",
        "proposal_text": "ai_connect.text.agent",
    },
    "ai_connect.mcp_server": {"run": "ai_connect.mcp.run"},
    "ai_connect.bridge.store.sqlite_consensus": {
        "decoded": "ai_connect.bridge.store.rules",
        "encoded": "ai_connect.bridge.store.rules",
    },
}
"""Old module -> {name -> the module that holds it now}, for names that did not move
with the rest of their module."""


def new_name(old: str) -> str | None:
    """Where the module once called ``old`` lives now; ``None`` if it did not move."""
    parts = old.split(".")
    for end in range(len(parts), 0, -1):
        head = ".".join(parts[:end])
        if head in MOVED:
            return ".".join([MOVED[head], *parts[end:]])
    return None


class _Forward(ModuleType):
    """An old module whose names now live in several modules."""

    def __init__(self, name: str, target: ModuleType, names: dict[str, str]) -> None:
        super().__init__(name, target.__doc__)
        self._target, self._names = target, names
        self.__all__ = [*getattr(target, "__all__", []), *names]

    def __getattr__(self, name: str) -> Any:
        if name in self._names:
            return getattr(importlib.import_module(self._names[name]), name)
        return getattr(self._target, name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *dir(self._target), *self._names})


class _Alias:
    # Not importlib.abc.Loader: importing importlib.abc costs ~25 ms (importlib.resources,
    # tempfile), and every ai-connect start, hooks included, imports this module.

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        names = MOVED_NAMES.get(spec.name)
        if names:
            return _Forward(spec.name, module, names)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        if not isinstance(module, _Forward):
            # The import system has just set the alias's spec on the real module: give
            # the module its own back, so that it still knows its true name.
            module.__spec__ = self._spec


class _Finder:
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = new_name(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", _Alias(new)))


def install() -> None:
    """Puts the finder first in ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _Finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
