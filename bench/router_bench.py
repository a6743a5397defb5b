"""The router alone: the event loop's Python per 1x1 message, without I/O (issue 13).

``compare.py`` finds the bridge's event loop spending ~20 µs per 1x1 message, a figure
that moves by several per cent between runs on this shared machine. This measures the part
of it that is the bridge's own logic: what the server runs on its loop for a message
between the socket and the store — ``decode_hot``, the router (``bridge/core.py`` and its
parts) for the ``send``, ``write_batch`` and ``committed`` around the commit, the router
again for the commit's answer (its ``accepted`` and ``deliver`` frames encoded), and the
receiver's acks — on a MemoryStore, with no sockets, threads nor event loop (the store's
commit is not timed). Its rounds agree to 1-2 %, so a change of a few per cent to the hot
path shows; runs minutes apart move by up to ~5 % with the machine, as the floor does:
compare a change by alternating runs of both versions (``PYTHONPATH=<the other src>``).

Per round: Alice sends ``--batch`` messages to Bob (JSON text, as the server reads
them), they are committed as one batch, the commit's answer goes back to the router, and
Bob acks every 100 deliveries (as ``scenarios.py`` receivers do); rate limits are off, as
in ``run.py``'s capacity runs. Beside it, in the same
run and alternated with it: the floor, the codec work any bridge does per message
whatever its design (decode one ``send``, encode one ``accepted`` and one ``deliver``).

    .venv/bin/python bench/router_bench.py [--rounds 7] [--messages 30000] [--batch 500]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests.bridge.helpers import addr, pair  # noqa: E402

from ai_connect.bridge.batch import committed, write_batch  # noqa: E402
from ai_connect.bridge.events import Action, FrameReceived, Persist, Send  # noqa: E402
from ai_connect.protocol.hot import (  # noqa: E402
    HotSend,
    accepted_data,
    decode_hot,
    deliver_data,
    deliver_tail,
)

ACK_EVERY = 100
BODY = "x" * 200  # as scenarios.py sends
_DELIVER = b'{"type":"deliver"'


def _sends(count: int, to: str) -> list[str]:
    return [
        json.dumps({"type": "send", "rid": i, "cid": f"c{i}", "to": to, "body": BODY})
        for i in range(count)
    ]


def router_round(messages: int, batch: int) -> float:
    """µs of CPU per message the loop's steps take, on a fresh pair of peers."""
    bridge = pair(rate_per_s=0, token_rate_per_s=0)  # as run.py's capacity runs (README)
    router, store, now = bridge.router, bridge.store, bridge.now
    max_bytes = bridge.config.limits.max_frame_bytes
    frames = _sends(messages, addr("Bob"))
    delivered = acked = 0
    spent = 0.0

    def deliveries(actions: list[Action]) -> int:
        return sum(
            1
            for a in actions
            if isinstance(a, Send) and a.conn == 2 and a.data and a.data.startswith(_DELIVER)
        )

    for start in range(0, messages, batch):
        begun = time.process_time()
        persists: list[Persist] = []
        for raw in frames[start : start + batch]:
            for action in router.handle(FrameReceived(1, decode_hot(raw, max_bytes), now)):
                if isinstance(action, Persist):
                    persists.append(action)
        written = write_batch(persists)
        spent += time.process_time() - begun
        result = store.commit(written)  # the store's thread, not the loop: not timed
        begun = time.process_time()
        delivered += deliveries(router.handle(committed(persists, result, now)))
        while delivered - acked >= ACK_EVERY:
            acked += ACK_EVERY
            ack = decode_hot(json.dumps({"type": "ack", "seq": acked}), max_bytes)
            delivered += deliveries(router.handle(FrameReceived(2, ack, now)))
        spent += time.process_time() - begun
    if delivered != messages:
        raise SystemExit(f"delivered {delivered} of {messages}: the scenario is broken")
    return spent / messages * 1e6


def floor_round(messages: int) -> float:
    """µs of CPU per message for the codec work alone: decode, two encodes."""
    frames = _sends(messages, addr("Bob"))
    to, sender = addr("Bob"), addr("Alice")
    begun = time.process_time()
    for seq, raw in enumerate(frames, 1):
        send = decode_hot(raw)
        if not isinstance(send, HotSend):  # the fast decoder's, or the floor is not the floor
            raise SystemExit(f"decode_hot did not take {raw[:60]!r} fast")
        ts = 1000.0 + seq
        accepted_data(send.rid, send.cid, f"m{seq}", ts, to, [to], [to])
        tail = deliver_tail(f"m{seq}", sender, to, send.body, None, None, None, ts)
        deliver_data(seq, tail)
    return (time.process_time() - begun) / messages * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--messages", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=500, help="messages per commit")
    args = parser.parse_args(argv)
    gc.disable()  # the bridge's collections are rare (bench/RESULTS.md): not measured here
    router_round(2_000, args.batch)  # warm-up
    routers, floors = [], []
    for _ in range(args.rounds):
        routers.append(router_round(args.messages, args.batch))
        floors.append(floor_round(args.messages))
        gc.collect()
    router, floor = statistics.median(routers), statistics.median(floors)
    print(
        f"router_bench.py: 1x1, {args.messages:,} messages in commits of {args.batch}; "
        f"median of {args.rounds} alternated rounds (CPU time of this process)\n"
    )
    print("| measure | µs per message (median) | min | max |")
    print("|---|---|---|---|")
    for name, figures in (("the loop's steps for a message", routers), ("floor", floors)):
        median = statistics.median(figures)
        print(f"| {name} | {median:.2f} | {min(figures):.2f} | {max(figures):.2f} |")
    print(f"| ratio | {router / floor:.1f}x | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
