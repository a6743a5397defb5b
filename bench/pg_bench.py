"""PostgreSQL against SQLite on this machine, in the same run (issue 14).

    python bench/pg_bench.py [--messages 30000] [--rounds 2] [--quick] [--markdown]

Starts a private PostgreSQL 16 (the ``pgserver`` package: a Unix socket in a temporary
folder, the server's defaults: fsync on, synchronous_commit on) and, in turn, for each
round:

- the store alone: ``--messages`` appends 1 sender -> 1 recipient committed in batches
  of 500 with one ack each (as bench/store_bench.py), into a fresh SQLite file
  (synchronous=FULL) and a fresh PostgreSQL database: commits/s and messages/s;
- 1x1 durable throughput end to end: ``ai-connect bridge`` started on each database,
  one sender streaming to one receiver that acks (bench/scenarios.py ``throughput``).

Each figure is the median of the rounds, PostgreSQL beside SQLite and their ratio. Not a
test: it prints figures (bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import psycopg

from ai_connect.bridge.store.base import Store
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.sqlite import SqliteStore
from harness import BridgeOptions, BridgeProcess, raise_nofile
from scenarios import (
    PROJECT,
    _close_all,
    _crash,
    _latency,
    _open_many,
    _phase,
    _Receiver,
    _Sender,
    throughput,
)
from store_bench import batches
from wire import open_peer

TARGET_MSG_S = 10_000


class Server:
    """A private PostgreSQL (pgserver), its databases made on demand."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        self.folder = Path(tempfile.mkdtemp(prefix="ai-connect-pg-bench-"))
        self.server: Any = pgserver.get_server(self.folder / "data", cleanup_mode="stop")
        self.count = 0
        with psycopg.connect(self.server.get_uri()) as db:
            settings = db.execute(
                "SELECT name, setting FROM pg_settings"
                " WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method')"
            ).fetchall()
        self.settings = ", ".join(f"{n}={v}" for n, v in settings)

    def new_database(self) -> str:
        self.count += 1
        name = f"bench{self.count}"
        with psycopg.connect(self.server.get_uri(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return str(self.server.get_uri(name))

    def close(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


def store_run(store: Store, messages: int) -> tuple[float, float]:
    """(messages/s, commits/s) committing ``messages`` in batches of 500."""
    work = batches(messages, 500)
    started = time.perf_counter()
    for batch in work:
        store.commit(batch)
    wall = time.perf_counter() - started
    return messages / wall, len(work) / wall


def commit_latency(store: Store, commits: int) -> float:
    """Median ms of a commit of one message (the latency floor of a lone send)."""
    work = batches(commits, 1)
    times = []
    for batch in work:
        started = time.perf_counter()
        store.commit(batch)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


async def bridge_run(options: BridgeOptions, messages: int) -> float:
    rows = await throughput(options, 1, messages)
    return next(r.value for r in rows if r.figure == "rate")


async def cross_node_latency(url: str, samples: int) -> tuple[float, float]:
    """(p50, p99) ms of a send on node A delivered to a receiver on node B: two
    ``ai-connect bridge`` processes on one database, woken by LISTEN/NOTIFY."""
    options = BridgeOptions(db_url=url)
    async with BridgeProcess(options, "node-a") as a, BridgeProcess(options, "node-b") as b:
        crash = _crash()
        receiver = await open_peer(b.url, "lat-receiver", PROJECT, crash)
        sender = await open_peer(a.url, "lat-sender", PROJECT, crash)
        try:
            rows = await _latency(a, sender, receiver, samples, max(50, samples // 10))
        finally:
            _close_all([sender, receiver])
    values = {r.figure: r.value for r in rows}
    return values["p50"], values["p99"]


async def same_node_latency(options: BridgeOptions, samples: int) -> tuple[float, float]:
    """(p50, p99) ms of a send delivered on the same node (the reference)."""
    async with BridgeProcess(options, "node") as a:
        crash = _crash()
        receiver = await open_peer(a.url, "lat-receiver", PROJECT, crash)
        sender = await open_peer(a.url, "lat-sender", PROJECT, crash)
        try:
            rows = await _latency(a, sender, receiver, samples, max(50, samples // 10))
        finally:
            _close_all([sender, receiver])
    values = {r.figure: r.value for r in rows}
    return values["p50"], values["p99"]


async def aggregate(url: str, nodes: int, per_pair: int) -> float:
    """Messages/s of ``nodes`` node processes on one database, one 1x1 pair on each
    (sender and receiver on the same node), all streaming at once."""
    options = BridgeOptions(db_url=url)
    async with contextlib.AsyncExitStack() as stack:
        bridges = [
            await stack.enter_async_context(BridgeProcess(options, f"node{i}"))
            for i in range(nodes)
        ]
        crash = _crash()
        peers = []
        for i, bridge in enumerate(bridges):
            peers += await _open_many(bridge.url, [f"tx{i}", f"rx{i}"], crash)
        try:
            receivers = [_Receiver(p, 100) for p in peers[1::2]]
            senders = [
                _Sender(p, r.peer.address, 1000)
                for p, r in zip(peers[0::2], receivers, strict=True)
            ]
            await _phase(senders, receivers, 500, "w", crash)
            elapsed = await _phase(senders, receivers, per_pair, "m", crash)
        finally:
            _close_all(peers)
    return nodes * per_pair / elapsed


async def failover(url: str, trials: int) -> list[float]:
    """Seconds from a kill -9 of a receiver's node to the receiver receiving again on
    another node (its client has both URLs; a sender on the other node sends every 5 ms
    once the node is dead), one figure per trial."""
    from ai_connect.client import BridgeClient
    from ai_connect.client.mailbox import Message

    options = BridgeOptions(db_url=url)
    times: list[float] = []
    async with BridgeProcess(options, "node-b") as b:
        sender = BridgeClient(b.url, "fo-sender", PROJECT)
        await sender.connect()
        try:
            for trial in range(trials):
                async with BridgeProcess(options, f"node-a{trial}") as a:
                    seen = [asyncio.Event(), asyncio.Event()]  # "before", then any "after"

                    def on_item(item: object, seen: list[asyncio.Event] = seen) -> None:
                        if isinstance(item, Message):
                            seen[0 if item.body == "before" else 1].set()

                    receiver = BridgeClient(f"{a.url},{b.url}", f"fo-rx{trial}", PROJECT)
                    receiver.add_listener(on_item)
                    await receiver.connect()
                    try:
                        assert receiver.address is not None
                        await sender.send(receiver.address, "before")
                        await asyncio.wait_for(seen[0].wait(), 10)
                        assert a.proc is not None
                        killed = time.perf_counter()
                        a.proc.kill()
                        n = 0
                        while not seen[1].is_set():
                            n += 1
                            await sender.send(receiver.address, f"after {n}")
                            with contextlib.suppress(TimeoutError):
                                await asyncio.wait_for(seen[1].wait(), 0.005)
                        times.append(time.perf_counter() - killed)
                    finally:
                        await receiver.close()
        finally:
            await sender.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1000, help="latency samples")
    parser.add_argument("--quick", action="store_true", help="small counts: a sanity run")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    messages = 3000 if args.quick else args.messages
    samples = 200 if args.quick else args.samples
    trials = 3 if args.quick else 10
    raise_nofile()
    server = Server()
    figures: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)
        print(f"  {name}: {value:,.2f}", file=sys.stderr, flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="ai-connect-pg-bench-") as tmp:
            for round_ in range(args.rounds):
                print(f"… round {round_ + 1}", file=sys.stderr, flush=True)
                for kind in ("sqlite", "postgres"):
                    store: Store = (
                        SqliteStore(Path(tmp) / f"s{round_}.db")
                        if kind == "sqlite"
                        else PostgresStore(server.new_database())
                    )
                    try:
                        rate, commits = store_run(store, messages)
                        note(f"store {kind} msg/s", rate)
                        note(f"store {kind} commits/s (500 msgs each)", commits)
                        note(f"store {kind} commit of 1 msg (ms)", commit_latency(store, 200))
                    finally:
                        store.close()
                for kind in ("sqlite", "postgres"):
                    url = server.new_database() if kind == "postgres" else None
                    options = BridgeOptions(db_url=url)
                    note(f"bridge 1x1 {kind} msg/s", asyncio.run(bridge_run(options, messages)))
                    p50, p99 = asyncio.run(same_node_latency(options, samples))
                    note(f"latency same node {kind} p50 (ms)", p50)
                    note(f"latency same node {kind} p99 (ms)", p99)
                p50, p99 = asyncio.run(cross_node_latency(server.new_database(), samples))
                note("latency node A -> node B p50 (ms)", p50)
                note("latency node A -> node B p99 (ms)", p99)
                for seconds in asyncio.run(failover(server.new_database(), trials)):
                    note("failover s", seconds)
                for n in (1, 2, 3):
                    rate = asyncio.run(aggregate(server.new_database(), n, messages // n))
                    note(f"aggregate {n} node(s) msg/s", rate)
    finally:
        server.close()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    print(
        f"\nPostgreSQL vs SQLite, {stamp}; {messages:,} messages, median of {args.rounds} "
        f"rounds; PostgreSQL 16 (pgserver, {server.settings}); SQLite synchronous=FULL; "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs\n"
    )
    head = ("figure", "PostgreSQL", "SQLite", "PG / SQLite", "target")
    lines = []
    for figure in (
        "store {} msg/s",
        "store {} commits/s (500 msgs each)",
        "store {} commit of 1 msg (ms)",
        "bridge 1x1 {} msg/s",
        "latency same node {} p50 (ms)",
        "latency same node {} p99 (ms)",
    ):
        pg = statistics.median(figures[figure.format("postgres")])
        lite = statistics.median(figures[figure.format("sqlite")])
        target = ""
        if figure.startswith("bridge"):
            target = f"≥ {TARGET_MSG_S:,} " + ("met" if pg >= TARGET_MSG_S else "MISSED")
        lines.append((figure.format("").replace("  ", " "), f"{pg:,.2f}", f"{lite:,.2f}",
                      f"{pg / lite:.2f}x", target))  # fmt: skip
    for p, limit in (("p50", 3.0), ("p99", 10.0)):
        value = statistics.median(figures[f"latency node A -> node B {p} (ms)"])
        ok = "met" if value <= limit else "MISSED"
        lines.append((f"latency node A -> node B {p} (ms)", f"{value:,.2f}", "", "",
                      f"≤ {limit:g} ms {ok}"))  # fmt: skip
    for n in (1, 2, 3):
        rate = statistics.median(figures[f"aggregate {n} node(s) msg/s"])
        lines.append((f"aggregate, {n} node(s), a 1x1 pair on each (msg/s)", f"{rate:,.0f}",
                      "", "", "2 cores: no scaling expected"))  # fmt: skip
    fo = figures["failover s"]
    ok = "met" if statistics.median(fo) <= 2.0 else "MISSED"
    lines.append((f"failover: back and receiving on another node (s), {len(fo)} kills",
                  f"p50 {statistics.median(fo):.3f}, max {max(fo):.3f}", "", "",
                  f"p50 ≤ 2 s {ok}"))  # fmt: skip
    if args.markdown:
        print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
        print("\n".join("| " + " | ".join(line) + " |" for line in lines))
    else:
        widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
        for line in [head, *lines]:
            print("  ".join(f"{c:<{w}}" for c, w in zip(line, widths, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
