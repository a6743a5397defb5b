"""Availability (issue 11): no single client can stall or bloat the bridge.

    python bench/avail_bench.py [--samples 1000] [--peers 200] [--markdown]

Each run starts a fresh bridge process with its default limits (docs/protocol.md §5.1:
200 frames/s per connection, burst 2,000) and measures the latency of a talking pair:
``pair-a`` sends 200-byte messages to ``pair-b`` one at a time, latency = from writing
``send`` to ``pair-b`` reading its ``deliver`` (one clock, as bench/README.md). First
``samples`` unloaded (the reference, same bridge, same run), then ``samples`` under load:

1. **history**: ``hammer`` asks for history pages as fast as the bridge reads it (4
   requests in flight, each reply read), over 1,500 messages of 16 KiB it sent: every
   page is a full 1 MiB page. Target: loaded p99 at most 2x unloaded p99.
2. **broadcast**: ``--peers`` more peers are connected (each acks what it gets);
   ``caster`` sends to ``*`` as fast as its socket takes them (the bridge's reading is
   its only brake). Target: loaded p99 at most 2x unloaded p99.

Under load means: once the loading client was first told ``rate_limited`` (its burst is
spent; it runs at its rate limit), ``samples`` pair messages.
3. **never reads**: ``lazy`` asks for history pages (1 MiB each) as fast as its socket
   takes the requests and never reads a reply. The bridge's RSS is sampled every 50 ms
   while the pair keeps talking. Bound: 300 MB.

Prints each figure beside its reference, the bridge's CPU per pair message, and what else
used the machine meanwhile (harness.OtherLoad).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from ai_connect.errors import ErrorCode
from flood_bench import Flood, open_flood, show
from harness import BridgeOptions, BridgeProcess, OtherLoad
from scenarios import PROJECT, Row, _pct, body
from wire import BenchFailure, Frame, Peer, first, open_peer

RSS_BOUND_MB = 300.0
RATIO_BOUND = 2.0
BIG = "lorem ipsum dolor sit amet " * 600  # 16 KiB of words
FILL = 1500


def acks_everything(peer: Peer, also: Callable[[Frame], None] | None = None) -> None:
    """``peer`` acks every delivery batch; ``also`` sees each delivery first."""
    top = [0]

    def on_deliver(frame: Frame) -> None:
        top[0] = max(top[0], frame["seq"])
        if also is not None:
            also(frame)

    def after() -> None:
        if top[0]:
            peer.queue({"type": "ack", "seq": top[0]})
            top[0] = 0

    peer.handlers["deliver"] = on_deliver
    peer.after_batch = after


class Notices:
    """``rate_limited`` notices to a peer (no rid); an error with a rid fails its request."""

    def __init__(self, peer: Peer) -> None:
        self.count = 0
        self.first = asyncio.Event()
        """Set at the first notice: the peer has spent its burst, it runs at its rate."""
        self.peer = peer
        peer.handlers["error"] = self.on_error

    def on_error(self, frame: Frame) -> None:
        peer = self.peer
        future = peer.pending.pop(frame.get("rid"), None)
        if future is not None:
            future.set_exception(BenchFailure(f"{peer.address}: {frame}"))
        elif frame.get("code") == "rate_limited":
            self.count += 1
            self.first.set()
        else:
            peer.fail(f"{peer.address}: unexpected error {frame}")


class Caster(Flood):
    """flood_bench's flooder, sending to ``*``, that says when it is first throttled."""

    first: asyncio.Event

    async def _read(self) -> None:
        async for raw in self.ws:
            frame = json.loads(raw)
            if frame["type"] == "accepted":
                self.accepted.add(frame["id"])
            elif frame["type"] == "error" and frame.get("code") == ErrorCode.RATE_LIMITED:
                self.notices += 1
                self.first.set()
            elif frame["type"] == "error":
                self.other_errors.append(frame)


class Pair:
    """pair-a → pair-b, one message at a time; other deliveries (broadcasts) are acked."""

    def __init__(self, a: Peer, b: Peer, bridge: BridgeProcess) -> None:
        self.a, self.b, self.bridge = a, b, bridge
        self.waiting: asyncio.Future[float] | None = None
        self.cid = ""
        self.rss_mb: list[float] = []
        acks_everything(a)
        acks_everything(b, self._arrived)
        a.handlers["accepted"] = lambda frame: None
        self.sent = 0

    def _arrived(self, frame: Frame) -> None:
        waiting = self.waiting
        if frame["from"] == self.a.address and waiting is not None and not waiting.done():
            if frame["body"] != self.cid:
                waiting.set_exception(BenchFailure(f"pair message out of order: {frame}"))
            else:
                waiting.set_result(time.perf_counter())

    async def latencies(self, samples: int) -> list[float]:
        """``samples`` sequential sends; their send→deliver latencies in ms."""
        loop = asyncio.get_running_loop()
        out = []
        for _ in range(samples):
            self.sent += 1
            self.cid = f"{self.sent} {body(self.sent)[:180]}"
            self.waiting = loop.create_future()
            started = time.perf_counter()
            self.a.send(
                {
                    "type": "send",
                    "rid": f"p{self.sent}",
                    "cid": f"p{self.sent}",
                    "to": self.b.address,
                    "body": self.cid,
                }
            )
            arrived = await first(self.waiting, self.a.crash, 60)
            out.append(1000 * (arrived - started))
            if self.sent % 25 == 0:
                self.rss_mb.append(self.bridge.rss_kb() / 1024)
        return out


