"""The scripted model stand-in itself: it leaves no socket open when it shuts down.

An agent client may open a connection to it as a test ends. When that connection's
handler task is cancelled before its first step, the handler's ``finally`` never runs:
the socket stayed open, and its ResourceWarning failed whichever test ran when it was
collected.
"""

from __future__ import annotations

import asyncio
import socket

from tests.agents.apis import AnthropicApi
from tests.agents.scripted import ScriptedModel


async def _streams(sock: socket.socket) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(sock=sock)


def test_a_connection_whose_handler_never_ran_is_closed_by_the_shutdown() -> None:
    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        async with ScriptedModel() as model:
            reader, writer = await _streams(ours)
            handler = model._accept(reader, writer)  # as a connection is made
            assert handler is not None
        handler.close()  # its task cancelled before its first step: it never runs
        assert writer.is_closing()
        client_reader, client_writer = await _streams(theirs)
        assert await asyncio.wait_for(client_reader.read(), 5) == b""  # hung up
        client_writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_connection_made_after_the_shutdown_is_hung_up_at_once() -> None:
    async def scenario() -> None:
        ours, theirs = socket.socketpair()
        async with ScriptedModel() as model:
            pass
        reader, writer = await _streams(ours)
        assert model._accept(reader, writer) is None
        assert writer.is_closing()
        client_reader, client_writer = await _streams(theirs)
        assert await asyncio.wait_for(client_reader.read(), 5) == b""
        client_writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_a_kept_alive_connection_is_closed_by_the_shutdown() -> None:
    async def scenario() -> None:
        async with AnthropicApi() as model:
            port = int(model.url.rsplit(":", 1)[1])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /v1/models HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n\r\n")
            assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 200")
            assert model.side and model.side[0][:2] == ("GET", "/v1/models")
        await asyncio.wait_for(reader.read(), 5)  # the rest of the answer, then the end
        assert reader.at_eof()
        writer.close()

    asyncio.run(asyncio.wait_for(scenario(), 10))
