"""A stand-in agent for the end-to-end tests, run as its own process.

    python tests/e2e/agent.py receive --url U --name N --project P --out FILE [--expect K]
        [--last-seq S] [--ack-delay SECONDS] [--max-size BYTES]
    python tests/e2e/agent.py send --url U --name N --project P --to T --count K --prefix X
        [--size BYTES] [--window W] [--status]
    python tests/e2e/agent.py register|watch|probe --url U --name N --project P

Every mode talks through :class:`~ai_connect.client.BridgeClient` (reconnect on) and
reports on stdout, one line per event, flushed at once, so the test can follow it:

- ``welcome ADDRESS`` on every (re)connect, ``down REASON`` when the link drops;
- receive: appends one JSON line per message to ``--out`` (flushed and fsynced: this is
  "the agent saw it"), only THEN acks, and prints ``seen TOTAL`` after each batch;
- send: ``accepted JSON`` once per message the bridge stored (``queue=True``, so an
  outage is ridden out through the outbox), then ``done COUNT``;
- watch: ``join ADDRESS`` / ``leave ADDRESS`` for each presence event;
- probe: ``status JSON`` and ``peers JSON``, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from websockets.asyncio.client import connect as websockets_connect

from ai_connect.client import BridgeClient, Connect, Receipt, backoff
from ai_connect.errors import NotConnected, RequestRejected
from ai_connect.protocol import Presence

WAIT_S = 60.0


def emit(kind: str, payload: object = "") -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    sys.stdout.write(f"{kind} {text}".rstrip() + "\n")
    sys.stdout.flush()


def quick_delays() -> Iterator[float]:
    """Reconnect quickly: the tests restart the bridge within a second."""
    return backoff(initial=0.05, maximum=0.5)


def make_client(args: argparse.Namespace, *, presence: bool = False) -> BridgeClient:
    max_size = getattr(args, "max_size", 0)
    return BridgeClient(
        args.url,
        args.name,
        args.project,
        presence=presence,
        heartbeat_s=args.heartbeat,
        session=args.session,
        reconnect_delays=quick_delays,
        request_timeout=WAIT_S,
        connect_timeout=5.0,
        connect=frame_limited(max_size) if max_size else websockets_connect,
    )


async def follow_link(client: BridgeClient) -> None:
    """Prints ``welcome`` on each connect and ``down`` on each disconnect."""
    while True:
        await client.wait_connected(WAIT_S * 10)
        emit("welcome", client.address or "?")
        await client.wait_disconnected()
        emit("down", client.last_error or "")


def frame_limited(max_size: int) -> Connect:
    """websockets' ``connect`` with its own frame limit instead of the client's
    ``max_size=None``: given to BridgeClient's transport seam, a stand-in for a client
    built with a frame limit."""

    def connect(uri: str, **options: Any) -> websockets_connect:
        return websockets_connect(uri, **{**options, "max_size": max_size})

    return connect


async def receive(args: argparse.Namespace, out: TextIO) -> None:
    client = make_client(args)
    seen = 0
    async with client:
        link = asyncio.create_task(follow_link(client))
        while True:
            batch = await client.wait(timeout=WAIT_S)
            if not batch:
                continue
            for m in batch:
                line = {"id": m.id, "seq": m.seq, "from": m.sender, "body": m.body}
                out.write(json.dumps(line) + "\n")
            out.flush()
            os.fsync(out.fileno())
            seen += len(batch)
            emit("seen", str(seen))
            if args.ack_delay:
                await asyncio.sleep(args.ack_delay)  # widens the shown-but-unacked window
            if (args.expect is not None and seen >= args.expect) or (
                args.last_seq is not None and batch[-1].seq >= args.last_seq
            ):
                # Leave only once the bridge has stored the last ack.
                await client.wait_connected(WAIT_S)
                await client.ack(batch, wait=True)
                break
            # Not connected: the next hello carries the cursor (docs/protocol.md §2.1).
            with contextlib.suppress(NotConnected):
                await client.ack(batch, wait=False)
        link.cancel()
    emit("done", str(seen))


def body_of(args: argparse.Namespace, i: int) -> str:
    head = f"{args.prefix}{i:06d}"
    return head + " " + "x" * max(0, args.size - len(head) - 1) if args.size else head


def report(i: int, receipt: Receipt) -> None:
    emit(
        "accepted",
        {
            "i": i,
            "cid": receipt.cid,
            "id": receipt.id,
            "to": receipt.to,
            "recipients": list(receipt.recipients),
            "online": list(receipt.online),
            "dup": receipt.duplicate,
        },
    )


async def send(args: argparse.Namespace) -> None:
    client = make_client(args)
    async with client:
        link = asyncio.create_task(follow_link(client))
        cids = [f"{args.prefix}{i:06d}" for i in range(args.count)]

        async def one(i: int) -> tuple[int, Receipt]:
            while True:
                try:
                    receipt = await client.send(
                        args.to, body_of(args, i), cid=cids[i], queue=True, timeout=WAIT_S
                    )
                except RequestRejected as exc:
                    if exc.code != "internal":
                        raise
                    # The bridge could not store it (its database is away): nothing was
                    # accepted; send it again, same cid, as a user's client would.
                    emit("refused", f"{i} {exc.message[:80]}")
                    await asyncio.sleep(0.05)
                    continue
                return i, receipt

        # A sliding window of sends: tasks transmit in creation order (per-sender order).
        queued: list[int] = []

        def settle(done: set[asyncio.Task[tuple[int, Receipt]]]) -> None:
            for task in done:
                n, receipt = task.result()
                if receipt.state == "accepted":
                    report(n, receipt)
                else:
                    queued.append(n)

        window: set[asyncio.Task[tuple[int, Receipt]]] = set()
        for i in range(args.count):
            window.add(asyncio.create_task(one(i)))
            if len(window) >= args.window:
                done, window = await asyncio.wait(window, return_when=asyncio.FIRST_COMPLETED)
                settle(done)
        if window:
            done, _ = await asyncio.wait(window)
            settle(done)
        # Sent while the link was down: the outbox sent them on reconnect; sending again
        # with the same cid is a no-op for the bridge and tells us the stored id.
        for i in sorted(queued):
            while True:
                await client.wait_connected(WAIT_S)
                receipt = await client.send(
                    args.to, body_of(args, i), cid=cids[i], queue=True, timeout=WAIT_S
                )
                if receipt.state == "accepted":
                    report(i, receipt)
                    break
        emit("done", str(args.count))
        if args.status:
            status = await client.status()
            emit("status", status.model_dump(mode="json"))
        link.cancel()


async def register(args: argparse.Namespace) -> None:
    async with make_client(args) as client:
        emit("welcome", client.address or "?")


async def watch(args: argparse.Namespace) -> None:
    def on_event(item: object) -> None:
        if isinstance(item, Presence):
            emit(item.event, item.peer.address)

    client = make_client(args, presence=True)
    client.add_listener(on_event)
    async with client:
        await follow_link(client)


async def probe(args: argparse.Namespace) -> None:
    async with make_client(args) as client:
        emit("welcome", client.address or "?")
        status = await client.status()
        emit("status", status.model_dump(mode="json"))
        peers = await client.peers(include_offline=True)
        emit("peers", [p.model_dump(mode="json") for p in peers])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["receive", "send", "register", "watch", "probe"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--out", help="receive: file of JSON lines, one per message shown")
    parser.add_argument("--expect", type=int, help="receive: exit after this many messages")
    parser.add_argument("--last-seq", type=int, help="receive: exit after this seq is shown")
    parser.add_argument("--ack-delay", type=float, default=0.0, help="receive: seconds")
    parser.add_argument("--max-size", type=int, default=0, help="receive: frame limit")
    parser.add_argument("--to", help="send: target address, bare name or *")
    parser.add_argument("--count", type=int, default=1, help="send: number of messages")
    parser.add_argument("--prefix", default="m", help="send: body and cid prefix")
    parser.add_argument("--size", type=int, default=0, help="send: body size in bytes")
    parser.add_argument("--window", type=int, default=32, help="send: sends in flight")
    parser.add_argument("--status", action="store_true", help="send: print status at the end")
    parser.add_argument("--heartbeat", type=float, default=20.0, help="seconds between pings")
    parser.add_argument("--session", help="the client's session id [default: a new one]")
    args = parser.parse_args()
    if args.mode == "receive":
        with open(args.out, "a", encoding="utf-8") as out:
            asyncio.run(receive(args, out))
        return
    modes = {"send": send, "register": register, "watch": watch, "probe": probe}
    asyncio.run(modes[args.mode](args))


if __name__ == "__main__":
    main()
