"""PostgreSQL against SQLite on this machine, in the same run (issue 14).

    python bench/pg_bench.py [--messages 30000] [--rounds 2] [--quick] [--markdown]
                             [--variant NAME=VAR=VALUE[;VAR=VALUE]] [--only 1x1,latency]

Starts a private PostgreSQL 16 (the ``pgserver`` package: a Unix socket in a temporary
folder, the server's defaults: fsync on, synchronous_commit on) and, in turn, for each
round:

- the store alone: ``--messages`` appends 1 sender -> 1 recipient committed in batches
  of 500 with one ack each (as bench/store_bench.py), into a fresh SQLite file
  (synchronous=FULL) and a fresh PostgreSQL database: commits/s and messages/s; before
  them, ``--messages`` in commits of 10 into the empty store, the median commit of the
  first and of the last tenth (does a commit cost more as the table grows?); after them,
  200 commits of one message;
- 1x1 durable throughput end to end: ``ai-connect bridge`` started on each database,
  one sender streaming to one receiver that acks (bench/scenarios.py ``throughput``).

Each figure is the median of the rounds, PostgreSQL beside SQLite and their ratio. Not a
test: it prints figures (bench/RESULTS.md).

``--variant before=PYTHONPATH=/tmp/before/src`` adds a column: the same PostgreSQL
measures run with that environment (other code: ``git archive main src | tar -x -C
/tmp/before``) in the same rounds, interleaved, for a before/after in one run; the store
alone then runs in a subprocess with that environment. ``--only`` picks measures:
``store``, ``1x1``, ``latency`` (same node), ``cross`` (node A -> node B), ``cross1x1``
(a 1x1 stream from node A to node B), ``failover``, ``aggregate``. The 1x1 run also
reports CPU per message: the bridge process's and the PostgreSQL server's (all its
processes, from /proc), beside SQLite's bridge.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import shutil
import statistics
import subprocess
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

    def cpu_s(self) -> float:
        """CPU seconds the server has used so far: the postmaster, its live processes,
        and those that ended (reaped: the postmaster's children's time)."""
        ticks = os.sysconf("SC_CLK_TCK")
        pid = int((self.folder / "data" / "postmaster.pid").read_text().split()[0])

        def stat(p: int | str) -> list[str]:
            text = Path(f"/proc/{p}/stat").read_text()
            return text[text.rindex(")") + 2 :].split()

        fields = stat(pid)  # fields[k] is stat field k + 3 (state is field 3)
        total = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != pid:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    child = stat(entry)
                    if int(child[1]) == pid:
                        total += int(child[11]) + int(child[12])
        return total / ticks


def store_run(store: Store, messages: int, first: int = 0) -> tuple[float, float]:
    """(messages/s, commits/s) committing ``messages`` in batches of 500."""
    work = batches(messages, 500, first)
    started = time.perf_counter()
    for batch in work:
        store.commit(batch)
    wall = time.perf_counter() - started
    return messages / wall, len(work) / wall


def commit_latency(store: Store, commits: int, first: int) -> float:
    """Median ms of a commit of one message (the latency floor of a lone send)."""
    work = batches(commits, 1, first)  # new messages (not resends of the ones before)
    times = []
    for batch in work:
        started = time.perf_counter()
        store.commit(batch)
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


async def bridge_run(options: BridgeOptions, messages: int) -> tuple[float, float]:
    """(msg/s, the bridge's CPU µs per message) of a 1x1 stream."""
    rows = await throughput(options, 1, messages)
    rate = next(r.value for r in rows if r.figure == "rate")
    return rate, next(r.value for r in rows if r.figure == "bridge CPU per message")


def store_in_subprocess(url: str, messages: int, env: dict[str, str]) -> dict[str, float]:
    """The store-alone figures of a variant (other code: its environment), measured by
    this script in a subprocess (``--store-only URL``)."""
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--store-only", url, "--messages",
         str(messages)],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def growth(store: Store, messages: int) -> tuple[float, float]:
    """Median ms of a commit of 10 messages into an empty store, at the start and at the
    end of ``messages`` (the first and last tenth of the commits): whether a commit costs
    more as the table grows (plans cached while it was small do)."""
    work = batches(messages, 10)
    times = []
    for batch in work:
        started = time.perf_counter()
        store.commit(batch)
        times.append(time.perf_counter() - started)
    tenth = max(len(times) // 10, 1)
    return 1000 * statistics.median(times[:tenth]), 1000 * statistics.median(times[-tenth:])


def store_figures(store: Store, messages: int) -> dict[str, float]:
    try:
        early, late = growth(store, messages)
        rate, commits = store_run(store, messages, messages)
        one = commit_latency(store, 200, 2 * messages)
        return {"msg/s": rate, "commits/s": commits, "commit": one,
                "commit of 10, early": early, "commit of 10, late": late}  # fmt: skip
    finally:
        store.close()


def _warmup(samples: int) -> int:
    """The messages a latency run sends before it measures (``samples`` after them)."""
    return max(50, samples // 10)


async def cross_node_latency(options: BridgeOptions, samples: int) -> tuple[float, float, float]:
    """(p50, p99) ms of a send on node A delivered to a receiver on node B: two
    ``ai-connect bridge`` processes on one database (``options.db_url``), woken by
    LISTEN/NOTIFY; and the two nodes' CPU µs per message (the wall-clock figures move
    with the machine's other load, the CPU far less)."""
    async with BridgeProcess(options, "node-a") as a, BridgeProcess(options, "node-b") as b:
        crash = _crash()
        receiver = await open_peer(b.url, "lat-receiver", PROJECT, crash)
        sender = await open_peer(a.url, "lat-sender", PROJECT, crash)
        warmup = _warmup(samples)
        used = a.cpu_s() + b.cpu_s()
        try:
            rows = await _latency(a, sender, receiver, samples, warmup)
        finally:
            _close_all([sender, receiver])
        cpu = 1e6 * (a.cpu_s() + b.cpu_s() - used) / (samples + warmup)
    values = {r.figure: r.value for r in rows}
    return values["p50"], values["p99"], cpu


async def cross_node_rate(options: BridgeOptions, messages: int) -> tuple[float, float]:
    """Messages/s of one sender on node A streaming to one receiver on node B that acks
    (as ``1x1``, across two nodes: node A commits the mail, node B the acks and marks),
    and the two nodes' CPU µs per message."""
    async with BridgeProcess(options, "node-a") as a, BridgeProcess(options, "node-b") as b:
        crash = _crash()
        receiver = await open_peer(b.url, "rx", PROJECT, crash)
        sender = await open_peer(a.url, "tx", PROJECT, crash)
        try:
            receivers = [_Receiver(receiver, 100)]
            senders = [_Sender(sender, receiver.address, 1000)]
            await _phase(senders, receivers, 500, "w", crash)
            used = a.cpu_s() + b.cpu_s()
            elapsed = await _phase(senders, receivers, messages, "m", crash)
            cpu = 1e6 * (a.cpu_s() + b.cpu_s() - used) / messages
        finally:
            _close_all([sender, receiver])
    return messages / elapsed, cpu


async def same_node_latency(options: BridgeOptions, samples: int) -> tuple[float, float, float]:
    """(p50, p99) ms of a send delivered on the same node (the reference), and the
    node's CPU µs per message."""
    async with BridgeProcess(options, "node") as a:
        crash = _crash()
        receiver = await open_peer(a.url, "lat-receiver", PROJECT, crash)
        sender = await open_peer(a.url, "lat-sender", PROJECT, crash)
        try:
            rows = await _latency(a, sender, receiver, samples, _warmup(samples))
        finally:
            _close_all([sender, receiver])
    values = {r.figure: r.value for r in rows}
    return values["p50"], values["p99"], values["bridge CPU per message"]


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


MEASURES = ("store", "1x1", "latency", "cross", "cross1x1", "failover", "aggregate")


def _variant(text: str) -> tuple[str, dict[str, str]]:
    name, _, assignments = text.partition("=")
    env = dict(a.split("=", 1) for a in assignments.split(";") if a)
    return name, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--samples", type=int, default=1000, help="latency samples")
    parser.add_argument("--quick", action="store_true", help="small counts: a sanity run")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--variant", action="append", default=[], help="NAME=VAR=VALUE[;...]")
    parser.add_argument("--only", default=",".join(MEASURES), help=",".join(MEASURES))
    parser.add_argument("--store-only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    messages = 3000 if args.quick else args.messages
    if args.store_only:
        print(json.dumps(store_figures(PostgresStore(args.store_only), messages)))
        return 0
    samples = 200 if args.quick else args.samples
    trials = 3 if args.quick else 10
    only = set(args.only.split(","))
    variants = [("postgres", {}), *(_variant(v) for v in args.variant)]
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
                if "store" in only:
                    lite = store_figures(SqliteStore(Path(tmp) / f"s{round_}.db"), messages)
                    for name, value in lite.items():
                        note(f"store sqlite {name}", value)
                    for kind, env in variants:
                        url = server.new_database()
                        got = (
                            store_in_subprocess(url, messages, env)
                            if env
                            else store_figures(PostgresStore(url), messages)
                        )
                        for name, value in got.items():
                            note(f"store {kind} {name}", value)
                for kind, env in [("sqlite", {}), *variants]:

                    def fresh(kind: str = kind, env: dict[str, str] = env) -> BridgeOptions:
                        """A new database for each run: no peers left by the one before."""
                        url = server.new_database() if kind != "sqlite" else None
                        return BridgeOptions(db_url=url, env=tuple(env.items()))

                    if "1x1" in only:
                        options = fresh()
                        used = server.cpu_s()
                        rate, cpu = asyncio.run(bridge_run(options, messages))
                        note(f"bridge 1x1 {kind} msg/s", rate)
                        note(f"bridge 1x1 {kind} bridge CPU per msg (µs)", cpu)
                        if kind != "sqlite":
                            pg_cpu = 1e6 * (server.cpu_s() - used) / messages
                            note(f"bridge 1x1 {kind} PostgreSQL CPU per msg (µs)", pg_cpu)
                    # Per message of a latency run: the warm-up's too (all of PostgreSQL's).
                    sent = samples + _warmup(samples)
                    if "latency" in only:
                        used = server.cpu_s()
                        p50, p99, cpu = asyncio.run(same_node_latency(fresh(), samples))
                        note(f"latency same node {kind} p50 (ms)", p50)
                        note(f"latency same node {kind} p99 (ms)", p99)
                        note(f"latency same node {kind} bridge CPU per msg (µs)", cpu)
                        if kind != "sqlite":
                            pg_cpu = 1e6 * (server.cpu_s() - used) / sent
                            note(f"latency same node {kind} PostgreSQL CPU per msg (µs)", pg_cpu)
                    if "cross" in only and kind != "sqlite":
                        used = server.cpu_s()
                        p50, p99, cpu = asyncio.run(cross_node_latency(fresh(), samples))
                        note(f"latency node A -> node B {kind} p50 (ms)", p50)
                        note(f"latency node A -> node B {kind} p99 (ms)", p99)
                        note(f"latency node A -> node B {kind} both nodes' CPU per msg (µs)", cpu)
                        pg_cpu = 1e6 * (server.cpu_s() - used) / sent
                        note(f"latency node A -> node B {kind} PostgreSQL CPU per msg (µs)", pg_cpu)
                    if "cross1x1" in only and kind != "sqlite":
                        used = server.cpu_s()
                        rate, cpu = asyncio.run(cross_node_rate(fresh(), messages))
                        note(f"node A -> node B 1x1 {kind} msg/s", rate)
                        note(f"node A -> node B 1x1 {kind} both nodes' CPU per msg (µs)", cpu)
                        pg_cpu = 1e6 * (server.cpu_s() - used) / messages
                        note(f"node A -> node B 1x1 {kind} PostgreSQL CPU per msg (µs)", pg_cpu)
                if "failover" in only:
                    for seconds in asyncio.run(failover(server.new_database(), trials)):
                        note("failover s", seconds)
                if "aggregate" in only:
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
    names = [kind for kind, _ in variants]
    shown = ["PostgreSQL" if k == "postgres" else f"PostgreSQL {k}" for k in names]
    head = ("figure", *shown, "SQLite", *(f"{s} / SQLite" for s in shown), "target")
    lines = []

    def median(name: str) -> float | None:
        values = figures.get(name)
        return statistics.median(values) if values else None

    def cell(value: float | None) -> str:
        return "" if value is None else f"{value:,.2f}"

    for figure in (
        "store {} msg/s",
        "store {} commits/s",
        "store {} commit",
        "store {} commit of 10, early",
        "store {} commit of 10, late",
        "bridge 1x1 {} msg/s",
        "bridge 1x1 {} bridge CPU per msg (µs)",
        "bridge 1x1 {} PostgreSQL CPU per msg (µs)",
        "latency same node {} p50 (ms)",
        "latency same node {} p99 (ms)",
        "latency same node {} bridge CPU per msg (µs)",
        "latency same node {} PostgreSQL CPU per msg (µs)",
        "latency node A -> node B {} p50 (ms)",
        "latency node A -> node B {} p99 (ms)",
        "latency node A -> node B {} both nodes' CPU per msg (µs)",
        "latency node A -> node B {} PostgreSQL CPU per msg (µs)",
        "node A -> node B 1x1 {} msg/s",
        "node A -> node B 1x1 {} both nodes' CPU per msg (µs)",
        "node A -> node B 1x1 {} PostgreSQL CPU per msg (µs)",
    ):
        pgs = [median(figure.format(k)) for k in names]
        if all(v is None for v in pgs):
            continue
        lite = median(figure.format("sqlite"))
        ratios = [f"{v / lite:.2f}x" if v is not None and lite else "" for v in pgs]
        target = ""
        if figure.startswith("bridge 1x1 {} msg/s") and pgs[0] is not None:
            target = f"≥ {TARGET_MSG_S:,} " + ("met" if pgs[0] >= TARGET_MSG_S else "MISSED")
        for p, limit in (("p50", 3.0), ("p99", 10.0)):
            if figure == f"latency node A -> node B {{}} {p} (ms)" and pgs[0] is not None:
                target = f"≤ {limit:g} ms " + ("met" if pgs[0] <= limit else "MISSED")
        label = figure.format("").replace("  ", " ")
        if label.startswith("store") and label.endswith("commit"):
            label = "store commit of 1 msg (ms)"
        elif label.endswith("commit of 10, early"):
            label = f"store commit of 10 msgs, table at 0-{messages // 10:,} rows (ms)"
        elif label.endswith("commit of 10, late"):
            label = (
                f"store commit of 10 msgs, table at {messages * 9 // 10:,}-{messages:,} rows (ms)"
            )
        elif label == "store commits/s":
            label = "store commits/s (500 msgs each)"
        lines.append((label, *map(cell, pgs), cell(lite), *ratios, target))
    blank = ("",) * (2 * len(names))
    for n in (1, 2, 3):
        rate = median(f"aggregate {n} node(s) msg/s")
        if rate is not None:
            lines.append((f"aggregate, {n} node(s), a 1x1 pair on each (msg/s)",
                          f"{rate:,.0f}", *blank, "2 cores: no scaling expected"))  # fmt: skip
    fo = figures.get("failover s")
    if fo:
        ok = "met" if statistics.median(fo) <= 2.0 else "MISSED"
        lines.append((f"failover: back and receiving on another node (s), {len(fo)} kills",
                      f"p50 {statistics.median(fo):.3f}, max {max(fo):.3f}", *blank,
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
