"""Security: flood. One client floods the bridge at full speed while a pair keeps talking.

    python bench/flood_bench.py [--samples 1000] [--store sqlite|memory] [--markdown]

Against a fresh bridge process with its default limits (docs/protocol.md §5.1: 1,000
frames/s per connection, burst 2,000), and again with the rate limits off
(``--rate 0 --token-rate 0``) for comparison:

1. unloaded: ``pair-a`` sends to ``pair-b``, one message at a time; latency = time from
   writing ``send`` to ``pair-b`` reading its ``deliver`` (one clock), as bench/README.md.
2. loaded: the same while ``flood`` pipelines 200-byte sends to ``sink`` as fast as its
   socket takes them (``await ws.send`` in a loop: the bridge's reading is the only
   brake), and ``sink`` acks everything it gets.
3. checks: every flooder send that was ``accepted`` is in ``sink``'s mailbox (its
   ``tip``); every pair message arrived in order; the flooder was told ``rate_limited``.

Prints p50/p95/p99 unloaded and loaded, their ratio (target: p50 within 2x), the
flooder's accepted rate, and the bridge's peak RSS (bound: 200 MB; sampled from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ai_connect.errors import ErrorCode
from harness import BridgeOptions, BridgeProcess
from scenarios import PROJECT, Row, _pct, body
from wire import BenchFailure, Frame, Peer, first, open_peer

RSS_BOUND_MB = 200.0


@dataclass
class Flood:
    """The flooding client: a websockets connection sending as fast as it may."""

    ws: ClientConnection
    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    notices: int = 0
    other_errors: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    closed: str = ""
    """Why the bridge closed the flooder's link, if it did."""

    async def read(self) -> None:
        try:
            await self._read()
        except ConnectionClosed as exc:
            if not self.stop:  # not our own abort at the end
                self.closed = str(exc.rcvd or exc)

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "accepted":
                self.accepted.add(frame["id"])
            elif frame["type"] == "error" and frame.get("code") == ErrorCode.RATE_LIMITED:
                self.notices += 1
            elif frame["type"] == "error":
                self.other_errors.append(frame)

    async def pump(self, to: str) -> None:
        while not self.stop:
            i = self.sent
            frame = {"type": "send", "rid": i, "cid": f"f{i}", "to": to, "body": body(i)}
            try:
                await self.ws.send(json.dumps(frame))
            except ConnectionClosed:
                return  # read() records why
            self.sent += 1


async def open_flood(url: str) -> Flood:
    ws = await connect(url, compression=None, max_size=None)
    hello = {"type": "hello", "rid": "h", "protocol": 1, "name": "flood", "project": PROJECT}
    await ws.send(json.dumps(hello))
    if json.loads(await ws.recv())["type"] != "welcome":
        raise BenchFailure("the flooder was not welcomed")
    return Flood(ws)


def acking(peer: Peer, received: set[str], grew: asyncio.Event) -> None:
    """Makes ``peer`` ack every delivery batch (a sink that keeps up), noting the ids."""
    top = [0]

    def on_deliver(frame: Frame) -> None:
        top[0] = max(top[0], frame["seq"])
        received.add(frame["id"])
        grew.set()

    def after() -> None:
        if top[0]:
            peer.queue({"type": "ack", "seq": top[0]})

    peer.handlers["deliver"] = on_deliver
    peer.after_batch = after


async def pair_latency(
    a: Peer, b: Peer, samples: int, offset: int, rss: list[float], bridge: BridgeProcess
) -> list[float]:
    """``samples`` sequential sends a→b; returns their latencies in ms, sampling RSS."""
    loop = asyncio.get_running_loop()
    waits: dict[str, asyncio.Future[Any]] = {}

    def on_deliver(frame: Frame) -> None:
        b.queue({"type": "ack", "seq": frame["seq"]})
        waits["deliver"].set_result((time.perf_counter(), frame))

    b.handlers["deliver"] = on_deliver
    a.handlers["accepted"] = lambda frame: waits["accepted"].set_result(frame)
    out: list[float] = []
    for i in range(offset, offset + samples):
        waits["deliver"], waits["accepted"] = loop.create_future(), loop.create_future()
        text = body(i)
        sent = time.perf_counter()
        a.send({"type": "send", "rid": i, "cid": f"p{i}", "to": b.address, "body": text})
        arrived, frame = await first(waits["deliver"], a.crash, 20)
        await first(waits["accepted"], a.crash, 20)
        if frame["body"] != text:
            raise BenchFailure(f"pair message {i} arrived out of order")
        out.append(1000 * (arrived - sent))
        if i % 50 == 0:
            rss.append(bridge.rss_kb() / 1024)
    return out


