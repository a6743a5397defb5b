"""The packages tidied to STYLE.md #11's bound stay within it: no module of
``ai_connect.client`` or ``ai_connect.cli`` grows past about 400 lines. A module that
would is split along what it does (as client/client.py was into sending.py,
receiving.py, queries.py, admin.py and notices.py), not given a larger bound."""

from __future__ import annotations

from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "ai_connect"
BOUND = 400
PACKAGES = ("client", "cli")


def modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (SRC / package).rglob("*.py"))


def test_the_walk_finds_the_modules() -> None:
    """The guard reads the real package (a wrong path must not pass as empty)."""
    assert {SRC / "client" / "client.py", SRC / "cli" / "messages.py"} <= set(modules())


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_module_is_within_the_bound(path: Path) -> None:
    """The module has at most BOUND lines."""
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= BOUND, f"{path.relative_to(SRC)} has {lines} lines; split it by what it does"
