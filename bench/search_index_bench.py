"""The SQLite search index kept behind the commits (store/sqlite/search_index.py, issue 13).

    python bench/search_index_bench.py [--commits N] [--rounds R]

Three figures, each beside its reference measured in the same run:

1. a one-message commit (the previous message's ack with it, as a lone message's commit
   is), writer CPU and wall p50: indexed later (the default) against indexed in the
   commit (``INDEX_MOST = 0``: every commit indexes what it stored, as before), rounds
   interleaved;
2. the idle indexing, CPU per message, by how many wait;
3. a search while ``INDEX_BATCH - 1`` messages wait for the index (matched in Python)
   against the same search once they are indexed: a word in every message, a word in
   none (the whole tail is looked at).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ai_connect.bridge.store.base import AckOp, AppendOp, PeerRecord, StoredMessage, WriteBatch
from ai_connect.bridge.store.sqlite import SqliteStore, search_index

ALICE, BOB = "Alice (bench)", "Bob (bench)"
BODY = "hello number {i}: the deploy of version {v} is done, tests are green, see the log"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def message(i: int) -> StoredMessage:
    body = BODY.format(i=i, v=i % 7)
    return StoredMessage(f"m{i}", ALICE, BOB, body, None, None, None, time.time(), f"c{i}")


def lone_commits(store: SqliteStore, start: int, count: int) -> tuple[float, float]:
    """Writer CPU (µs) per commit and wall p50 (ms) of ``count`` one-message commits."""
    walls: list[float] = []
    cpu = time.thread_time()
    for i in range(start, start + count):
        acks = [AckOp(BOB, i - 1)] if i > 1 else []
        began = time.perf_counter()
        store.commit(WriteBatch(appends=[AppendOp(message(i), (BOB,))], acks=acks))
        walls.append(time.perf_counter() - began)
    return 1e6 * (time.thread_time() - cpu) / count, 1e3 * statistics.median(walls)


def commit_figures(commits: int, rounds: int) -> list[str]:
    results: dict[str, list[tuple[float, float]]] = {"indexed later": [], "in the commit": []}
    for _ in range(rounds):
        for name, most in (("indexed later", search_index.INDEX_MOST), ("in the commit", 0)):
            saved = search_index.INDEX_MOST
            search_index.INDEX_MOST = most
            try:
                with tempfile.TemporaryDirectory() as folder:
                    store = SqliteStore(Path(folder) / "b.db", clock=Clock())
                    store.commit(WriteBatch(peers=[PeerRecord(BOB, "Bob", "bench", 1, 1)]))
                    lone_commits(store, 1, 200)  # warm up
                    results[name].append(lone_commits(store, 201, commits))
                    store.close()
            finally:
                search_index.INDEX_MOST = saved
    lines = ["| one-message commit | writer CPU per commit (µs) | wall p50 (ms) | rounds (CPU) |"]
    lines.append("|---|---|---|---|")
    for name, runs in results.items():
        cpu = statistics.median(r[0] for r in runs)
        wall = statistics.median(r[1] for r in runs)
        each = " / ".join(f"{r[0]:,.0f}" for r in runs)
        lines.append(f"| {name} | {cpu:,.0f} | {wall:.2f} | {each} |")
    return lines


def indexing_figures() -> list[str]:
    lines = ["| messages waiting | idle indexing CPU per message (µs) | its transaction (ms) |"]
    lines.append("|---|---|---|")
    for size in (1, 16, 64, 256, 1024):
        clock = Clock()
        with tempfile.TemporaryDirectory() as folder:
            store = SqliteStore(Path(folder) / "b.db", clock=clock)
            cpus, walls = [], []
            for rep in range(4):
                base = rep * size
                ops = [AppendOp(message(base + i + 1), (BOB,)) for i in range(size)]
                store.commit(WriteBatch(appends=ops))
                clock.now += 10
                cpu, began = time.thread_time(), time.perf_counter()
                assert store.upkeep() is None
                walls.append(time.perf_counter() - began)
                cpus.append(time.thread_time() - cpu)
            store.close()
        cpu = statistics.median(cpus[1:])  # the first one also warms the statements up
        wall = 1e3 * statistics.median(walls[1:])
        lines.append(f"| {size} | {1e6 * cpu / size:,.0f} | {wall:.2f} |")
    return lines


def search_figures() -> list[str]:
    waiting = search_index.INDEX_BATCH - 1
    clock = Clock()
    lines = [f"| search, 20 at most | tail of {waiting} in Python (ms) | from the index (ms) |"]
    lines.append("|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        store = SqliteStore(Path(folder) / "b.db", clock=clock)
        store.commit(WriteBatch(appends=[AppendOp(message(i), (BOB,)) for i in range(waiting)]))

        def best(query: str) -> float:
            times = []
            for _ in range(7):
                began = time.perf_counter()
                store.search(BOB, query, 20)
                times.append(time.perf_counter() - began)
            return 1e3 * min(times)

        queries = {"a word in every message": "deploy", "a word in none": "nowhere"}
        tail = {name: best(q) for name, q in queries.items()}
        clock.now += 10
        assert store.upkeep() is None
        for name, query in queries.items():
            lines.append(f"| {name} | {tail[name]:.2f} | {best(query):.2f} |")
        store.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"search index behind the commits, {started}, SQLite synchronous=FULL\n")
    for lines in (commit_figures(args.commits, args.rounds), indexing_figures(), search_figures()):
        print("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
