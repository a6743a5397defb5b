"""The store alone: CPU and wall time per message of ``commit``, with and without a busy thread.

    python bench/store_bench.py [--messages 20000] [--batch 500] [--synchronous FULL]
                                [--store sqlite|memory] [--markdown]
    python bench/store_bench.py --floor [--rounds 5] [--messages 20000] [--batch 500]

Commits ``--messages`` appends (one sender -> one recipient, the 200-byte prose bodies of
the throughput benchmark) in batches of ``--batch``, with one cumulative ack per batch,
into a fresh database in a temporary directory. Runs twice: alone, then beside a
pure-Python thread that holds the GIL whenever it can (standing in for the bridge's busy
event loop). The second run shows whether the store's SQLite work runs outside the GIL:
if it takes the GIL back per row, each take can wait up to ``sys.getswitchinterval()``.
The process runs with the interpreter settings of ``ai-connect bridge`` on that store
(cli/bridge.py ``tune_process``: a 0.5 ms switch interval), so that the busy
run waits for the GIL as the bridge's store thread does.

Figures: wall time, store-thread CPU µs per message (``time.thread_time``), and the
wall-time ratio busy / alone. Not a test: it prints figures (bench/RESULTS.md).

``--floor``: what SQLite itself costs for the same messages, beside ``SqliteStore.commit``
in alternated rounds (no busy thread). The floor writes the rows a commit writes -- each
message's row, its mailbox entry, the recipient's acked cursor, and its words in the
search index -- with the rows built before the clock starts, one multi-row ``INSERT`` per
table and batch, into the schema ``SqliteStore`` made, in the same journal mode and
``synchronous``. What is left of the store's figure is its own Python: numbering,
checksums, building the rows, the dedup look-up. (The bridge's CPU per message can never
go below this floor plus what its WebSocket library costs per message: bench/RESULTS.md.)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.bridge.store.base import AckOp, AppendOp, Store, StoredMessage, WriteBatch
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from ai_connect.cli.bridge import tune_process
from harness import process_cpu_s
from scenarios import body

SENDER = "Sender (bench)"
RECIPIENT = "Receiver (bench)"


def batches(messages: int, size: int, first: int = 0) -> list[WriteBatch]:
    """The batches to commit, built before timing starts (messages ``first`` on)."""
    out: list[WriteBatch] = []
    for start in range(first, first + messages, size):
        ops = [
            AppendOp(
                StoredMessage(
                    f"id{i}", SENDER, RECIPIENT, body(i), None, None, None, 1.7e9 + i, f"c{i}"
                ),
                (RECIPIENT,),
            )
            for i in range(start, min(start + size, first + messages))
        ]
        out.append(WriteBatch(appends=ops, acks=[AckOp(RECIPIENT, max(start - size, 0))]))
    return out


def child_cpu_s(store: Store) -> float:
    """CPU seconds of the store's own process (``sqlite-process``), else 0."""
    return process_cpu_s(store.pid) if isinstance(store, SqliteProcessStore) else 0.0


def run_once(store: Store, work: list[WriteBatch], busy: bool) -> tuple[float, float, float]:
    """(wall s, store-thread CPU s, store-process CPU s) of committing ``work``,
    optionally beside a busy thread."""
    stop = threading.Event()

    def spin() -> None:
        n = 0
        while not stop.is_set():
            n += 1

    spinner = threading.Thread(target=spin, daemon=True)
    if busy:
        spinner.start()
    try:
        wall, cpu, child = time.perf_counter(), time.thread_time(), child_cpu_s(store)
        for batch in work:
            store.commit(batch)
        return (
            time.perf_counter() - wall,
            time.thread_time() - cpu,
            child_cpu_s(store) - child,
        )
    finally:
        stop.set()
        if busy:
            spinner.join(timeout=10)


def floor_round(path: Path, messages: int, size: int, synchronous: str) -> float:
    """SQLite's CPU seconds for ``messages`` appends and acks in batches of ``size``, the
    rows pre-built, in a fresh database with the store's schema (see ``--floor``)."""
    SqliteStore(path, synchronous=synchronous).close()  # the schema, as the bridge makes it
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {synchronous}")
        db.execute(
            "INSERT INTO peers (address, name, project, first_seen, last_seen) "
            "VALUES (?, 'Receiver', 'bench', 0, 0)",
            (RECIPIENT,),
        )
        # Rows per INSERT: as many as SQLite takes parameters for (a large --batch is split).
        most = db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 10
        work = []
        for start in range(0, messages, size):
            statements: list[tuple[str, Sequence[object]]] = []
            batch = range(start + 1, min(start + size, messages) + 1)
            for first in range(0, len(batch), most):
                ns = batch[first : first + most]
                rows = [
                    (n, f"id{n}", SENDER, f"c{n}", RECIPIENT, body(n), 1.7e9 + n, n & 0xFFFF, 0, 0)
                    for n in ns
                ]
                statements += [
                    (_values(_INSERT_MESSAGES, len(ns), 10), [v for row in rows for v in row]),
                    (
                        _values(_INSERT_MAILBOX, len(ns), 3),
                        [v for n in ns for v in (RECIPIENT, n, n)],
                    ),
                ]
            statements += [
                (_INDEX, (batch[0], batch[-1])),
                (_ACK, (max(start - size, 0), RECIPIENT)),
            ]
            work.append(statements)
        cpu = time.thread_time()
        for statements in work:
            db.execute("BEGIN")
            for sql, params in statements:
                db.execute(sql, params)
            db.execute("COMMIT")
        return time.thread_time() - cpu
    finally:
        db.close()


