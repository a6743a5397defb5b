"""Benchmarks of receipts and the observer feed (issue 12): how fast each reaches its reader.

    python bench/receipts_bench.py [--samples N] [--observers K] [--store sqlite|memory]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database). This
process holds the clients, on one event loop: a sender ``Alice`` whose sends ask for
receipts, a recipient ``Bob``, and ``K`` observers (``hello`` mode ``observe``, each
iterating ``BridgeClient.observe()`` in its own task). For each sample Alice sends one
message and the clock (``perf_counter``, the same for all clients) marks:

- **receipt**: from the moment Bob's ack leaves (``ack(path="tool")``, after Bob got the
  message) until Alice holds the ``receipt`` notice (``wait_receipts``);
- **feed**: from the moment Alice holds ``accepted`` until each observer has the
  ``message`` event from ``observe()`` (the event is sent with ``accepted``, so this
  can be negative: it is the difference between two deliveries of the same commit);
  and from the moment Alice issued the send until the observer has it;

and, as the reference in the same run: a ``ping`` round trip of Bob's (the least any
notice through the bridge costs: one frame each way through the same loop), and
Alice's send -> ``accepted`` (the commit every feed message waits for). Targets: a
receipt within 100 ms of the ack; a message in the feed within 50 ms of acceptance.
Every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.client import BridgeClient
from ai_connect.protocol import FeedEvent, Ping, Pong
from harness import BridgeOptions, BridgeProcess

PROJECT = "bench"
WAIT_S = 10.0
TARGETS = {
    "receipt: Bob's ack sent -> Alice has the receipt": "<= 100 ms",
    "feed: accepted -> observer has the message": "<= 50 ms",
}

Row = tuple[str, int, float, float, float, str]


def _row(label: str, values_s: list[float]) -> Row:
    ms = sorted(v * 1000 for v in values_s)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return (label, len(ms), statistics.median(ms), p95, ms[-1], TARGETS.get(label, "reference"))


async def _watch(
    client: BridgeClient, seen: dict[str, list[float]], changed: asyncio.Event
) -> None:
    """Marks when each message event comes out of ``observe()``."""
    async for item in client.observe():
        if isinstance(item, FeedEvent) and item.kind == "message" and item.message is not None:
            seen.setdefault(item.message.id, []).append(time.perf_counter())
            changed.set()


async def _ping(client: BridgeClient) -> float:
    begun = time.perf_counter()
    await client._request(Ping(rid=client._rid()), Pong)  # the bare round trip
    return time.perf_counter() - begun


async def main(samples: int, observers: int, store: str) -> list[Row]:
    async with BridgeProcess(BridgeOptions(store=store), "receipts") as bridge:
        alice = BridgeClient(bridge.url, "Alice", PROJECT, receipts=True)
        bob = BridgeClient(bridge.url, "Bob", PROJECT)
        ops = [
            BridgeClient(bridge.url, f"Ops{i}", PROJECT, mode="observe") for i in range(observers)
        ]
        for client in (alice, bob, *ops):
            await client.connect()
        seen: dict[str, list[float]] = {}
        changed = asyncio.Event()
        watchers = [asyncio.create_task(_watch(o, seen, changed)) for o in ops]
        receipt, feed_accepted, feed_issued, ping, commit = [], [], [], [], []
        for i in range(samples + 5):  # the first five warm up
            issued = time.perf_counter()
            sent = await alice.send(f"Bob ({PROJECT})", f"sample {i}")
            accepted = time.perf_counter()
            (message,) = await asyncio.wait_for(bob.wait(WAIT_S), WAIT_S)
            acking = time.perf_counter()
            await bob.ack([message], wait=False, path="tool")
            got = await alice.wait_receipts(WAIT_S)
            shown = time.perf_counter()
            if not got or got[0].id != sent.id:
                raise RuntimeError(f"no receipt for {sent.id} within {WAIT_S} s: {got}")
            while len(seen.get(str(sent.id), [])) < observers:
                changed.clear()
                try:
                    await asyncio.wait_for(changed.wait(), WAIT_S)
                except TimeoutError:
                    raise RuntimeError(f"an observer missed {sent.id}") from None
            rtt = await _ping(bob)
            if i < 5:
                continue
            receipt.append(shown - acking)
            commit.append(accepted - issued)
            ping.append(rtt)
            for at in seen.pop(str(sent.id)):
                feed_accepted.append(at - accepted)
                feed_issued.append(at - issued)
        for task in watchers:
            task.cancel()
        for client in (alice, bob, *ops):
            await client.close()
        return [
            _row("receipt: Bob's ack sent -> Alice has the receipt", receipt),
            _row("feed: accepted -> observer has the message", feed_accepted),
            _row("feed: send issued -> observer has the message", feed_issued),
            _row("ping round trip (reference: one frame each way)", ping),
            _row("send issued -> accepted (reference: the commit)", commit),
        ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--observers", type=int, default=2)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    table = asyncio.run(main(args.samples, args.observers, args.store))
    print(
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC · store {args.store} · "
        f"{args.observers} observers · load {load:.2f} → {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} cores"
    )
    print("| measure | n | p50 ms | p95 ms | max ms | target |")
    print("|---|---|---|---|---|---|")
    for label, n, p50, p95, top, target in table:
        print(f"| {label} | {n} | {p50:.2f} | {p95:.2f} | {top:.2f} | {target} |")
