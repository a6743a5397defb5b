"""A scripted stand-in for the Anthropic Messages API, for the real Claude Code.

``POST /v1/messages`` (streaming): each request is recorded, then answered with the next
scripted reply, a text or a ``tool_use`` block, streamed as server-sent events. A request
waits for its reply, so a test can act between seeing a request and answering it
(:meth:`ScriptedApi.reply` queues replies ahead, or after :meth:`ScriptedApi.request`).
Non-streaming side requests (none were seen with
``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``) and ``count_tokens`` get a canned answer
and are kept apart in ``side``.

Minimal HTTP/1.1 on asyncio streams, keep-alive, 127.0.0.1 only. Nothing here sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ScriptedApi", "Text", "ToolUse", "texts"]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: dict[str, Any] = field(default_factory=dict)


Reply = Text | ToolUse


def texts(body: dict[str, Any]) -> str:
    """The conversation a request carries (its ``messages``, tool results included) as
    one JSON string, to look for a text in."""
    return json.dumps(body.get("messages", []), ensure_ascii=False)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


class ScriptedApi:
    """The fake API server. ``async with ScriptedApi() as api:`` then ``api.url``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        """Bodies of the streaming ``/v1/messages`` requests, in arrival order."""
        self.side: list[tuple[str, dict[str, Any]]] = []
        self._replies: asyncio.Queue[Reply] = asyncio.Queue()
        self._arrived = asyncio.Condition()
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> ScriptedApi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def reply(self, *replies: Reply) -> None:
        """Answers the next requests (one reply each, in order)."""
        for r in replies:
            self._replies.put_nowait(r)

    async def request(self, index: int, timeout: float) -> dict[str, Any]:
        """The body of request number ``index`` (0-based), waiting for it to arrive."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.requests) > index), timeout
            )
        return self.requests[index]

    # --- HTTP ---------------------------------------------------------------------------

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
                size = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(size) if size else b""
                status, kind, payload = await self._answer(method, path, raw)
                writer.write(
                    f"HTTP/1.1 {status}\r\ncontent-type: {kind}\r\n"
                    f"content-length: {len(payload)}\r\nrequest-id: req_{next(self._ids)}\r\n"
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
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, method: str, path: str, raw: bytes) -> tuple[str, str, bytes]:
        if method != "POST":
            return "200 OK", "application/json", b"{}"
        body = json.loads(raw or b"{}")
        if not path.startswith("/v1/messages") or "count_tokens" in path:
            self.side.append((path, body))
            return "200 OK", "application/json", b'{"input_tokens": 10}'
        if not body.get("stream"):
            self.side.append((path, body))
            return "200 OK", "application/json", json.dumps(self._message(body, "ok")).encode()
        async with self._arrived:
            self.requests.append(body)
            self._arrived.notify_all()
        reply = await self._replies.get()
        return "200 OK", "text/event-stream", self._stream(body, reply)

    def _message(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "id": f"msg_{next(self._ids)}",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }

    def _stream(self, body: dict[str, Any], reply: Reply) -> bytes:
        start = self._message(body, "") | {"content": [], "stop_reason": None}
        out = [_event("message_start", {"type": "message_start", "message": start})]
        if isinstance(reply, Text):
            block: dict[str, Any] = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": reply.text}
            stop = "end_turn"
        else:
            block = {"type": "tool_use", "id": f"toolu_{next(self._ids):04d}", "name": reply.name}
            block["input"] = {}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(reply.input)}
            stop = "tool_use"
        out += [
            _event("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": block}),
            _event("content_block_delta", {"type": "content_block_delta", "index": 0,
                                           "delta": delta}),
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": 1}}),
            _event("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        return b"".join(out)
