"""The three vendors' model APIs, scripted (see :mod:`tests.agents.scripted`)."""

from __future__ import annotations

import json
from typing import Any

from tests.agents.scripted import Reply, ScriptedModel, Text, sse

__all__ = ["AnthropicApi", "GeminiApi", "ResponsesApi", "conversation"]


def conversation(body: dict[str, Any]) -> str:
    """Everything a model request carries (messages, input items, contents, system text)
    as one JSON string, to look for a text in."""
    keys = ("system", "messages", "input", "instructions", "contents", "systemInstruction")
    return json.dumps({k: body[k] for k in keys if k in body}, ensure_ascii=False)


class AnthropicApi(ScriptedModel):
    """``POST /v1/messages`` with ``stream: true``, streamed as Anthropic SSE events."""

    def is_turn(self, method: str, path: str, body: dict[str, Any]) -> bool:
        return (
            method == "POST"
            and path.startswith("/v1/messages")
            and "count_tokens" not in path
            and bool(body.get("stream"))
        )

    def side_answer(self, method: str, path: str, body: dict[str, Any]) -> bytes:
        if "count_tokens" in path:
            return b'{"input_tokens": 10}'
        if path.startswith("/v1/messages"):
            return json.dumps(self._message(body, "ok")).encode()
        return b"{}"

    def _message(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "id": f"msg_{self.next_id()}", "type": "message", "role": "assistant",
            "model": body.get("model", "claude"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }  # fmt: skip

    def stream(self, path: str, body: dict[str, Any], reply: Reply) -> tuple[str, bytes]:
        start = self._message(body, "") | {"content": [], "stop_reason": None}
        out = [sse("message_start", {"type": "message_start", "message": start})]
        if isinstance(reply, Text):
            block: dict[str, Any] = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": reply.text}
            stop = "end_turn"
        else:
            block = {"type": "tool_use", "id": f"toolu_{self.next_id():04d}", "name": reply.name}
            block["input"] = {}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(reply.input)}
            stop = "tool_use"
        out += [
            sse("content_block_start", {"type": "content_block_start", "index": 0,
                                        "content_block": block}),
            sse("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": delta}),
            sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
            sse("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": stop, "stop_sequence": None},
                                  "usage": {"output_tokens": 1}}),
            sse("message_stop", {"type": "message_stop"}),
        ]  # fmt: skip
        return "text/event-stream", b"".join(out)


class ResponsesApi(ScriptedModel):
    """OpenAI Responses: ``POST …/responses`` streamed as ``response.*`` SSE events."""

    def is_turn(self, method: str, path: str, body: dict[str, Any]) -> bool:
        # Codex's own side requests (a title for the thread) carry no tools.
        responses = path.rstrip("/").endswith("/responses")
        return method == "POST" and responses and bool(body.get("tools"))

    def side_answer(self, method: str, path: str, body: dict[str, Any]) -> bytes:
        if path.rstrip("/").endswith("/models"):
            return b'{"object": "list", "data": [], "models": []}'
        return b"{}"

    async def _answer(self, method: str, path: str, raw: bytes) -> tuple[str, bytes]:
        kind, payload = await super()._answer(method, path, raw)
        if kind == "application/json" and path.rstrip("/").endswith("/responses"):
            return self.stream(path, {}, Text("Scripted title"))  # a side request: answered
        return kind, payload

    def stream(self, path: str, body: dict[str, Any], reply: Reply) -> tuple[str, bytes]:
        rid = f"resp_{self.next_id()}"
        if isinstance(reply, Text):
            item: dict[str, Any] = {
                "type": "message", "id": f"msg_{self.next_id()}", "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }  # fmt: skip
        else:
            item = {
                "type": "function_call", "id": f"fc_{self.next_id()}", "status": "completed",
                "call_id": f"call_{self.next_id()}", "name": reply.name,
                "arguments": json.dumps(reply.input),
            }  # fmt: skip
            if reply.namespace is not None:
                item["namespace"] = reply.namespace
        response = {"id": rid, "object": "response", "status": "in_progress", "output": []}
        usage = {
            "input_tokens": 1, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 1, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 2,
        }  # fmt: skip
        done = response | {"status": "completed", "output": [item], "usage": usage}
        events = [
            sse("response.created", {"type": "response.created", "response": response}),
            sse("response.output_item.added",
                {"type": "response.output_item.added", "output_index": 0, "item": item}),
        ]  # fmt: skip
        if isinstance(reply, Text):
            events.append(
                sse("response.output_text.delta",
                    {"type": "response.output_text.delta", "item_id": item["id"],
                     "output_index": 0, "content_index": 0, "delta": reply.text})
            )  # fmt: skip
        events += [
            sse("response.output_item.done",
                {"type": "response.output_item.done", "output_index": 0, "item": item}),
            sse("response.completed", {"type": "response.completed", "response": done}),
        ]  # fmt: skip
        return "text/event-stream", b"".join(events)


class GeminiApi(ScriptedModel):
    """Gemini ``models/M:streamGenerateContent?alt=sse`` and ``:generateContent``."""

    def is_turn(self, method: str, path: str, body: dict[str, Any]) -> bool:
        return method == "POST" and ":streamGenerateContent" in path

    def side_answer(self, method: str, path: str, body: dict[str, Any]) -> bytes:
        if ":countTokens" in path:
            return b'{"totalTokens": 10}'
        if ":generateContent" in path:  # side calls (routing, titles, checks): a plain text
            verdict = {"reasoning": "scripted", "model_choice": "flash",
                       "complexity_reasoning": "scripted", "complexity_score": 1}  # fmt: skip
            return json.dumps(self._chunk(Text(json.dumps(verdict)))).encode()
        return b"{}"

    def _chunk(self, reply: Reply) -> dict[str, Any]:
        if isinstance(reply, Text):
            part: dict[str, Any] = {"text": reply.text}
        else:
            part = {"functionCall": {"name": reply.name, "args": reply.input}}
        return {
            "candidates": [{"content": {"role": "model", "parts": [part]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1,
                              "totalTokenCount": 2},
            "modelVersion": "gemini-test",
        }  # fmt: skip

    def stream(self, path: str, body: dict[str, Any], reply: Reply) -> tuple[str, bytes]:
        return "text/event-stream", sse(None, self._chunk(reply))


def claude_offers(body: dict[str, Any], tool: str) -> str | None:
    """How a Claude Code request offers ``tool``: ``"direct"`` (its schema is in
    ``tools``), ``"deferred"`` (named for ``ToolSearch``, as Claude Code 2.1.33x does with
    MCP tools), or ``None``."""
    names = {t.get("name") for t in body.get("tools", [])}
    if tool in names:
        return "direct"
    if "ToolSearch" in names and tool in conversation(body):
        return "deferred"
    return None


def claude_calls(body: dict[str, Any], tool: str, args: dict[str, Any]) -> list[Reply]:
    """The scripted replies that call ``tool``: through ``ToolSearch`` first when the
    request only names it (a deferred tool has no schema until fetched)."""
    from tests.agents.scripted import ToolUse

    how = claude_offers(body, tool)
    names = sorted(t.get("name") for t in body.get("tools", []))
    assert how is not None, f"{tool} is not offered: {names}; {conversation(body)[-3000:]!r}"
    call = ToolUse(tool, args)
    return [call] if how == "direct" else [ToolUse("ToolSearch", {"query": f"select:{tool}"}), call]
