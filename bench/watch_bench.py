"""``ai-connect watch`` (issue 12): a message is on the watch's screen within 50 ms of its
acceptance.

    python bench/watch_bench.py [--samples 500] [--markdown]

Starts a bridge process (SQLite, ``synchronous=FULL``, bench/harness.py) and the real
``ai-connect watch --lines`` as its own process, its stdout a pipe read here. ``alice``
sends ``bob`` one 200-byte message at a time; bob acks each (path ``tool``) once he has
it. On one clock (this process's ``perf_counter``):

- **watch line after accepted**: from alice reading ``accepted`` to the watch's
  ``message`` line for that id arriving on the pipe (the bridge's feed event, the
  watch's client, model and line renderer, its stdout, the pipe). Target: p99 <= 50 ms.
  Negative: the line came before alice had read her ``accepted`` (both leave the bridge
  in the same loop turn, after the commit).
- **watch line after send**: from alice writing ``send`` to that line: the same plus the
  commit, beside the **reference**, bob's ``deliver`` after the same send (the bridge's
  own push to a peer, the same moment): their difference is what the watch adds.
- **shown line after ack**: from bob writing his ``ack`` to the watch's ``shown`` line,
  beside the reference, bob reading the bridge's ``acked`` (the ack stored).

Also the CPU the watch process used per message, and what else used the machine
(harness.OtherLoad).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from dataclasses import dataclass

from ai_connect.client import BridgeClient, Message
from ai_connect.protocol import Presence
from harness import BridgeOptions, BridgeProcess, OtherLoad, process_cpu_s
from scenarios import _pct

TARGET_MS = 50.0
BODY = "x" * 200


@dataclass
class Figures:
    watch_ms: list[float]
    """The watch's message line after alice read ``accepted``."""
    from_send_ms: list[float]
    reference_ms: list[float]
    """bob's deliver after the same send."""
    shown_ms: list[float]
    acked_ms: list[float]
    """bob's ``acked`` after his ack (the reference for the shown line)."""
    watch_cpu_us: float
    bridge_cpu_us: float


class WatchLines:
    """Reads the watch's stdout; resolves a future per (kind, message id) on its line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.waiting: dict[tuple[str, str], asyncio.Future[float]] = {}
        self.seen: dict[tuple[str, str], float] = {}
        self.up = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self._read())

    def when(self, kind: str, message_id: str) -> asyncio.Future[float]:
        key = (kind, message_id)
        future = self.waiting.setdefault(key, asyncio.get_running_loop().create_future())
        if key in self.seen and not future.done():
            future.set_result(self.seen.pop(key))
        return future

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while raw := await self.proc.stdout.readline():
            now = time.perf_counter()
            words = raw.decode(errors="replace").split()
            if len(words) < 4:
                continue
            kind, key = words[2], words[3]
            if kind == "link" and key == "up:" and not self.up.done():
                self.up.set_result(now)
            future = self.waiting.get((kind, key))
            if future is not None and not future.done():
                future.set_result(now)
            elif future is None:
                self.seen[(kind, key)] = now


async def measure(samples: int, warmup: int) -> Figures:
    async with BridgeProcess(BridgeOptions(), "watch") as bridge:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "ai_connect", "watch", "--lines", "--bridge", bridge.url),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        lines = WatchLines(proc)
        try:
            await asyncio.wait_for(lines.up, 30)
            return await _talk(bridge, proc.pid, lines, samples, warmup)
        finally:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            lines.task.cancel()


async def _talk(
    bridge: BridgeProcess, watch_pid: int, lines: WatchLines, samples: int, warmup: int
) -> Figures:
    loop = asyncio.get_running_loop()
    arrived: dict[str, asyncio.Future[float]] = {}

    def on_item(item: Message | Presence) -> None:
        if isinstance(item, Message):
            future = arrived.setdefault(item.id, loop.create_future())
            if not future.done():
                future.set_result(time.perf_counter())

    figures = Figures([], [], [], [], [], 0.0, 0.0)
    async with (
        BridgeClient(bridge.url, "alice", "bench", reconnect=False) as alice,
        BridgeClient(bridge.url, "bob", "bench", reconnect=False) as bob,
    ):
        bob.add_listener(on_item)
        watch_cpu = bridge_cpu = 0.0
        for n in range(warmup + samples):
            if n == warmup:
                watch_cpu, bridge_cpu = process_cpu_s(watch_pid), bridge.cpu_s()
            sent = time.perf_counter()
            receipt = await alice.send("bob", BODY)
            accepted = time.perf_counter()
            assert receipt.id is not None
            mid = receipt.id
            on_screen = await asyncio.wait_for(lines.when("message", mid), 10)
            delivered = await asyncio.wait_for(arrived.setdefault(mid, loop.create_future()), 10)
            (got,) = [m for m in bob.unread() if m.id == mid]
            acking = time.perf_counter()
            await bob.ack([got], path="tool")
            acked = time.perf_counter()
            shown = await asyncio.wait_for(lines.when("shown", mid), 10)
            if n >= warmup:
                figures.watch_ms.append((on_screen - accepted) * 1000)
                figures.from_send_ms.append((on_screen - sent) * 1000)
                figures.reference_ms.append((delivered - sent) * 1000)
                figures.shown_ms.append((shown - acking) * 1000)
                figures.acked_ms.append((acked - acking) * 1000)
        figures.watch_cpu_us = (process_cpu_s(watch_pid) - watch_cpu) / samples * 1e6
        figures.bridge_cpu_us = (bridge.cpu_s() - bridge_cpu) / samples * 1e6
    return figures


def table(f: Figures, markdown: bool) -> str:
    def row(name: str, values: list[float], target: str) -> list[str]:
        return [
            name,
            f"{_pct(values, 50):.2f} ms",
            f"{_pct(values, 99):.2f} ms",
            f"{max(values):.2f} ms",
            target,
        ]

    rows = [
        ["measure", "p50", "p99", "max", "target"],
        row("watch message line after accepted", f.watch_ms, f"p99 <= {TARGET_MS:g} ms"),
        row("watch message line after send", f.from_send_ms, ""),
        row("  reference: bob's deliver after send", f.reference_ms, ""),
        row("watch shown line after bob's ack", f.shown_ms, ""),
        row("  reference: bob's acked after his ack", f.acked_ms, ""),
        ["watch process CPU per message", f"{f.watch_cpu_us:.0f} µs", "", "", ""],
        ["bridge CPU per message (feed on)", f"{f.bridge_cpu_us:.0f} µs", "", "", ""],
    ]
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    load = OtherLoad()
    figures = asyncio.run(measure(args.samples, args.warmup))
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.samples} messages "
        f"(after {args.warmup} warm-up), 200-byte bodies, one at a time; load average "
        f"{os.getloadavg()[0]:.1f}"
    )
    print(table(figures, args.markdown))
    print(load.summary())
    met = _pct(figures.watch_ms, 99) <= TARGET_MS
    print(f"target (p99 <= {TARGET_MS:g} ms): {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
