"""The live bridge of the fuzz tests: one per module, SQLite, with its log recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.protocol import Limits
from tests.support.bridge import ThreadedBridge

from ..security.support import LogRecorder, recording

LIMITS = Limits(max_frame_bytes=64_000)


@pytest.fixture(scope="module")
def bridge(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ThreadedBridge, LogRecorder]]:
    """A real bridge in a thread over SQLite (the default store) with ``synchronous=NORMAL``:
    fuzzing needs its SQL paths, not its fsyncs. Its log must hold no problem at the end."""
    store = SqliteStore(tmp_path_factory.mktemp("fuzz") / "bridge.db", synchronous="NORMAL")
    with recording() as logs, ThreadedBridge(store, limits=LIMITS) as running:
        yield running, logs
    assert logs.problems() == [], logs.report()
