"""Real processes on 127.0.0.1: a bridge (``ai-connect bridge``) and agents (agent.py).

Nothing here sleeps. Each process's output is read line by line by a thread into a
queue (tests/support/process.py), and every wait is a ``queue.get`` with a timeout; a
process that dies or stays silent fails the test with the tail of its logs. The bridge
is tests/support/process.py's ``BridgeProcess``.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import BridgeProcess, Proc

AGENT = Path(__file__).with_name("agent.py")
PROJECT = "proj"


class Agents:
    """Starts agent.py processes (see its docstring) and kills them all at teardown."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []

    def start(self, mode: str, url: str, name: str, *extra: str, project: str = PROJECT) -> Proc:
        args = [sys.executable, str(AGENT), mode, "--url", url, "--name", name]
        args += ["--project", project, *extra]
        proc = Proc(f"{mode}-{name}-{len(self.procs) + 1}", args, self.tmp)
        self.procs.append(proc)
        return proc

    def receive(self, url: str, name: str, out: Path, *extra: str, project: str = PROJECT) -> Proc:
        """A receiver; returns once it is registered (its address is ``proc.address``)."""
        proc = self.start("receive", url, name, "--out", str(out), *extra, project=project)
        proc.address = proc.expect_word("welcome")
        return proc

    def register(self, url: str, name: str, project: str = PROJECT) -> str:
        """Registers a peer that then goes offline; returns its address."""
        proc = self.start("register", url, name, project=project)
        address = proc.expect_word("welcome")
        proc.finish()
        return address

    def send(self, url: str, name: str, to: str, count: int, *extra: str) -> Proc:
        prefix = f"{name}-"
        return self.start(
            "send", url, name, "--to", to, "--count", str(count), "--prefix", prefix, *extra
        )

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeProcess]:
    """A running bridge; ``kill9()`` then ``restart()`` it; always killed at teardown."""
    with BridgeProcess(tmp_path) as running:
        yield running


@pytest.fixture(params=["sqlite", "postgres"])
def any_bridge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BridgeProcess]:
    """``bridge`` on each database: an SQLite file, then a new PostgreSQL database."""
    db = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    with BridgeProcess(tmp_path, db=db) as running:
        yield running


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Agents]:
    a = Agents(tmp_path)
    try:
        yield a
    finally:
        a.stop()


# --- reading what the processes reported ------------------------------------------------


def payloads(lines: list[str], word: str) -> list[str]:
    """The payloads of a process's ``WORD payload`` lines, in order."""
    return [s.partition(" ")[2] for s in lines if s.partition(" ")[0] == word]


def accepted(lines: list[str]) -> list[dict[str, Any]]:
    """The ``accepted`` receipts among a sender's lines."""
    return [json.loads(s.partition(" ")[2]) for s in lines if s.startswith("accepted ")]


def shown(path: Path) -> list[dict[str, Any]]:
    """What a receiver showed its agent: one dict per line of its ``--out`` file."""
    if not path.exists():
        return []
    return [json.loads(s) for s in path.read_text(encoding="utf-8").splitlines()]


def numbers(messages: list[dict[str, Any]], sender: str) -> list[int]:
    """The sequence numbers in the bodies of ``sender``'s messages, in the order shown."""
    return [int(m["body"].split()[0].rsplit("-", 1)[1]) for m in messages if m["from"] == sender]


def assert_in_order(nums: list[int], what: str) -> None:
    """Strictly increasing: per-sender order kept and no repeat."""
    bad = [(a, b) for a, b in itertools.pairwise(nums) if b <= a]
    assert not bad, f"{what}: {len(bad)} order breaks, first {bad[:5]}"
