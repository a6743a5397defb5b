"""cli/bridge.py ``tune_process``: the interpreter settings ``ai-connect bridge`` runs with."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from ai_connect.cli.bridge import GC_YOUNG_OBJECTS, SWITCH_INTERVAL_S, tune_process


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
