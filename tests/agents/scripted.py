"""Scripted stand-ins for the model APIs of the real agent clients, on 127.0.0.1.

One small HTTP/1.1 server (asyncio streams, keep-alive) records each model request and
answers it with the next scripted reply: a text, or a call of a tool. A request waits
for its reply, so a test can act between seeing a request and answering it. Each vendor
is one subclass that says which requests are model turns and how a reply is streamed:

- :class:`AnthropicApi`: ``POST /v1/messages`` (Claude Code, ``ANTHROPIC_BASE_URL``);
- :class:`ResponsesApi`: ``POST /v1/responses`` (Codex CLI, a ``wire_api = "responses"``
  model provider);
- :class:`GeminiApi`: ``POST /v1beta/models/M:streamGenerateContent`` and
  ``:generateContent`` (Gemini CLI, ``GOOGLE_GEMINI_BASE_URL``).

Other requests (token counts, model lists, side calls) get a canned answer and are kept
apart in ``side``. Nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Reply", "ScriptedModel", "Text", "ToolUse"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: dict[str, Any] = field(default_factory=dict)
    namespace: str | None = None
    """OpenAI Responses: the namespace tool it belongs to (Codex: ``mcp__<server>``)."""


Reply = Text | ToolUse


class ScriptedModel:
    """The fake API server. ``async with Api() as api:`` then ``api.url``."""

    def __init__(self, *, auto: Reply | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        """Bodies of the model-turn requests, in arrival order."""
        self.arrived: list[float] = []
        """When each of ``requests`` arrived (``loop.time()``)."""
        self.side: list[tuple[str, str, dict[str, Any]]] = []
        self.auto = auto
        """Answer requests with this when no reply is queued (``None``: wait for one)."""
        self._replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._arrived = asyncio.Condition()
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        """Every connection's writer, from the moment it is made until it is closed."""
        self._closing = False

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> ScriptedModel:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._closing = True
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A connection made just before the close whose handler has not run yet: its
        # task is cancelled before its first step, so its ``finally`` never closes it.
        for writer in list(self._writers):
            await self._hang_up(writer)
        await self._server.wait_closed()

    def reply(self, *replies: Reply) -> None:
        """Answers the next requests (one reply each, in order)."""
        for r in replies:
            self._replies.put_nowait(r)

    async def request(self, index: int, timeout: float) -> dict[str, Any]:
        """The body of request number ``index`` (0-based), waiting for it to arrive."""
        try:
            async with self._arrived:
                await asyncio.wait_for(
                    self._arrived.wait_for(lambda: len(self.requests) > index), timeout
                )
        except TimeoutError:
            raise AssertionError(
                f"model request {index} did not come within {timeout:g} s "
                f"({len(self.requests)} came; side requests: {[s[:2] for s in self.side]})"
            ) from None
        return self.requests[index]

    def next_id(self) -> int:
        return next(self._ids)

    # --- what a vendor subclass says -------------------------------------------------

    def is_turn(self, method: str, path: str, body: dict[str, Any]) -> bool:
        """Whether this request is a model turn (recorded, answered by the script)."""
        raise NotImplementedError

    def side_answer(self, method: str, path: str, body: dict[str, Any]) -> bytes:
        """The JSON answer to any other request."""
        return b"{}"

    def stream(self, path: str, body: dict[str, Any], reply: Reply) -> tuple[str, bytes]:
        """The content type and bytes that stream ``reply``."""
        raise NotImplementedError

    # --- HTTP ---------------------------------------------------------------------------

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Coroutine[Any, Any, None] | None:
        """Called as a connection is made, before its handler task first runs: the writer
        is known from then on (an agent client may open a connection as the test ends)."""
        if self._closing:
            writer.close()  # made after the close: hung up at once
            return None
        self._writers.add(writer)
        return self._serve(reader, writer)

    async def _hang_up(self, writer: asyncio.StreamWriter) -> None:
        self._writers.discard(writer)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                method, path, _ = request_line.split(" ", 2)
                headers = {}
                for line in lines:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                raw = await self._body(reader, headers)
                kind, payload = await self._answer(method, path, raw)
                writer.write(
                    f"HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\n"
                    f"content-length: {len(payload)}\r\nrequest-id: req_{self.next_id()}\r\n"
                    "connection: keep-alive\r\n\r\n".encode()
                    + payload
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass  # the client hung up
        except asyncio.CancelledError:
            pass  # we shut down: end quietly (asyncio.start_server reports a cancelled handler)
        finally:
            self._tasks.discard(task)
            await self._hang_up(writer)

    @staticmethod
    async def _body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        size = int(headers.get("content-length", "0"))
        data = await reader.readexactly(size) if size else b""
        if headers.get("content-encoding", "").lower() == "zstd":
            raise AssertionError("the client compressed its request (zstd): turn that off")
        return data

    async def _answer(self, method: str, path: str, raw: bytes) -> tuple[str, bytes]:
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = {"raw": raw.decode(errors="replace")}
        if not isinstance(body, dict):
            body = {"value": body}
        if not self.is_turn(method, path, body):
            self.side.append((method, path, body))
            return "application/json", self.side_answer(method, path, body)
        async with self._arrived:
            self.requests.append(body)
            self.arrived.append(asyncio.get_running_loop().time())
            self._arrived.notify_all()
        if self.auto is not None and self._replies.empty():
            reply = self.auto
        else:
            reply = await self._replies.get()
        return self.stream(path, body, reply)


def sse(kind: str | None, data: dict[str, Any]) -> bytes:
    """One server-sent event."""
    head = f"event: {kind}\n" if kind else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()