def sink_for(peer: Peer) -> Callable[[int], Any]:
    """Makes ``peer`` ack everything; returns ``drained(n)``, which waits until it got n."""
    got = [0]
    grew = asyncio.Event()

    def on_deliver(frame: Frame) -> None:
        got[0] += 1
        grew.set()

    acks_everything(peer, on_deliver)

    async def drained(count: int) -> None:
        while got[0] < count:
            grew.clear()
            await first(grew.wait(), peer.crash, 120)

    return drained


async def fill(peer: Peer, to: str, count: int) -> None:
    """``peer`` sends ``count`` 16 KiB messages to ``to`` and waits until all are stored."""
    done: set[Any] = set()
    everything = asyncio.get_running_loop().create_future()

    def accepted(frame: Frame) -> None:
        done.add(frame["rid"])
        if len(done) == count and not everything.done():
            everything.set_result(None)

    peer.handlers["accepted"] = accepted
    for i in range(count):
        peer.queue({"type": "send", "rid": f"f{i}", "cid": f"f{i}", "to": to, "body": BIG})
        if i % 100 == 99:
            peer.flush()
            await asyncio.sleep(0)
    peer.flush()
    await first(everything, peer.crash, 120)
    del peer.handlers["accepted"]


async def hammer_history(peer: Peer, stop: asyncio.Event, counts: dict[str, float]) -> None:
    """Keeps 4 history requests in flight, reading each page; follows the cursor."""
    before: list[int | None] = [None]

    async def one_lane() -> None:
        while not stop.is_set():
            frame: dict[str, Any] = {"type": "history", "limit": 500}
            if before[0] is not None:
                frame["before"] = before[0]
            page = await first(peer.request(frame), peer.crash, 120)
            counts["pages"] += 1
            counts["messages"] += len(page["messages"])
            before[0] = page.get("before")

    await asyncio.gather(*(one_lane() for _ in range(4)))


async def run_history(options: BridgeOptions, samples: int) -> list[Row]:
    async with BridgeProcess(options, "history") as bridge:
        crash: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        a = await open_peer(bridge.url, "pair-a", PROJECT, crash)
        b = await open_peer(bridge.url, "pair-b", PROJECT, crash)
        sink = await open_peer(bridge.url, "sink", PROJECT, crash)
        drained = sink_for(sink)
        hammer = await open_peer(bridge.url, "hammer", PROJECT, crash)
        notices = Notices(hammer)
        await fill(hammer, sink.address, FILL)
        await drained(FILL)  # the bridge is idle again before the reference is measured
        pair = Pair(a, b, bridge)
        await pair.latencies(100)  # warm-up
        cpu = bridge.cpu_s()
        quiet = await pair.latencies(samples)
        quiet_cpu = bridge.cpu_s() - cpu
        stop, counts = asyncio.Event(), {"pages": 0.0, "messages": 0.0}
        task = asyncio.create_task(hammer_history(hammer, stop, counts))
        await first(notices.first.wait(), crash, 120)  # past its burst: at its rate limit
        started, cpu, pages = time.perf_counter(), bridge.cpu_s(), counts["pages"]
        loaded = await pair.latencies(samples)
        elapsed, loaded_cpu = time.perf_counter() - started, bridge.cpu_s() - cpu
        rate = (counts["pages"] - pages) / elapsed
        stop.set()
        await asyncio.wait_for(task, 120)
        for peer in (a, b, sink, hammer):
            peer.abort()
    return [
        *compare("history", quiet, loaded, quiet_cpu, loaded_cpu, samples),
        Row("history", "hammer: pages of 1 MiB read", rate, "pages/s"),
        Row("history", "hammer: rate_limited notices", notices.count, "frames"),
        Row("history", "bridge RSS peak", max(pair.rss_mb), "MB"),
    ]


