"""Helpers for the security tests: a log recorder (bridges: tests/support/bridge.py).

Nothing here sleeps: every wait is on an event, a future or a queue, with a timeout.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

__all__ = ["LogRecorder", "recording"]


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
