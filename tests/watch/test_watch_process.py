"""``ai-connect watch`` as a real process beside a real bridge: line mode (stdout is a
pipe, so one greppable line per event), auth (an admin token, or a clear refusal), and
the terminal view on a real pseudo-terminal (it draws, honours NO_COLOR, q quits)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from subprocess import DEVNULL, PIPE

from ai_connect.cli import main
from ai_connect.client import BridgeClient
from tests.support.process import WAIT_S, BridgeProcess, Proc


def watch(tmp: Path, url: str, *args: str, name: str = "watch", stdin: int = DEVNULL) -> Proc:
    command = [sys.executable, "-m", "ai_connect", "watch", "--bridge", url, *args]
    return Proc(name, command, tmp, stdin=stdin)


def token(db: Path, name: str, *options: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out), redirect_stderr(io.StringIO()):
        assert main(["token", "create", name, "--db", str(db), *options]) == 0
    return out.getvalue().strip()


async def talk(url: str, tokens: dict[str, str] | None = None) -> tuple[str, str]:
    """alice sends bob three lines in thread t1, then one in t2; bob is shown each through
    a tool."""
    tokens = tokens or {}
    async with (
        BridgeClient(url, "alice", "p", token=tokens.get("alice")) as alice,
        BridgeClient(url, "bob", "p", token=tokens.get("bob")) as bob,
    ):
        receipt = await alice.send("bob", "hello bob\nsecond line\nthird", thread="t1")
        (got,) = await bob.wait(10)
        await bob.ack([got], path="tool")
        later = await alice.send("bob", "in another thread", thread="t2")
        (got,) = await bob.wait(10)
        await bob.ack([got], path="tool")
        assert receipt.id is not None and later.id is not None
        return receipt.id, later.id


def test_piped_watch_prints_one_line_per_event(tmp_path: Path) -> None:
    """Piped: joins, the message with its thread and first lines, then its delivery and
    its showing, each one line; --json gives the same events as JSON objects; --thread
    shows that thread only."""
    with BridgeProcess(tmp_path) as bridge:
        plain = watch(tmp_path, bridge.url)
        as_json = watch(tmp_path, bridge.url, "--json", name="watch-json")
        t2 = watch(tmp_path, bridge.url, "--thread", "t2", name="watch-t2")
        try:
            for proc in (plain, as_json, t2):
                proc.expect(lambda s: "link" in s and "up" in s, "connected line")
            message_id, later_id = asyncio.run(asyncio.wait_for(talk(bridge.url), WAIT_S))
            plain.expect(lambda s: " join " in s and "alice (p)" in s, "alice's join")
            line = plain.expect(lambda s: " message " in s, "message line")
            assert line.endswith(
                f" message   {message_id} alice (p) -> bob (p) thread=t1: hello bob / second line"
            )
            plain.expect(
                lambda s: s.endswith(f" delivered {message_id} -> bob (p) to library"), "delivered"
            )
            plain.expect(
                lambda s: s.endswith(f" shown     {message_id} -> bob (p) by tool"), "shown"
            )
            assert all("\x1b" not in s for s in plain.lines), "no colour into a pipe"
            row = json.loads(as_json.expect(lambda s: '"kind": "shown"' in s, "shown object"))
            assert (row["key"], row["text"]) == (message_id, "by tool")
            first = t2.expect(lambda s: " message " in s, "t2's message line")
            assert f" {later_id} " in first and "thread=t2" in first, "--thread t2 hides t1"
        finally:
            for proc in (plain, as_json, t2):
                proc.stop()


def test_with_auth_on_watch_needs_an_admin_token_and_is_no_peer(tmp_path: Path) -> None:
    """A peer's token is refused with what to do; an admin token watches, never a peer."""
    db = tmp_path / "bridge.db"
    tokens = {name: token(db, name) for name in ("alice", "bob")}
    admin = token(db, "ops", "--admin")
    with BridgeProcess(tmp_path, db=db) as bridge:
        refused = watch(tmp_path, bridge.url, "--token", tokens["alice"], name="refused")
        try:
            assert refused.popen.wait(timeout=WAIT_S) == 1
            assert "not an admin token" in refused.tail()
            assert "token create NAME --admin" in refused.tail()
        finally:
            refused.stop()
        ops = watch(tmp_path, bridge.url, "--token", admin, "--as", "Ada", name="ops")
        try:
            ops.expect(lambda s: "link" in s and "up" in s, "connected line")
            asyncio.run(asyncio.wait_for(talk(bridge.url, tokens), WAIT_S))
            ops.expect(lambda s: " shown " in s, "shown line")

            async def peers() -> list[str]:
                async with BridgeClient(bridge.url, "alice", "p", token=tokens["alice"]) as c:
                    return [p.address for p in await c.peers()]

            addresses = asyncio.run(asyncio.wait_for(peers(), WAIT_S))
            assert sorted(addresses) == ["alice (p)", "bob (p)"]
        finally:
            ops.stop()


