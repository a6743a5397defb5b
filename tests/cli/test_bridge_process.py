"""The interpreter settings a bridge's processes run with: ``ai-connect bridge``
(cli/bridge.py ``tune_process``) and SQLite's store process (store/sqlite/child.py)."""

from __future__ import annotations

import gc
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect.bridge.collection import GC_YOUNG_OBJECTS
from ai_connect.bridge.store.sqlite import child
from ai_connect.bridge.store.sqlite.calls import encode, read_frame, write_frame
from ai_connect.cli.bridge import SWITCH_INTERVAL_S, tune_process


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    """Each test leaves this process's settings as it found them."""
    interval, thresholds = sys.getswitchinterval(), gc.get_threshold()
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        gc.set_threshold(*thresholds)


@pytest.mark.parametrize("sqlite", [True, False])
def test_a_bridge_collects_its_young_objects_less_often_on_either_store(sqlite: bool) -> None:
    """The youngest generation is collected every GC_YOUNG_OBJECTS allocations instead of
    Python's 700; the older generations keep their thresholds."""
    gc.set_threshold(700, 10, 10)
    tune_process(sqlite=sqlite)
    assert gc.get_threshold() == (GC_YOUNG_OBJECTS, 10, 10)
    assert GC_YOUNG_OBJECTS > 700


def test_only_a_bridge_on_sqlite_switches_threads_sooner() -> None:
    """SQLite's writer thread shares the GIL with the loop: the switch interval shrinks
    there; on PostgreSQL it stays what it was."""
    sys.setswitchinterval(0.005)
    tune_process(sqlite=False)
    assert sys.getswitchinterval() == pytest.approx(0.005)
    tune_process(sqlite=True)
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)


def test_the_store_process_collects_its_young_objects_less_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store process (run here in this process: its signals left alone) sets the same
    threshold as the bridge before it opens the database, and serves until closed."""
    gc.set_threshold(700, 10, 10)
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    bridge_end, child_end = socket.socketpair()
    with bridge_end:
        write_frame(bridge_end, encode(("close", ())))
        try:
            assert child.main([str(child_end.detach()), str(tmp_path / "t.db"), "FULL"]) == 0
        finally:
            logging.disable(logging.NOTSET)  # (the store process mutes its warnings)
        assert gc.get_threshold() == (GC_YOUNG_OBJECTS, 10, 10)
        assert read_frame(bridge_end) is not None  # its "ready"
