"""What recording a shown message costs a client (``Keep.see``, issue 13): by ids kept.

    python bench/keep_bench.py [--samples N] [--kept 0,1000,10000]

Every surface that shows a message to an agent (``peer_read``/``peer_wait`` in
``ai-connect mcp``, the hooks, ``ai-connect read``/``wait``) records its id in the
client's file before its ack goes out and before the agent has it (docs/protocol.md
§7.1): the cost sits on the way of every message to the model, on the MCP server's event
loop. Per mailbox the file keeps the newest 10,000 ids. For each fill this prints the
p50/p95 of one ``see()`` of one id, and beside it, in the same file and the same run,
the floor: one row inserted in a table of its own and committed (``synchronous=FULL``,
as ``see()``), which is the fsync every record pays. Run it against another checkout with
``PYTHONPATH=<its src>`` for a before/after.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ai_connect.client.keep import REMEMBER, Keep

MAILBOX = "ws://127.0.0.1:8765 bob (bench)"


def _fill(keep: Keep, kept: int) -> None:
    """``kept`` ids in the mailbox, 500 a record (not timed)."""
    done = 0
    while done < kept:
        n = min(500, kept - done)
        keep.see(MAILBOX, [uuid.uuid4().hex for _ in range(n)])
        done += n


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95)] * 1000


def measure(kept: int, samples: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """(``see`` p50/p95, floor p50/p95) in ms, interleaved one by one."""
    with tempfile.TemporaryDirectory(prefix="ai-connect-keep-bench-") as tmp:
        keep = Keep(Path(tmp))
        _fill(keep, kept)
        db = keep._open()
        db.execute("CREATE TABLE floor (id TEXT PRIMARY KEY, at REAL NOT NULL) WITHOUT ROWID")
        see, floor = [], []
        for _ in range(samples):
            start = time.perf_counter()
            keep.see(MAILBOX, [uuid.uuid4().hex])
            see.append(time.perf_counter() - start)
            start = time.perf_counter()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO floor VALUES (?, ?)", (uuid.uuid4().hex, time.time()))
            db.execute("COMMIT")
            floor.append(time.perf_counter() - start)
        keep.close()
        return _ms(see), _ms(floor)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--kept", default=f"0,1000,{REMEMBER}")
    args = parser.parse_args()
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Keep.see, one id; {when}; load {load}; {args.samples} samples per fill")
    print("| ids kept | see() p50 ms | p95 | floor: insert + commit p50 ms | p95 | see / floor |")
    print("|---|---|---|---|---|---|")
    for kept in (int(k) for k in args.kept.split(",")):
        (see50, see95), (floor50, floor95) = measure(kept, args.samples)
        print(
            f"| {kept:,} | {see50:.3f} | {see95:.3f} | {floor50:.3f} | {floor95:.3f} "
            f"| {see50 / floor50:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
