"""bridge/links.py: one connection's queue of frames, its close, and the task that writes.

Each test puts a Link on the served end of a socketpair (no port) with the real websockets
protocol on both sides; the writer starts when the test says, so the queue is seen whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from ai_connect.bridge.links import (
    WRITE_BATCH_BYTES,
    EndOfTurn,
    Link,
    LinkLimits,
    text_frame_header,
)
from tests.client.support import run
from tests.support.bridge import connect_into, serve_nowhere


@contextlib.asynccontextmanager
async def linked(
    max_bytes: int = 1 << 20, turn: EndOfTurn | None = None, **limits: int
) -> AsyncIterator[tuple[Link, ClientConnection]]:
    """A Link (writer not started) on a served connection, and the client at the other end."""
    served: asyncio.Future[ServerConnection] = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        served.set_result(ws)
        await ws.wait_closed()  # returning would close the connection

    async with (
        serve_nowhere(handler) as server,
        connect_into(server)("ws://link.invalid") as client,
    ):
        link_limits = LinkLimits(max_bytes=max_bytes, **limits)
        link = Link(await asyncio.wait_for(served, 5), 7, link_limits, turn)
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
    """Past max_bytes waiting the link closes (policy) instead of growing."""

    async def scenario() -> None:
        async with linked(max_bytes=2) as (link, client):
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
        async with linked(max_bytes=count * 1000) as (link, client):
            for text in sent:
                link.send(text)
            link.close(1000, "done")
            link.start()
            frames, code, _ = await received_until_close(client)
            assert frames == sent and code == 1000

    run(scenario())


SIZES = (0, 1, 125, 126, 127, 65535, 65536, 70000)


@pytest.mark.parametrize("size", SIZES)
def test_a_text_frame_header_is_what_websockets_writes(size: int) -> None:
    """The link's own frame header plus the payload is byte for byte websockets' frame."""
    payload = b"x" * size
    frame = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert text_frame_header(size) + payload == frame


def test_frames_of_every_length_encoding_arrive_whole() -> None:
    """Frames of 7-bit, 16-bit and 64-bit lengths, written in one batch, reach the client."""

    async def scenario() -> None:
        sent = ["é" * (size // 2) + "a" * (size % 2) for size in SIZES]
        async with linked(max_bytes=1 << 21) as (link, client):
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


def test_a_link_whose_replies_are_not_drained_is_not_read_until_they_are() -> None:
    """readable() waits while more than pause_bytes wait for a peer that does not read,
    and returns once it has read them: nothing dropped, nothing closed."""

    async def scenario() -> None:
        async with linked(max_bytes=1 << 24, pause_bytes=1 << 16) as (link, client):
            link.start()
            page = "x" * (1 << 16)
            for _ in range(64):  # 4 MiB: far more than the socket buffers hold
                link.send(page)
            waiting = asyncio.create_task(link.readable())
            await asyncio.sleep(0)  # one turn: it would have returned by now if it could
            assert not waiting.done() and link.backlog > link.limits.pause_bytes
            for _ in range(64):
                assert await asyncio.wait_for(client.recv(), 5) == page
            await asyncio.wait_for(waiting, 5)
            assert not link.closing

    run(scenario())


def test_a_link_with_its_replies_in_preparation_is_not_read() -> None:
    """While max_replies queries are being answered, readable() waits for one to finish."""

    async def scenario() -> None:
        async with linked(max_replies=1) as (link, client):
            link.start()
            reply = link.reply_started()
            waiting = asyncio.create_task(link.readable())
            await asyncio.sleep(0)
            assert not waiting.done()
            link.reply_done(reply, '{"type": "history_page"}')
            await asyncio.wait_for(waiting, 5)
            assert await asyncio.wait_for(client.recv(), 5) == '{"type": "history_page"}'

    run(scenario())


def test_replies_leave_in_the_order_their_queries_were_asked() -> None:
    """Two queries are answered at once on reader threads and may finish in either order;
    their replies leave in the order the client asked (docs/protocol.md §5.1): a reply
    that is ready waits for the ones asked before it, and an empty one holds none back."""

    async def scenario() -> None:
        async with linked(max_replies=3) as (link, client):
            link.start()
            first, second, third = link.reply_started(), link.reply_started(), link.reply_started()
            link.reply_done(third, '{"rid": 3}')
            link.reply_done(second, None)
            await asyncio.sleep(0)  # the end of the turn: what may leave has left
            assert link.backlog == 0 and link.replies == 3
            link.reply_done(first, '{"rid": 1}')
            assert link.replies == 0
            assert await asyncio.wait_for(client.recv(), 5) == '{"rid": 1}'
            assert await asyncio.wait_for(client.recv(), 5) == '{"rid": 3}'

    run(scenario())


def _writer_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_coro().__qualname__.startswith("Link.")]  # type: ignore[union-attr]


def test_a_writer_task_lives_only_while_a_slow_reader_drains() -> None:
    """Frames leave from a callback; only while more is waiting than websockets' buffer
    takes does a task write (with websockets' flow control), and it ends once all left."""

    async def scenario() -> None:
        async with linked(max_bytes=1 << 24) as (link, client):
            link.start()
            link.send("small")
            assert await asyncio.wait_for(client.recv(), 5) == "small"
            assert _writer_tasks() == []
            page = "x" * (1 << 16)
            for _ in range(64):  # 4 MiB: far more than the socket buffers hold
                link.send(page)
            await asyncio.sleep(0)  # the end of the turn: what fits is written
            assert len(_writer_tasks()) == 1
            for _ in range(64):
                assert await asyncio.wait_for(client.recv(), 5) == page
            link.send("after")
            assert await asyncio.wait_for(client.recv(), 5) == "after"
            assert _writer_tasks() == []
            assert link.backlog == 0

    run(scenario())


def test_clear_to_read_says_when_readable_would_not_wait() -> None:
    """The reader's fast path: clear while nothing holds the next frame back; not clear
    under a rate pause, with max_replies being answered, or with its replies not drained."""

    async def scenario() -> None:
        async with linked(max_bytes=1 << 24, pause_bytes=1 << 16, max_replies=1) as (link, client):
            link.start()
            assert link.clear_to_read()
            link.throttle(0.01)
            assert not link.clear_to_read()
            await asyncio.wait_for(link.readable(), 5)  # waits the pause out
            assert link.clear_to_read()
            reply = link.reply_started()
            assert not link.clear_to_read()
            link.reply_done(reply, None)
            assert link.clear_to_read()
            page = "x" * (1 << 16)
            for _ in range(64):
                link.send(page)
            assert not link.clear_to_read()
            for _ in range(64):
                assert await asyncio.wait_for(client.recv(), 5) == page
            await asyncio.wait_for(link.readable(), 5)
            assert link.clear_to_read()

    run(scenario())


def test_the_links_of_one_turn_are_written_by_one_callback_in_order() -> None:
    """Links sharing an EndOfTurn (a server's) that queue frames in one loop turn are
    written at its end by one callback, not one each (a broadcast to 500: one, not 500),
    in the order they queued their first frame; a later turn makes its own."""

    async def scenario() -> None:
        turn = EndOfTurn()
        async with linked(turn=turn) as (a, client_a), linked(turn=turn) as (b, client_b):
            a.start()
            b.start()
            loop = asyncio.get_running_loop()
            scheduled: list[object] = []
            real = loop.call_soon

            def call_soon(callback: Any, *args: Any, **kwargs: Any) -> asyncio.Handle:
                scheduled.append(getattr(callback, "__self__", None))
                return real(callback, *args, **kwargs)

            written: list[int] = []

            def tracked(link: Link) -> None:
                flush = link._flush

                def written_then_flushed() -> None:
                    written.append(link.conn)
                    flush()

                link._flush = written_then_flushed  # type: ignore[method-assign]

            tracked(a)
            tracked(b)
            b.conn = 8
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(loop, "call_soon", call_soon)
                b.send("b1")
                a.send("a1")
                b.send("b2")
            assert scheduled == [turn]
            assert await asyncio.wait_for(client_a.recv(), 5) == "a1"
            assert [await asyncio.wait_for(client_b.recv(), 5) for _ in range(2)] == ["b1", "b2"]
            assert written == [8, 7]
            a.send("a2")
            assert await asyncio.wait_for(client_a.recv(), 5) == "a2"
            assert written == [8, 7, 7]

    run(scenario())


def test_a_link_that_fails_or_stops_in_its_turn_does_not_keep_the_others_from_writing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One link's write failing is logged, and the other links of the turn are written; a
    link stopped before the end of its turn writes nothing."""

    async def scenario() -> None:
        turn = EndOfTurn()
        async with (
            linked(turn=turn) as (failing, _),
            linked(turn=turn) as (stopped, _),
            linked(turn=turn) as (healthy, client),
        ):
            for link in (failing, stopped, healthy):
                link.start()

            def broken() -> bool:
                raise RuntimeError("broken transport")

            tried: list[Link] = []

            def recorded() -> bool:
                tried.append(stopped)
                return True

            failing._write_now = broken  # type: ignore[method-assign]
            stopped._write_now = recorded  # type: ignore[method-assign]
            failing.send("lost")
            stopped.send("never")
            healthy.send("kept")
            await stopped.stop()
            assert await asyncio.wait_for(client.recv(), 5) == "kept"
            assert tried == []  # (its write would have come before the healthy one's)

    with caplog.at_level(logging.ERROR, logger="ai_connect.bridge"):
        run(scenario())
    assert any("writing to connection 7 failed" in r.getMessage() for r in caplog.records)
