"""The store process's wire (issue 13, item 5): msgspec msgpack against pickle.

    python bench/store_wire_bench.py [--sizes 1,16,128] [--rounds 2000]

For batches of N appends (the 200-byte bodies of the throughput benchmark, one ack, one
delivery mark) and their commit results, times one round trip of both ends per message:
encode the batch, decode it, encode the answer, decode it. msgspec decodes into the
store's own types (``WriteBatch``, and ``calls.Committed``: the answer the store process
really sends, the bridge rebuilding the ``CommitResult``); pickle carries the objects as
they are (``CommitResult``). Figures for bench/RESULTS.md; not a test.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable

import msgspec

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    CommitResult,
    DeliveredOp,
    StoredMessage,
    WriteBatch,
)
from ai_connect.bridge.store.sqlite.calls import Committed, committed

BOB = "bob (proj)"


def message(i: int) -> StoredMessage:
    body = f"{i:08d} " + "the quick brown fox jumps over the lazy dog " * 5
    return StoredMessage(
        f"m{i}", "alice (proj)", BOB, body[:200], None, None, None, float(i), f"c{i}"
    )


def batch_of(n: int) -> tuple[WriteBatch, CommitResult]:
    messages = [message(i) for i in range(n)]
    batch = WriteBatch(
        appends=[AppendOp(m, (BOB,)) for m in messages],
        acks=[AckOp(BOB, n)],
        delivered=[DeliveredOp(BOB, n, 1.0)],
    )
    result = CommitResult([AppendResult(m, {BOB: i + 1}, False) for i, m in enumerate(messages)])
    return batch, result


def per_message_us(trip: Callable[[], object], n: int, rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        trip()
    return (time.perf_counter() - started) / rounds / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,16,128")
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    encode = msgspec.msgpack.Encoder().encode
    batches = msgspec.msgpack.Decoder(WriteBatch)
    answers = msgspec.msgpack.Decoder(Committed)
    print("| batch | msgspec µs/message | pickle µs/message | bytes msgspec / pickle |")
    print("|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        batch, result = batch_of(n)

        def with_msgspec(batch: WriteBatch = batch, result: CommitResult = result) -> object:
            sent = batches.decode(encode(batch))
            return committed(sent, answers.decode(encode(Committed.of(result))))

        def with_pickle(batch: WriteBatch = batch, result: CommitResult = result) -> object:
            pickle.loads(pickle.dumps(batch, 5))
            return pickle.loads(pickle.dumps(result, 5))

        assert with_msgspec() == result and with_pickle() == result
        rounds = max(50, args.rounds // n)
        fast = per_message_us(with_msgspec, n, rounds)
        slow = per_message_us(with_pickle, n, rounds)
        sizes = f"{len(encode(batch)):,} / {len(pickle.dumps(batch, 5)):,}"
        print(f"| {n} | {fast:.2f} | {slow:.2f} | {sizes} |")


if __name__ == "__main__":
    main()
