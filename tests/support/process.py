"""Processes in tests: ``Proc``, a subprocess whose output is read line by line into a
queue, so tests wait on lines with a timeout and never sleep (a process that dies or stays
silent fails the test with the tail of its logs); and ``BridgeProcess``, the real
``ai-connect bridge`` on 127.0.0.1, found through its ready file."""

from __future__ import annotations

import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["ROOT", "WAIT_S", "BridgeProcess", "Proc"]

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 20.0
"""Upper bound of any single wait on a process; the tests take a fraction of it."""


class Proc:
    """A subprocess whose ``stream`` ("stdout" or "stderr") is read into a queue.

    Every line of both streams is also kept in ``DIR/NAME.{stdout,stderr}.log``.
    """

    def __init__(
        self,
        name: str,
        args: list[str],
        logs: Path,
        stream: str = "stdout",
        *,
        stdin: int = subprocess.DEVNULL,
    ) -> None:
        """``stdin=subprocess.PIPE``: the test writes to ``popen.stdin``."""
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
            stdin=stdin,
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
        if self.popen.stdin is not None:
            self.popen.stdin.close()
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


# --- the bridge as a process ----------------------------------------------------------------------


class BridgeProcess:
    """``python -m ai_connect bridge`` on 127.0.0.1 with a database that outlives restarts
    (an SQLite file, or ``db`` a postgresql:// URL).

    Its port comes from its ``--ready-file``, made a FIFO here: the bridge writes its URL
    into it once it listens, and the test waits in ``select()`` on the FIFO and on the
    process (a bridge that exits first fails at once, with its log), bounded by a
    timeout. No log line is parsed for the port, and nothing sleeps. ``extra`` are more
    ``ai-connect bridge`` options (``--tls-cert F``); its stderr is ``proc``'s stream.
    """

    def __init__(self, tmp: Path, *extra: str, db: Path | str | None = None) -> None:
        self.tmp = tmp
        self.extra = extra
        self.db = db or tmp / "bridge.db"
        self.ready_file = tmp / "bridge.ready"
        self.port = 0
        self.url = ""
        self.runs = 0
        self.proc: Proc | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = WAIT_S) -> str:
        """Starts the bridge (on the port of the last run, if any); returns its URL."""
        self.runs += 1
        self.ready_file.unlink(missing_ok=True)
        os.mkfifo(self.ready_file)
        reader = os.open(self.ready_file, os.O_RDONLY | os.O_NONBLOCK)
        try:
            args = [sys.executable, "-m", "ai_connect", "bridge", "--port", str(self.port)]
            args += ["--db", str(self.db), "--ready-file", str(self.ready_file), *self.extra]
            self.proc = Proc(f"bridge{self.runs}", args, self.tmp, stream="stderr")
            self.url = _read_ready(reader, self.proc, timeout)
        finally:
            os.close(reader)
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill9()
        self.proc.stop()

    def restart(self) -> str:
        """Starts it again on the same port with the same database (kill it first)."""
        assert self.proc is not None and self.proc.popen.poll() is not None, "kill it first"
        return self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()

    def __enter__(self) -> BridgeProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _read_ready(fifo: int, proc: Proc, timeout: float) -> str:
    """The line written into the FIFO ``fifo``, or a failure saying why none came."""
    exited = os.pidfd_open(proc.pid)  # readable once the process has ended (Linux 5.3+)
    try:
        data = b""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            ready = select.select([fifo, exited], [], [], max(0.0, remaining))[0]
            if fifo in ready:
                chunk = os.read(fifo, 4096)
                data += chunk
                if data.endswith(b"\n"):
                    return data.decode().strip()
                if chunk:
                    continue
                problem = f"closed its ready file after {data!r}"
            elif exited in ready:
                proc.popen.wait(WAIT_S)
                problem = f"exited ({proc.popen.returncode}) before it was ready"
            else:
                problem = f"was not ready within {timeout:g} s"
            raise AssertionError(f"{proc.name} {problem}\n{proc.tail()}")
    finally:
        os.close(exited)
