"""``pytest --io-report``: which tests touch a socket, a process or an event loop, and
how much of the run's time they take (STYLE #10: many pure tests, some in memory, a
handful on 127.0.0.1).

While it records, it wraps ``socket.socket.bind``/``connect``/``connect_ex``,
``subprocess.Popen`` and event-loop creation (``asyncio.BaseEventLoop.__init__``), and
charges each call to the test running at that moment (threads included: a bridge thread
started by a test is charged to that test). Each test lands in one kind, the heaviest it
touched:

    process   started a subprocess
    tcp       bound or connected an AF_INET/AF_INET6 socket (127.0.0.1, port 0)
    unix      bound or connected an AF_UNIX socket (a socketpair makes no such call)
    loop      created an event loop, and nothing above
    pure      none of these

Seconds are setup + call + teardown as pytest reports them. ``--io-report=FILE``
also writes one JSON line per test (nodeid, kind, seconds, what it touched).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = ["KINDS", "IoReport", "add_option", "register"]

KINDS = ("pure", "loop", "unix", "tcp", "process")
"""From lightest to heaviest; a test is counted under the heaviest it touched."""

_NETWORK = (socket.AF_INET, socket.AF_INET6)


@dataclass
class _Test:
    touched: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def kind(self) -> str:
        return max(self.touched, key=KINDS.index, default="pure")


class IoReport:
    """The plugin: wraps the calls while the session runs, prints the table at its end."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None
        self.tests: dict[str, _Test] = defaultdict(_Test)
        self.current: str | None = None
        self._lock = threading.Lock()
        self._undo: list[Callable[[], None]] = []

    # --- recording --------------------------------------------------------------------

    def touch(self, what: str) -> None:
        with self._lock:
            if self.current is not None:
                self.tests[self.current].touched.add(what)

    def _wrap(self, owner: Any, name: str, kind: Callable[[Any], str]) -> None:
        original = getattr(owner, name)
        report = self

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            report.touch(kind(self))
            return original(self, *args, **kwargs)

        setattr(owner, name, wrapper)
        self._undo.append(lambda: setattr(owner, name, original))

    def start(self) -> None:
        def family(sock: Any) -> str:
            return "tcp" if sock.family in _NETWORK else "unix"

        for name in ("bind", "connect", "connect_ex"):
            self._wrap(socket.socket, name, family)
        self._wrap(subprocess.Popen, "__init__", lambda _: "process")
        self._wrap(asyncio.BaseEventLoop, "__init__", lambda _: "loop")

    def stop(self) -> None:
        while self._undo:
            self._undo.pop()()

    # --- pytest hooks -----------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str) -> None:
        with self._lock:
            self.current = nodeid
            self.tests.setdefault(nodeid, _Test())  # a test that touches nothing still counts

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.tests[report.nodeid].seconds += report.duration

    def pytest_unconfigure(self) -> None:
        self.stop()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        rows: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for nodeid, test in self.tests.items():
            parts = nodeid.split("::")[0].split("/")
            folder = parts[1] if len(parts) > 2 else "(top)"
            rows[folder][test.kind].append(test.seconds)
            rows["all"][test.kind].append(test.seconds)
        total = sum(t.seconds for t in self.tests.values()) or 1.0
        write("")
        write("I/O report: items and seconds by what each test touched (--io-report)")
        header = f"{'folder':<12}{'items':>6}{'seconds':>9}" + "".join(f"{k:>15}" for k in KINDS)
        write(header)
        order = [*sorted((f for f in rows if f != "all"), key=lambda f: -_seconds(rows[f])), "all"]
        for folder in order:
            kinds = rows[folder]
            items = sum(len(v) for v in kinds.values())
            cells = "".join(
                f"{len(kinds[k]):>7} {sum(kinds[k]):>6.1f}s" if kinds[k] else f"{'-':>15}"
                for k in KINDS
            )
            write(f"{folder:<12}{items:>6}{_seconds(kinds):>8.1f}s{cells}")
        pure = rows["all"]["pure"]
        io = [s for k in KINDS[1:] for s in rows["all"][k]]
        heavy = [s for k in ("unix", "tcp", "process") for s in rows["all"][k]]
        write(
            f"no socket, process or loop: {len(pure)} items, {sum(pure):.1f} s; "
            f"the rest: {len(io)} items, {sum(io):.1f} s; "
            f"sockets and processes: {sum(heavy) / total:.0%} of {total:.1f} s test time"
        )
        if self.path is not None:
            with self.path.open("w", encoding="utf-8") as out:
                for nodeid, test in sorted(self.tests.items()):
                    record = {
                        "nodeid": nodeid,
                        "kind": test.kind,
                        "seconds": round(test.seconds, 4),
                        "touched": sorted(test.touched),
                    }
                    out.write(json.dumps(record) + "\n")
            write(f"per-test records: {self.path}")


def _seconds(kinds: dict[str, list[float]]) -> float:
    return sum(sum(v) for v in kinds.values())


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        "--io-report",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="report which tests touch sockets, processes or event loops (FILE: JSON lines)",
    )


def register(config: pytest.Config) -> None:
    path = config.getoption("--io-report")
    if path is None:
        return
    plugin = IoReport(path or None)
    plugin.start()
    config.pluginmanager.register(plugin, "io-report")
