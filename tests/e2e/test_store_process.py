"""``ai-connect bridge`` and its store process (issue 13, item 5), as real processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.test_durability import store_process_of
from tests.support.process import ROOT, WAIT_S, BridgeProcess


def children(bridge: BridgeProcess) -> int:
    with open(f"/proc/{bridge.pid}/task/{bridge.pid}/children", encoding="ascii") as f:
        return len(f.read().split())


def test_a_second_bridge_on_the_file_still_refuses_naming_the_first(tmp_path: Path) -> None:
    """With the writer in a child process, a second bridge on the same file refuses to
    start and names the first (DB.lock is the bridge's, taken before the child starts)."""
    with BridgeProcess(tmp_path, "--store-process") as bridge:
        refuses_naming(bridge)


def refuses_naming(bridge: BridgeProcess) -> None:
    assert store_process_of(bridge) > 0
    second = subprocess.run(
        [sys.executable, "-m", "ai_connect", "bridge", "--port", "0", "--db", str(bridge.db)],
        cwd=ROOT, capture_output=True, text=True, timeout=WAIT_S,
    )  # fmt: skip
    assert second.returncode != 0
    assert f"another bridge already uses the database {bridge.db}" in second.stderr
    assert f"pid {bridge.pid} " in second.stderr and bridge.url in second.stderr


def test_the_store_is_in_process_unless_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """By default (and with --store-in-process) the bridge writes from its own thread: no
    child process; AI_CONNECT_STORE_PROCESS=1 asks for one as --store-process does."""
    for run in ("a", "b", "c"):
        (tmp_path / run).mkdir()
    with BridgeProcess(tmp_path / "a") as bridge:
        assert children(bridge) == 0
    with BridgeProcess(tmp_path / "b", "--store-in-process") as bridge:
        assert children(bridge) == 0
    monkeypatch.setenv("AI_CONNECT_STORE_PROCESS", "1")
    with BridgeProcess(tmp_path / "c") as bridge:
        assert children(bridge) == 1
