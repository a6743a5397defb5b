"""An interactive client on a pseudo-terminal, typed at and read from (no tmux needed).

What a terminal emulator would answer, this one answers too: the cursor position
(``ESC [ 6 n``), device attributes (``ESC [ c``) and the colour queries (``OSC 10/11``),
so TUIs that ask at start-up do not wait for an answer that never comes. The screen is
not emulated: the output is kept as one byte string, ANSI sequences stripped for
:meth:`Terminal.expect`. Nothing here sleeps: waits are on a condition, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pty
import re
import signal
import struct
import termios
from pathlib import Path

__all__ = ["Terminal"]

_ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]"
)
_ANSWERS = [
    (b"\x1b[6n", b"\x1b[1;1R"),
    (b"\x1b[c", b"\x1b[?62;22c"),
    (b"\x1b[0c", b"\x1b[?62;22c"),
    (b"\x1b]10;?\x1b\\", b"\x1b]10;rgb:ffff/ffff/ffff\x1b\\"),
    (b"\x1b]11;?\x1b\\", b"\x1b]11;rgb:0000/0000/0000\x1b\\"),
    (b"\x1b]10;?\x07", b"\x1b]10;rgb:ffff/ffff/ffff\x07"),
    (b"\x1b]11;?\x07", b"\x1b]11;rgb:0000/0000/0000\x07"),
    (b"\x1b[?u", b"\x1b[?0u"),
]


class Terminal:
    """``async with Terminal(argv, cwd, env) as term:`` a process on a pty."""

    def __init__(
        self, argv: list[str], cwd: Path, env: dict[str, str], size: tuple[int, int] = (50, 160)
    ) -> None:
        self.argv, self.cwd, self.env, self.size = argv, cwd, env, size
        self.raw = bytearray()
        self._changed = asyncio.Condition()
        self._master = -1
        self.proc: asyncio.subprocess.Process | None = None
        self._scan = 0
        self._pending: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Terminal:
        master, slave = pty.openpty()
        rows, cols = self.size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        try:
            self.proc = await asyncio.create_subprocess_exec(
                *self.argv, cwd=self.cwd, env=self.env,
                stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
            )  # fmt: skip
        finally:
            os.close(slave)
        self._master = master
        os.set_blocking(master, False)
        asyncio.get_running_loop().add_reader(master, self._readable)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        if self._master >= 0:
            loop.remove_reader(self._master)
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 10)
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except OSError:
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self._master)
            return
        self.raw += data
        tail = bytes(self.raw[max(0, self._scan - 16) :])
        for query, answer in _ANSWERS:
            if query in tail:
                with contextlib.suppress(OSError):
                    os.write(self._master, answer * tail.count(query))
        self._scan = len(self.raw)
        task = asyncio.ensure_future(self._notify())
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    @property
    def text(self) -> str:
        """Everything shown so far, escape sequences removed."""
        return _ANSI.sub(b"", bytes(self.raw)).decode(errors="replace")

    async def expect(self, pattern: str, timeout: float, since: int = 0) -> int:
        """Waits until ``pattern`` (a regex) shows after character ``since`` of
        :attr:`text`; returns the index just past it."""

        def found() -> re.Match[str] | None:
            return re.compile(pattern).search(self.text, since)

        try:
            async with self._changed:
                await asyncio.wait_for(self._changed.wait_for(found), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{pattern!r} did not show within {timeout:g} s; screen tail: {self.text[-1500:]!r}"
            ) from None
        match = found()
        assert match is not None
        return match.end()

    def type(self, text: str) -> None:
        """Types ``text`` (use ``\\r`` for Enter)."""
        os.write(self._master, text.encode())