def test_in_line_mode_lines_typed_on_stdin_are_sent_as_the_person(tmp_path: Path) -> None:
    """--lines --as Ada: '@bob ...' written to its stdin reaches bob flagged human, and
    the watch's own line shows it [human]."""
    with BridgeProcess(tmp_path) as bridge:
        ops = watch(tmp_path, bridge.url, "--lines", "--as", "Ada (ops)", stdin=PIPE)
        try:
            ops.expect(lambda s: "link" in s and "up" in s, "connected line")

            async def bob_reads() -> tuple[str, str, bool]:
                async with BridgeClient(bridge.url, "bob", "p") as bob:
                    assert ops.popen.stdin is not None
                    ops.popen.stdin.write("@bob please pause the deploy\n")
                    ops.popen.stdin.flush()
                    (got,) = await bob.wait(WAIT_S)
                    await bob.ack([got], path="hook")
                    return got.sender, got.body, got.human

            got = asyncio.run(asyncio.wait_for(bob_reads(), WAIT_S))
            assert got == ("Ada (ops)", "please pause the deploy", True)
            ops.expect(lambda s: "Ada (ops) [human] -> bob (p)" in s, "the human's message")
        finally:
            ops.stop()


_ESCAPES = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()=>][0-9A-Za-z]?")
_COLOURS = re.compile(rb"\x1b\[[0-9;]*?[34]8;5;(\d+)")
_GREYS = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def on_a_terminal(url: str, **env: str) -> bytes:
    """Runs ``ai-connect watch`` on a pseudo-terminal (120x30) until it has drawn its
    status and attention lines, presses q, and returns what it wrote; it must exit 0."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ai_connect", "watch", "--bridge", url],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**{k: v for k, v in os.environ.items() if k != "NO_COLOR"}, "TERM": "xterm-256color"}
        | env,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""
    try:
        deadline = time.monotonic() + WAIT_S
        while b"connected" not in (text := _ESCAPES.sub(b"", screen)) or b"attention" not in text:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the view drew no status within {WAIT_S:g} s: {text[-400:]!r}"
            if select.select([master], [], [], remaining)[0]:
                screen += os.read(master, 65536)
        os.write(master, b"q")
        # Read on until it exits: a view that still draws (a redraw, the screen restored on
        # exit) blocks on a full pty buffer if nobody reads, and never gets to exit.
        deadline = time.monotonic() + WAIT_S
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"q did not quit the view within {WAIT_S:g} s"
            if select.select([master], [], [], min(remaining, 0.1))[0]:
                with contextlib.suppress(OSError):  # EIO once the terminal's last user left
                    screen += os.read(master, 65536)
        assert proc.wait(timeout=WAIT_S) == 0
        return screen
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)
        os.close(master)


def test_on_a_terminal_the_view_draws_honours_no_color_and_q_quits(tmp_path: Path) -> None:
    """On a real pty the Textual view draws its status line; NO_COLOR leaves only greys
    (the 256-colour grey ramp), without it there is colour; q quits with exit 0."""
    with BridgeProcess(tmp_path) as bridge:
        plain = on_a_terminal(bridge.url, NO_COLOR="1")
        assert b"ai-connect watch" in _ESCAPES.sub(b"", plain)
        used = {int(n) for n in _COLOURS.findall(plain)}
        assert used and used <= _GREYS, f"colours under NO_COLOR: {sorted(used - _GREYS)}"
        coloured = {int(n) for n in _COLOURS.findall(on_a_terminal(bridge.url))}
        assert coloured - _GREYS, "without NO_COLOR the view has colour"