_INSERT_MESSAGES = (
    "INSERT INTO messages (n, id, sender, cid, target, body, ts, checksum, human, receipt) "
)
_INSERT_MAILBOX = "INSERT INTO mailbox (recipient, seq, n) "
_INDEX = (
    "INSERT INTO messages_fts (rowid, body) SELECT n, body FROM messages WHERE n BETWEEN ? AND ?"
)
_ACK = "UPDATE peers SET acked = ? WHERE address = ?"


def _values(head: str, rows: int, columns: int) -> str:
    return head + "VALUES " + ", ".join(["(" + ", ".join("?" * columns) + ")"] * rows)


def floor(args: argparse.Namespace) -> int:
    """``--floor``: the store's commit and SQLite's floor, alternated round by round."""
    stores, floors = [], []
    with tempfile.TemporaryDirectory(prefix="ai-connect-store-bench-") as tmp:
        for i in range(args.rounds):
            store = SqliteStore(Path(tmp) / f"store{i}.db", synchronous=args.synchronous)
            try:
                stores.append(run_once(store, batches(args.messages, args.batch), False)[1])
            finally:
                store.close()
            path = Path(tmp) / f"floor{i}.db"
            floors.append(floor_round(path, args.messages, args.batch, args.synchronous))
    n = args.messages
    print(
        f"store sqlite, synchronous={args.synchronous}; {n:,} messages in batches of "
        f"{args.batch}; {args.rounds} rounds alternated, median (range) CPU per message"
    )
    print("| | µs of CPU per message |\n|---|---|")
    for name, figures in (
        ("`SqliteStore.commit`", stores),
        ("floor: SQLite alone, the same rows pre-built", floors),
    ):
        us = sorted(f / n * 1e6 for f in figures)
        print(f"| {name} | {statistics.median(us):.1f} ({us[0]:.1f} to {us[-1]:.1f}) |")
    ratio = statistics.median(stores) / statistics.median(floors)
    print(f"| ratio | {ratio:.2f}x |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "sqlite-process", "memory"])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--floor", action="store_true", help="SQLite's own share (see above)")
    parser.add_argument("--rounds", type=int, default=5, help="with --floor")
    args = parser.parse_args(argv)
    tune_process(sqlite=True)  # as the bridge on SQLite or in memory (not PostgreSQL)
    if args.floor:
        if args.store != "sqlite":
            parser.error("--floor measures SqliteStore beside SQLite alone: leave --store out")
        return floor(args)
    rows: list[tuple[str, float, float, float]] = []
    with tempfile.TemporaryDirectory(prefix="ai-connect-store-bench-") as tmp:
        for busy in (False, True):
            path = Path(tmp) / f"{'busy' if busy else 'alone'}.db"
            store: Store
            if args.store == "memory":
                store = MemoryStore()
            elif args.store == "sqlite-process":
                store = SqliteProcessStore(path, synchronous=args.synchronous)
            else:
                store = SqliteStore(path, synchronous=args.synchronous)
            try:
                wall, cpu, child = run_once(store, batches(args.messages, args.batch), busy)
            finally:
                store.close()
            rows.append(("beside a busy thread" if busy else "alone", wall, cpu, child))
    n = args.messages
    head = f"store {args.store}"
    if args.store != "memory":
        head += f", synchronous={args.synchronous}"
    interval = sys.getswitchinterval() * 1000
    print(f"{head}; {n:,} messages in batches of {args.batch}; switch interval {interval:g} ms")
    lines = [("run", "wall", "store CPU per message", "of which its process")]
    lines += [
        (name, f"{wall:.3f} s", f"{(cpu + child) / n * 1e6:.1f} µs", f"{child / n * 1e6:.1f} µs")
        for name, wall, cpu, child in rows
    ]
    lines.append(("busy / alone (wall)", f"{rows[1][1] / rows[0][1]:.1f} times", "", ""))
    if args.markdown:
        print("| " + " | ".join(lines[0]) + " |\n|---|---|---|---|")
        print("\n".join("| " + " | ".join(line) + " |" for line in lines[1:]))
    else:
        for line in lines:
            print(f"{line[0]:<22}{line[1]:>10}  {line[2]:>22}  {line[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
