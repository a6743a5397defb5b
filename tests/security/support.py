"""Helpers for the security tests: a bridge with tokens on 127.0.0.1, and a log recorder.

Nothing here sleeps: every wait is on an event, a future or a queue, with a timeout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.base import Store, TokenRecord
from ai_connect.bridge.store.memory import MemoryStore

__all__ = ["LogRecorder", "recording", "secured_bridge"]


@contextlib.asynccontextmanager
async def secured_bridge(
    tokens: Iterable[TokenRecord] = (), store: Store | None = None, **settings: Any
) -> AsyncIterator[BridgeServer]:
    """A started bridge on 127.0.0.1:0 whose store holds ``tokens``."""
    store = store or MemoryStore()
    for token in tokens:
        store.put_token(token)
    settings.setdefault("port", 0)
    server = BridgeServer(store, ServerSettings(**settings))
    await server.start()
    try:
        yield server
    finally:
        await server.close()


class LogRecorder(logging.Handler):
    """Keeps every record of the ``ai_connect`` and ``websockets`` loggers, DEBUG up."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.mark = 0
        """Where a caller's last look ended (see tests/fuzz)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        """Every record formatted, with its traceback if it has one."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(r) for r in self.records)

    def problems(self) -> list[logging.LogRecord]:
        """ERROR records and any record carrying a traceback: never expected."""
        return [r for r in self.records if r.levelno >= logging.ERROR or r.exc_info]

    def report(self) -> str:
        """The problems, formatted with their tracebacks (for assertion messages)."""
        formatter = logging.Formatter("%(levelname)s %(name)s %(message)s")
        return "\n".join(formatter.format(r) for r in self.problems())


@contextlib.contextmanager
def recording() -> Iterator[LogRecorder]:
    """Records the bridge's and the client's logs at DEBUG while the block runs."""
    recorder = LogRecorder()
    loggers = [logging.getLogger(n) for n in ("ai_connect", "websockets")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(recorder)
        lg.setLevel(logging.DEBUG)
    try:
        yield recorder
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(recorder)
            lg.setLevel(level)
