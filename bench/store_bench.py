"""The store alone: CPU and wall time per message of ``commit``, with and without a busy thread.

    python bench/store_bench.py [--messages 20000] [--batch 500] [--synchronous FULL]
                                [--store sqlite|memory] [--markdown]

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
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--store", default="sqlite", choices=["sqlite", "sqlite-process", "memory"])
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    tune_process(sqlite=True)  # as the bridge on SQLite or in memory (not PostgreSQL)
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
