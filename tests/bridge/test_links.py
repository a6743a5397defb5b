"""bridge/links.py: one connection's queue of frames, its close, and the task that writes.

Each test puts a Link on the served end of a socketpair (no port) with the real websockets
protocol on both sides; the writer starts when the test says, so the queue is seen whole.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from ai_connect.bridge.links import WRITE_BATCH_BYTES, Link
from tests.client.support import run
from tests.support.bridge import connect_into, serve_nowhere


@contextlib.asynccontextmanager
async def linked(max_queued: int = 16) -> AsyncIterator[tuple[Link, ClientConnection]]:
    """A Link (writer not started) on a served connection, and the client at the other end."""
    served: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        served.set_result(ws)
        await ws.wait_closed()  # returning would close the connection

    async with (
        serve_nowhere(handler) as server,
        connect_into(server)("ws://link.invalid") as client,
    ):
        link = Link(await asyncio.wait_for(served, 5), 7, max_queued)
        try:
            yield link, client
        finally:
            await link.stop()


async def received_until_close(client: ClientConnection) -> tuple[list[str], int | None, str]:
    """Every frame the client receives, then the close code and reason it got."""
    frames: list[str] = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            frame = await asyncio.wait_for(client.recv(), 5)
            assert isinstance(frame, str)
            frames.append(frame)
    received = closed.value.rcvd
    return frames, received.code if received else None, received.reason if received else ""


def test_queued_frames_leave_in_order_and_the_close_comes_after_them() -> None:
    """Frames queued before a close arrive in order, then the close; later sends are dropped."""

    async def scenario() -> None:
        async with linked() as (link, client):
            link.send("a")
            link.send("b")
            link.close(4000, "replaced")
            link.send("c")
            assert link.closing
            link.start()
            assert await received_until_close(client) == (["a", "b"], 4000, "replaced")

    run(scenario())


def test_the_first_close_wins() -> None:
    """A second close changes nothing: the peer hears the first code and reason."""

    async def scenario() -> None:
        async with linked() as (link, client):
            link.close(4001, "token revoked")
            link.close(1001, "bridge shutting down")
            link.start()
            assert await received_until_close(client) == ([], 4001, "token revoked")

    run(scenario())


def test_a_link_too_far_behind_is_closed_with_1008() -> None:
    """Past max_queued waiting frames the link closes (policy) instead of growing."""

    async def scenario() -> None:
        async with linked(max_queued=2) as (link, client):
            for text in ("1", "2", "3", "4"):
                link.send(text)
            assert link.closing
            link.start()
            assert await received_until_close(client) == (
                ["1", "2"],
                1008,
                "not reading its frames",
            )

    run(scenario())


def test_frames_beyond_one_write_batch_all_arrive_in_order() -> None:
    """More bytes than one socket write takes leave in several batches, none lost or reordered."""

    async def scenario() -> None:
        count = 3 * WRITE_BATCH_BYTES // 1000
        sent = [f"{i:06d}" + "x" * 994 for i in range(count)]
        async with linked(max_queued=count + 1) as (link, client):
            for text in sent:
                link.send(text)
            link.close(1000, "done")
            link.start()
            frames, code, _ = await received_until_close(client)
            assert frames == sent and code == 1000

    run(scenario())


def test_a_frame_sent_while_the_writer_runs_wakes_it() -> None:
    """The writer waits for work and wakes on each send: no frame waits for the next one."""

    async def scenario() -> None:
        async with linked() as (link, client):
            link.start()
            for text in ("first", "second"):
                link.send(text)
                assert await asyncio.wait_for(client.recv(), 5) == text

    run(scenario())


def test_throttle_keeps_the_longest_pause() -> None:
    """Two throttles in one turn: the reader waits the longer one, not the sum or the last."""

    async def scenario() -> None:
        async with linked() as (link, _):
            link.throttle(0.5)
            link.throttle(0.2)
            assert link.pause == 0.5

    run(scenario())