async def run_broadcast(options: BridgeOptions, samples: int, peers: int) -> list[Row]:
    async with BridgeProcess(options, "broadcast") as bridge:
        crash: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        a = await open_peer(bridge.url, "pair-a", PROJECT, crash)
        b = await open_peer(bridge.url, "pair-b", PROJECT, crash)
        crowd = []
        got = [0]

        def count(frame: Frame) -> None:
            got[0] += 1

        for i in range(peers):
            peer = await open_peer(bridge.url, f"crowd{i}", PROJECT, crash)
            acks_everything(peer, count)
            crowd.append(peer)
        flood = await open_flood(bridge.url)  # sends as fast as its socket takes them
        caster = Caster(flood.ws)
        caster.first = asyncio.Event()
        pair = Pair(a, b, bridge)
        await pair.latencies(100)
        cpu = bridge.cpu_s()
        quiet = await pair.latencies(samples)
        quiet_cpu = bridge.cpu_s() - cpu
        reader = asyncio.create_task(caster.read())
        pump = asyncio.create_task(caster.pump("*"))
        await first(caster.first.wait(), crash, 120)  # past its burst: at its rate limit
        started, cpu, entries = time.perf_counter(), bridge.cpu_s(), got[0]
        casts = len(caster.accepted)
        loaded = await pair.latencies(samples)
        elapsed, loaded_cpu = time.perf_counter() - started, bridge.cpu_s() - cpu
        broadcasts = (len(caster.accepted) - casts) / elapsed
        caster.stop = True
        pump.cancel()
        caster.ws.transport.abort()
        await asyncio.gather(pump, reader, return_exceptions=True)
        fanout = (got[0] - entries) / elapsed
        for peer in (a, b, *crowd):
            peer.abort()
    return [
        *compare("broadcast", quiet, loaded, quiet_cpu, loaded_cpu, samples),
        Row("broadcast", "caster: broadcasts accepted", broadcasts, "msg/s"),
        Row("broadcast", "crowd: deliveries received", fanout, "msg/s"),
        Row("broadcast", "caster: rate_limited notices", caster.notices, "frames"),
    ]


async def run_never_reads(options: BridgeOptions, samples: int, lazy_pages: int) -> list[Row]:
    async with BridgeProcess(options, "never reads") as bridge:
        crash: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        a = await open_peer(bridge.url, "pair-a", PROJECT, crash)
        b = await open_peer(bridge.url, "pair-b", PROJECT, crash)
        sink = await open_peer(bridge.url, "sink", PROJECT, crash)
        drained = sink_for(sink)
        lazy = await open_peer(bridge.url, "lazy", PROJECT, crash)
        Notices(lazy)
        await fill(lazy, sink.address, FILL)
        await drained(FILL)  # the bridge is idle again before the reference is measured
        pair = Pair(a, b, bridge)
        await pair.latencies(100)
        before = bridge.rss_kb() / 1024
        quiet = await pair.latencies(samples)
        assert lazy.transport is not None
        lazy.transport.pause_reading()  # from now on it reads nothing
        lazy.handlers["history_page"] = lambda frame: None
        sent = 0
        for i in range(lazy_pages):  # 2,000 pages of 1 MiB: 2 GB if all were queued
            lazy.queue({"type": "history", "rid": f"h{i}", "limit": 500})
            sent += 1
        lazy.flush()
        rss = [bridge.rss_kb() / 1024]
        sampling = True

        async def sample() -> None:
            while sampling:
                rss.append(bridge.rss_kb() / 1024)
                await asyncio.sleep(0.05)

        sampler = asyncio.create_task(sample())
        loaded = await pair.latencies(samples)
        sampling = False
        await sampler
        for peer in (a, b, sink, lazy):
            peer.abort()
    peak = max(rss)
    name = "never reads"
    return [
        Row(name, "pair p99 unloaded", _pct(quiet, 99), "ms"),
        Row(name, "pair p99 beside it", _pct(loaded, 99), "ms"),
        Row(name, "pages asked for, never read", sent, "pages"),
        Row(name, "bridge RSS before", before, "MB"),
        Row(name, "bridge RSS peak", peak, "MB", f"≤ {RSS_BOUND_MB:g} MB", ok=peak <= RSS_BOUND_MB),
    ]


def compare(
    name: str,
    quiet: list[float],
    loaded: list[float],
    quiet_cpu: float,
    loaded_cpu: float,
    samples: int,
) -> list[Row]:
    ratio = _pct(loaded, 99) / _pct(quiet, 99)
    return [
        Row(name, "pair p50 unloaded", _pct(quiet, 50), "ms"),
        Row(name, "pair p50 under load", _pct(loaded, 50), "ms"),
        Row(name, "pair p99 unloaded", _pct(quiet, 99), "ms"),
        Row(name, "pair p99 under load", _pct(loaded, 99), "ms"),
        Row(name, "p99 ratio", ratio, "x", f"≤ {RATIO_BOUND:g}", ok=ratio <= RATIO_BOUND),
        Row(name, "bridge CPU per pair message, unloaded", 1e6 * quiet_cpu / samples, "µs"),
        Row(name, "bridge CPU per pair message, loaded", 1e6 * loaded_cpu / samples, "µs"),
    ]


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--peers", type=int, default=200)
    parser.add_argument("--store", choices=["sqlite", "memory"], default="sqlite")
    parser.add_argument("--only", choices=["history", "broadcast", "never-reads"])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument(
        "--lazy-pages", type=int, default=2000, help="pages the client that never reads asks for"
    )
    args = parser.parse_args(argv)
    options = BridgeOptions(store=args.store, rate_limits=True)
    others = OtherLoad()
    rows: list[Row] = []
    if args.only in (None, "history"):
        rows += await run_history(options, args.samples)
    if args.only in (None, "broadcast"):
        rows += await run_broadcast(options, args.samples, args.peers)
    if args.only in (None, "never-reads"):
        rows += await run_never_reads(options, args.samples, args.lazy_pages)
    show(rows, args.markdown)
    print(others.summary(), file=sys.stderr)
    return 0 if all(r.ok is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