async def run(options: BridgeOptions, samples: int, label: str) -> list[Row]:
    rows: list[Row] = []
    async with BridgeProcess(options, label) as bridge:
        crash: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        a = await open_peer(bridge.url, "pair-a", PROJECT, crash)
        b = await open_peer(bridge.url, "pair-b", PROJECT, crash)
        sink = await open_peer(bridge.url, "sink", PROJECT, crash)
        at_sink: set[str] = set()
        grew = asyncio.Event()
        acking(sink, at_sink, grew)
        rss = [bridge.rss_kb() / 1024]
        await pair_latency(a, b, 100, 0, rss, bridge)  # warm-up
        quiet = await pair_latency(a, b, samples, 100, rss, bridge)
        flood = await open_flood(bridge.url)
        reader = asyncio.create_task(flood.read())
        pump = asyncio.create_task(flood.pump(sink.address))
        half = samples // 2
        loaded = await pair_latency(a, b, half, 100 + samples, rss, bridge)
        # The burst is spent by now: the second half shows the steady rate.
        mid, accepted_mid = time.perf_counter(), len(flood.accepted)
        loaded += await pair_latency(a, b, samples - half, 100 + samples + half, rss, bridge)
        steady = (len(flood.accepted) - accepted_mid) / (time.perf_counter() - mid)
        flood.stop = True
        pump.cancel()
        # Drop the flooder: what it wrote but the bridge has not read yet was never
        # accepted. Every accepted message must reach the sink.
        flood.ws.transport.abort()
        await asyncio.gather(pump, reader, return_exceptions=True)
        deadline = time.perf_counter() + 60
        while not flood.accepted <= at_sink and time.perf_counter() < deadline:
            grew.clear()
            await first(grew.wait(), crash, 60)
        rss.append(bridge.rss_kb() / 1024)
        for peer in (a, b, sink):
            peer.abort()
    lost = len(flood.accepted - at_sink)
    p50_quiet, p50_loaded = _pct(quiet, 50), _pct(loaded, 50)
    ratio = p50_loaded / p50_quiet
    name = f"flood ({label})"
    rows += [
        Row(name, "pair p50 unloaded", p50_quiet, "ms"),
        Row(name, "pair p50 under flood", p50_loaded, "ms"),
        Row(name, "p50 ratio", ratio, "x", "≤ 2", ok=ratio <= 2.0),
        Row(name, "pair p95 unloaded", _pct(quiet, 95), "ms"),
        Row(name, "pair p95 under flood", _pct(loaded, 95), "ms"),
        Row(name, "pair p99 unloaded", _pct(quiet, 99), "ms"),
        Row(name, "pair p99 under flood", _pct(loaded, 99), "ms"),
        Row(name, "flooder sends written", flood.sent, "frames"),
        Row(name, "flooder accepted, steady rate", steady, "msg/s"),
        Row(name, "flooder accepted in all", len(flood.accepted), "msgs"),
        Row(name, "rate_limited notices", flood.notices, "frames"),
        Row(name, "flooder closed by the bridge", float(bool(flood.closed)), "yes/no"),
        Row(name, "accepted but not delivered", lost, "msgs", "0", ok=lost == 0),
        Row(
            name,
            "other errors to the flooder",
            len(flood.other_errors),
            "frames",
            "0",
            ok=not flood.other_errors,
        ),
        Row(
            name,
            "bridge RSS peak",
            max(rss),
            "MB",
            f"≤ {RSS_BOUND_MB:g} MB",
            ok=max(rss) <= RSS_BOUND_MB,
        ),
    ]
    return rows


def show(rows: list[Row], markdown: bool) -> None:
    if markdown:
        print("| run | figure | value | target | met |\n|---|---|---|---|---|")
    for r in rows:
        value = f"{r.value:,.2f}" if r.unit in ("ms", "x") else f"{r.value:,.0f}"
        met = "" if r.ok is None else ("yes" if r.ok else "NO")
        if markdown:
            print(f"| {r.bench} | {r.figure} | {value} {r.unit} | {r.target} | {met} |")
        else:
            print(f"{r.bench:24} {r.figure:30} {value:>12} {r.unit:6} {r.target:10} {met}")


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--rate", help="ai-connect bridge --rate for the limited run")
    parser.add_argument("--burst", help="ai-connect bridge --burst for the limited run")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    extra = [f"--{k}={v}" for k, v in (("rate", args.rate), ("burst", args.burst)) if v]
    limited = BridgeOptions(store=args.store, rate_limits=True, extra_args=tuple(extra))
    rows += await run(limited, args.samples, "default limits")
    unlimited = BridgeOptions(store=args.store, rate_limits=False)
    rows += await run(unlimited, args.samples, "no rate limit")
    show(rows, args.markdown)
    return 0 if all(r.ok is not False for r in rows if "default" in r.bench) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
