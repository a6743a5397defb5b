"""Real processes on 127.0.0.1: a bridge (``ai-connect bridge``) and agents (agent.py).

Nothing here sleeps. Each process's output is read line by line by a thread into a
queue, and every wait is a ``queue.get`` with a timeout; a process that dies or stays
silent fails the test with the tail of its logs.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
AGENT = Path(__file__).with_name("agent.py")
PROJECT = "proj"
WAIT_S = 20.0
"""Upper bound of any single wait on a process; the tests take a fraction of it."""

_LISTENING = re.compile(r"listening on (ws://127\.0\.0\.1:(\d+))")


class Proc:
    """A subprocess whose ``stream`` ("stdout" or "stderr") is read into a queue.

    Every line of both streams is also kept in ``DIR/NAME.{stdout,stderr}.log``.
    """

    def __init__(self, name: str, args: list[str], logs: Path, stream: str = "stdout") -> None:
        self.name = name
        self.logs = logs
        self.lines: list[str] = []
        """Every line of ``stream`` taken from the queue so far, in order."""
        self.address = ""
        """An agent's address, from its first ``welcome`` line."""
        self._queue: queue.Queue[str | None] = queue.Queue()
        other = "stderr" if stream == "stdout" else "stdout"
        self._tee_path = logs / f"{name}.{stream}.log"
        self._other_path = logs / f"{name}.{other}.log"
        self._other = open(self._other_path, "ab")  # noqa: SIM115 - closed in stop()
        pipes: dict[str, Any] = {stream: subprocess.PIPE, other: self._other}
        self.popen = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            text=True,
            **pipes,
        )
        source = self.popen.stdout if stream == "stdout" else self.popen.stderr
        assert source is not None
        self._source: IO[str] = source
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        with open(self._tee_path, "a", encoding="utf-8") as tee:
            for raw in self._source:
                tee.write(raw)
                tee.flush()
                self._queue.put(raw.rstrip("\n"))
        self._queue.put(None)

    def next_line(self, timeout: float = WAIT_S) -> str | None:
        """The next line, or ``None`` once the stream has ended."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(
                f"{self.name} printed nothing for {timeout:g} s\n{self.tail()}"
            ) from None
        if line is None:
            self._queue.put(None)  # stay at the end for later readers
            return None
        self.lines.append(line)
        return line

    def expect(self, wanted: Callable[[str], bool], what: str, timeout: float = WAIT_S) -> str:
        """Reads lines until one satisfies ``wanted``; fails after ``timeout`` or at exit."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout:g} s\n{self.tail()}")
            line = self.next_line(remaining)
            if line is None:
                self.popen.wait(timeout=WAIT_S)
                raise AssertionError(
                    f"{self.name} exited ({self.popen.returncode}) before {what}\n{self.tail()}"
                )
            if wanted(line):
                return line

    def expect_word(self, word: str, timeout: float = WAIT_S) -> str:
        """The payload of the next line ``WORD payload``."""
        line = self.expect(lambda s: s.split(" ", 1)[0] == word, f"'{word}' line", timeout)
        return line.partition(" ")[2]

    def finish(self, timeout: float = WAIT_S) -> list[str]:
        """Waits for exit code 0; returns the lines read since the last read."""
        start = len(self.lines)
        deadline = time.monotonic() + timeout
        while self.next_line(max(0.0, deadline - time.monotonic())) is not None:
            pass
        code = self.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        assert code == 0, f"{self.name} exited with {code}\n{self.tail()}"
        return self.lines[start:]

    def kill9(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=WAIT_S)

    def stop(self) -> None:
        """Kills the process if it still runs and releases its pipes and thread."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=WAIT_S)
        self._reader.join(timeout=WAIT_S)
        self._source.close()
        self._other.close()

    def tail(self, lines: int = 25) -> str:
        parts = []
        for path in (self._tee_path, self._other_path):
            if path.exists():
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {path.name} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


class Bridge:
    """``ai-connect bridge`` on 127.0.0.1 with a SQLite file that outlives restarts."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.db = tmp / "bridge.db"
        self.ready_file = tmp / "url"
        self.port = 0
        self.url = ""
        self.runs = 0
        self.proc: Proc | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        """Starts the bridge (on the port of the last run, if any) and waits until it listens."""
        self.runs += 1
        args = [sys.executable, "-m", "ai_connect", "bridge", "--port", str(self.port)]
        args += ["--db", str(self.db), "--ready-file", str(self.ready_file)]
        self.proc = Proc(f"bridge{self.runs}", args, self.tmp, stream="stderr")
        line = self.proc.expect(lambda s: _LISTENING.search(s) is not None, "listening line")
        found = _LISTENING.search(line)
        assert found is not None
        self.url, self.port = found.group(1), int(found.group(2))

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill9()
        self.proc.stop()

    def restart(self) -> None:
        """Starts it again on the same port with the same database."""
        assert self.proc is not None and self.proc.popen.poll() is not None, "kill it first"
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


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
def bridge(tmp_path: Path) -> Iterator[Bridge]:
    """A running bridge; ``kill9()`` then ``restart()`` it; always killed at teardown."""
    b = Bridge(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


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
