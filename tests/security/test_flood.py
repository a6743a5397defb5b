"""A flooding client is slowed down and told so; nothing accepted is lost; others are served.

The behavioural twin of bench/flood_bench.py: it asserts what happens, never how fast.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import connect

from ai_connect.protocol import Limits
from tests.support.bridge import bridge

from ..client.support import listen, make_client, run, take
from .support import recording

FLOOD = 300


async def flooder(url: str) -> tuple[list[dict[str, Any]], Any]:
    """Registers ``flood``, sends FLOOD messages to ``sink`` without waiting, and reads
    every reply; returns the replies (once all sends are answered) and the open link."""
    ws = await connect(url, compression=None)
    await ws.send(json.dumps({"type": "hello", "rid": "h", "protocol": 1, "name": "flood",
                              "project": "proj"}))  # fmt: skip
    assert json.loads(await ws.recv())["type"] == "welcome"
    replies: list[dict[str, Any]] = []

    async def read() -> None:
        answered = 0
        while answered < FLOOD:
            frame = json.loads(await ws.recv())
            replies.append(frame)
            answered += frame["type"] == "accepted" or frame.get("rid") is not None

    reader = asyncio.create_task(read())
    for i in range(FLOOD):
        frame = {"type": "send", "rid": f"r{i}", "cid": f"c{i}", "to": "sink", "body": f"{i}"}
        await ws.send(json.dumps(frame))
    await asyncio.wait_for(reader, 15)
    return replies, ws


def test_a_flooder_is_throttled_while_a_pair_keeps_talking() -> None:
    """Flood at full speed: rate_limited notice, every send accepted and stored, pair served."""

    async def scenario() -> None:
        limits = Limits(rate_per_s=400, rate_burst=50)
        with recording() as logs:
            async with bridge(limits=limits) as server:
                sink = make_client(server.url, "sink")
                alice, bob = make_client(server.url, "alice"), make_client(server.url, "bob")
                for client in (sink, alice, bob):
                    await client.connect()
                flood = asyncio.create_task(flooder(server.url))
                mail_for_bob, mail_for_alice = listen(bob), listen(alice)
                for i in range(20):
                    await alice.send("bob", f"ping {i}")
                    assert (await take(mail_for_bob))[0].body == f"ping {i}"
                    await bob.send("alice", f"pong {i}")
                    assert (await take(mail_for_alice))[0].body == f"pong {i}"
                replies, ws = await flood
                accepted = [f for f in replies if f["type"] == "accepted"]
                notices = [f for f in replies if f["type"] == "error"]
                assert len({f["id"] for f in accepted}) == FLOOD
                assert notices and {n["code"] for n in notices} == {"rate_limited"}
                assert all("rid" not in n for n in notices)
                assert (await sink.status()).tip == FLOOD  # every accepted one is stored
                await ws.send(json.dumps({"type": "ping", "rid": "still"}))
                assert json.loads(await asyncio.wait_for(ws.recv(), 5))["rid"] == "still"
                await ws.close()
                for client in (sink, alice, bob):
                    await client.close()
        assert logs.problems() == []

    run(scenario(), timeout=30)
