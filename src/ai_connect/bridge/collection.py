"""How often a bridge's processes collect their young objects (issue 13).

Python collects its youngest generation every 700 allocations of container objects. The
bridge (and SQLite's store process) makes a few per frame or row and keeps almost none:
they are freed as their reference count drops, yet each collection traces every object
that survived since the last. ``ai-connect bridge`` (cli/bridge.py ``tune_process``) and
the store process (store/sqlite/child.py) collect every ``GC_YOUNG_OBJECTS`` instead; the
older generations keep Python's thresholds, so whatever does form a cycle is still freed.
"""

from __future__ import annotations

import gc

__all__ = ["GC_YOUNG_OBJECTS", "collect_young_less_often"]

GC_YOUNG_OBJECTS = 10_000
"""Measured (bench/RESULTS.md, 2026-12-05): the bridge's broadcast to 500 11.04 -> 9.73
and 11.26 -> 10.27 ms, 10,000 idle peers registered in 3.42 -> 2.75 s at the same RSS, a
backlog's fill +9 %, PostgreSQL 1x1 +5 %; the store process's 10x10 37,436 -> 39,535
msg/s (4 rounds of 5 higher)."""


def collect_young_less_often() -> None:
    """This process collects its youngest generation every ``GC_YOUNG_OBJECTS``."""
    gc.set_threshold(GC_YOUNG_OBJECTS, *gc.get_threshold()[1:])
