"""Issue 13's table in one command: the bridge beside reference relays, interleaved.

    python bench/compare.py [--rounds 3] [--quick] [--store sqlite|memory]
                            [--targets bridge,websockets-relay,picows-relay]
                            [--variant NAME=VAR=VALUE[;VAR=VALUE]] [--only 1x1,latency]

Runs every measure of issue 13 against the bridge (SQLite ``synchronous=FULL`` unless
``--store``) and the two reference relays of bench/relays.py, all driven by the same
load generator (bench/wire.py). The runs alternate: round 1 runs each measure on each
target in turn, then round 2, and so on; each cell is the median of the rounds. Then it
prints a markdown table, ready for bench/RESULTS.md, with every bridge figure as a ratio
to the websockets relay measured in the same run, and what else used the machine's
cores meanwhile (wall-clock figures depend on it; CPU per message and ratios much less).

``--variant before=PYTHONPATH=/tmp/before/src`` adds a target: the bridge started with
that environment (here: other code, e.g. ``git archive main src | tar -x -C
/tmp/before``), run in the same rounds as the others, for a before/after in one
interleaved run; name it in ``--targets`` to order it (by default variants come first).

Measures (definitions: bench/README.md): throughput 1x1 and 10x10 (messages delivered
and acked per second) with the server's CPU per message, split into its event loop and
its other threads (the store); latency 1→1 p50/p99, beside the floor of one durable
SQLite commit on this disk in the same round; broadcast to 500 online; a backlog of
100,000 to an offline peer (fill rate, drain rate, RSS); 10,000 idle peers.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import statistics
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BridgeOptions, OtherLoad, raise_nofile
from run import table as run_table
from scenarios import Row, backlog, body, broadcast, latency, register, throughput

TARGETS = ("bridge", "websockets-relay", "picows-relay")
REFERENCE = "websockets-relay"
TIME_LIMIT_S = 900

Run = Callable[[BridgeOptions], Coroutine[Any, Any, list[Row]]]


@dataclass(frozen=True)
class Measure:
    """One line of the table: which run, which row of it, how to show it."""

    label: str
    run: str
    bench: str
    figure: str
    unit: str
    target: str = ""
    higher_is_better: bool = False


async def commit_floor(options: BridgeOptions, commits: int = 300) -> list[Row]:
    """The durable commit alone, as the machine's disk gives it now: one 200-byte row per
    transaction in a fresh SQLite file (WAL, synchronous=FULL), the bridge's settings.
    Latency 1→1 cannot be lower than this (the bridge answers after the commit)."""
    import sqlite3
    import tempfile
    import time

    with tempfile.TemporaryDirectory(prefix="ai-connect-floor-") as tmp:
        db = sqlite3.connect(os.path.join(tmp, "floor.db"), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            db.execute("CREATE TABLE t (body TEXT)")
            walls = []
            cpu = time.process_time()
            for i in range(commits):
                started = time.perf_counter()
                db.execute("BEGIN")
                db.execute("INSERT INTO t VALUES (?)", (body(i),))
                db.execute("COMMIT")
                walls.append((time.perf_counter() - started) * 1000)
            cpu = (time.process_time() - cpu) / commits * 1e6
        finally:
            db.close()
    name = "commit floor"
    return [
        Row(name, "p50", statistics.median(walls), "ms"),
        Row(name, "CPU per commit", cpu, "µs"),
    ]


def runs(quick: bool) -> dict[str, Run]:
    """The runs, by name; each returns the Rows its measures pick from."""
    one, ten, samples, peers, count, rounds = (
        (3000, 500, 300, 1000, 10_000, 5) if quick else (30_000, 5000, 2000, 10_000, 100_000, 20)
    )
    return {
        "1x1": lambda o: throughput(o, 1, one),
        "10x10": lambda o: throughput(o, 10, ten),
        "floor": commit_floor,
        "latency": lambda o: latency(o, samples, samples // 10),
        "broadcast": lambda o: broadcast(o, 500, rounds),
        "backlog": lambda o: backlog(o, count),
        "idle": lambda o: register(o, peers),
    }


def measures(quick: bool) -> list[Measure]:
    n_idle, n_backlog = ("1,000", "10,000") if quick else ("10,000", "100,000")
    bl = f"backlog of {n_backlog}"
    idle = f"register {n_idle.replace(',', '')} idle peers"
    return [
        Measure("1x1 durable msg/s", "1x1", "throughput 1x1", "rate", "msg/s", "≥ 40,000", True),
        Measure("CPU per message, 1x1", "1x1", "throughput 1x1", "bridge CPU per message",
                "µs", "≤ 25"),
        Measure("  of which event loop", "1x1", "throughput 1x1", "  of which event loop", "µs"),
        Measure("  of which store thread", "1x1", "throughput 1x1", "  of which store thread",
                "µs"),
        Measure("  of which store process", "1x1", "throughput 1x1",
                "  of which store process", "µs"),
        Measure("  load generator CPU, % of a core", "1x1", "throughput 1x1",
                "load generator CPU (% of one core)", "%"),
        Measure("10x10 aggregate msg/s", "10x10", "throughput 10x10", "rate (aggregate)",
                "msg/s", "≥ 40,000", True),
        Measure("CPU per message, 10x10", "10x10", "throughput 10x10",
                "bridge CPU per message", "µs"),
        Measure("  of which event loop", "10x10", "throughput 10x10", "  of which event loop",
                "µs"),
        Measure("  of which store thread", "10x10", "throughput 10x10",
                "  of which store thread", "µs"),
        Measure("  of which store process", "10x10", "throughput 10x10",
                "  of which store process", "µs"),
        Measure("  load generator CPU, % of a core", "10x10", "throughput 10x10",
                "load generator CPU (% of one core)", "%"),
        Measure("latency 1→1 p50", "latency", "latency 1→1", "p50", "ms", "≤ 0.5"),
        Measure("latency 1→1 p99", "latency", "latency 1→1", "p99", "ms", "≤ 2"),
        Measure("  floor: one SQLite FULL commit, p50", "floor", "commit floor", "p50", "ms"),
        Measure("CPU per message, latency run", "latency", "latency 1→1",
                "bridge CPU per message", "µs"),
        Measure("broadcast to 500 online (median)", "broadcast", "broadcast to 500",
                "median, send → last receiver has it", "ms", "≤ 10"),
        Measure("  of which load generator CPU", "broadcast", "broadcast to 500",
                "of which load generator CPU (median)", "ms"),
        Measure("  bridge CPU per broadcast (its deliveries and acks)", "broadcast",
                "broadcast to 500", "bridge CPU per broadcast (its deliveries and acks)", "ms"),
        Measure(f"{bl}: fill (sends accepted)", "backlog", bl,
                "fill: sends accepted into an offline mailbox", "msg/s", "", True),
        Measure(f"{bl}: drain rate", "backlog", bl, "drain rate", "msg/s", "≥ 100,000", True),
        Measure(f"{bl}: drain CPU per message", "backlog", f"{bl} drain",
                "bridge CPU per message", "µs"),
        Measure(f"{bl}: RSS before the drain", "backlog", bl, "bridge RSS, backlog written",
                "MB"),
        Measure(f"{bl}: RSS peak during the drain", "backlog", bl,
                "bridge RSS, peak during the drain", "MB", "flat"),
        Measure(f"{n_idle} idle peers: time", "idle", idle, "total time", "s", "≤ 4"),
        Measure(f"{n_idle} idle peers: RSS per peer", "idle", idle, "RSS per peer", "KB",
                "≤ 16"),
        Measure("  server CPU per registration", "idle", idle, "server CPU per peer", "µs"),
        Measure("  load generator CPU, % of a core", "idle", idle,
                "load generator CPU (% of one core)", "%"),
    ]  # fmt: skip


def pick(rows: list[Row], bench: str, figure: str) -> float | None:
    for row in rows:
        if row.bench == bench and row.figure == figure:
            return row.value
    return None


def shown(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("ms", "s"):
        return f"{value:,.2f}"
    if unit in ("MB", "KB", "%"):
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def bridge_like(target: str, variants: dict[str, dict[str, str]]) -> bool:
    return target == "bridge" or target in variants


async def run_all(
    targets: list[str],
    store: str,
    rounds: int,
    quick: bool,
    variants: dict[str, dict[str, str]] | None = None,
    only: set[str] | None = None,
) -> tuple[dict[tuple[str, str], list[list[Row]]], list[str]]:
    """Every run on every target, interleaved; results[(run, target)] = rows per round."""
    results: dict[tuple[str, str], list[list[Row]]] = {}
    failures: list[str] = []
    variants = variants or {}
    plan = {k: v for k, v in runs(quick).items() if only is None or k in only or k == "floor"}
    for round_no in range(1, rounds + 1):
        for name, factory in plan.items():
            for target in targets if name != "floor" else targets[:1]:
                env = tuple(variants.get(target, {}).items())
                kind = "bridge" if target in variants else target
                options = BridgeOptions(store=store, target=kind, env=env)
                print(f"… round {round_no}: {name} on {target}", file=sys.stderr, flush=True)
                try:
                    rows = await asyncio.wait_for(factory(options), TIME_LIMIT_S)
                except Exception as exc:  # one failure must not hide the other figures
                    failures.append(f"round {round_no} {name} on {target}: {exc!r}")
                    print(f"  FAILED: {exc!r}", file=sys.stderr, flush=True)
                    continue
                results.setdefault((name, target), []).append(rows)
                print(run_table(rows, markdown=False), file=sys.stderr, flush=True)
    return results, failures


def table(
    results: dict[tuple[str, str], list[list[Row]]],
    targets: list[str],
    quick: bool,
    variants: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    variants = variants or {}
    names = {"bridge": "ai-connect bridge", "websockets-relay": "websockets relay",
             "picows-relay": "picows relay"}  # fmt: skip
    head = ["measure", *(names.get(t, t) for t in targets)]
    ratios = [t for t in targets if bridge_like(t, variants)] if REFERENCE in targets else []
    head += [f"{names.get(t, t)} ÷ websockets relay" for t in ratios]
    head.append("target (issue 13)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in measures(quick):
        if not any((m.run, t) in results for t in targets):
            continue
        cells, medians = [], {}
        for target in targets:
            values = [
                v
                for rows in results.get((m.run, target), [])
                if (v := pick(rows, m.bench, m.figure)) is not None
            ]
            medians[target] = statistics.median(values) if values else None
            cells.append(shown(medians[target], m.unit) + (f" {m.unit}" if values else ""))
        for t in ratios:
            b, r = medians.get(t), medians.get(REFERENCE)
            cells.append(f"{b / r:.2f}x" if b is not None and r else "—")
        lines.append("| " + " | ".join([m.label, *cells, m.target]) + " |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="small counts: a sanity run")
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "memory"])
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=VAR=VALUE[;VAR=VALUE]",
        help="one more target: the bridge with this environment (repeatable)",
    )
    parser.add_argument("--only", default="", help="these runs only, e.g. 1x1,latency")
    args = parser.parse_args(argv)
    variants: dict[str, dict[str, str]] = {}
    for spec in args.variant:
        name, _, assignments = spec.partition("=")
        variants[name] = dict(a.split("=", 1) for a in assignments.split(";") if a)
    targets = [t for t in args.targets.split(",") if t]
    targets = [v for v in variants if v not in targets] + targets
    only = {r for r in args.only.split(",") if r} or None
    raise_nofile()
    others = OtherLoad()
    load_before = os.getloadavg()
    started = datetime.datetime.now().astimezone()
    results, failures = asyncio.run(
        run_all(targets, args.store, args.rounds, args.quick, variants, only)
    )
    minutes = (datetime.datetime.now().astimezone() - started).total_seconds() / 60
    load_after = os.getloadavg()
    store = "memory" if args.store == "memory" else "SQLite synchronous=FULL"
    print(
        f"\nbench/compare.py, {started:%Y-%m-%d %H:%M %Z}, {minutes:.0f} min; median of "
        f"{args.rounds} interleaved rounds; bridge store: {store}; {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; load average {load_before[0]:.2f} at the "
        f"start, {load_after[0]:.2f} at the end; {others.summary()}"
        + ("; QUICK (small counts)" if args.quick else "")
        + "\n"
    )
    for name, env in variants.items():
        print(f"variant {name}: the bridge with {env}")
    print("\n".join(table(results, targets, args.quick, variants)))
    for failure in failures:
        print(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
