"""Two agents of any clients talking through one bridge, with nobody typing.

Each :class:`Agent` is one real client session with its own scripted model API and its
own waiter pipe. :func:`round_trips` runs the exchange the issue asks for: A's model
sends a question with ``peer_send``; B is woken (Claude Code, Codex) or continued
(Gemini, advisor mode) by it and answers with ``peer_send``; A is woken by the answer.
The bench (bench/agents_bench.py) runs the same exchange more times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.agents.apis import AnthropicApi, GeminiApi, ResponsesApi, claude_calls, conversation
from tests.agents.clients import (
    START_S,
    WAIT_S,
    binary,
    claude_env,
    codex_env,
    gemini_env,
    new_project,
    run_setup,
    trust_claude_project,
)
from tests.agents.scripted import Reply, ScriptedModel, Text, ToolUse
from tests.agents.sessions import CodexTui, GeminiRun
from tests.claude_e2e.support import ClaudeSession, ReadyPipe

__all__ = ["Agent", "Exchange", "act", "agent", "both", "round_trips", "woken"]

PROJECT = "proj"


@dataclass
class Agent:
    kind: str
    name: str
    api: ScriptedModel
    ready: ReadyPipe
    driver: Any
    seen: int = 0
    """Model requests handled so far."""

    @property
    def address(self) -> str:
        return f"{self.name} ({PROJECT})"

    def recent(self) -> str:
        """What the client showed last (its stream-json events, or its screen): for the
        message of a wait that timed out."""
        events = getattr(self.driver, "events", None)
        if events is not None:
            return json.dumps(events[-6:])[-3000:]
        term = getattr(self.driver, "term", None)
        return repr(term.text[-2000:]) if term is not None else ""

    async def listening(self, timeout: float) -> str:
        """The address of this agent's next waiter (or held turn) that says it listens."""
        try:
            return await self.ready.ready(timeout)
        except AssertionError as exc:
            raise AssertionError(
                f"{self.name}: {exc}\n{self.name} showed: {self.recent()}"
            ) from None

    async def next_request(self) -> dict[str, Any]:
        body = await self.api.request(self.seen, WAIT_S)
        self.seen += 1
        return body

    def tool_calls(self, body: dict[str, Any], tool: str, args: dict[str, Any]) -> list[Reply]:
        """The scripted replies by which this agent's model calls ai-connect's ``tool``."""
        if self.kind == "claude":
            return claude_calls(body, f"mcp__ai-connect__{tool}", args)
        if self.kind == "codex":
            return [ToolUse(tool, args, namespace="mcp__ai_connect")]
        return [ToolUse(f"mcp_ai-connect_{tool}", args)]

    async def call_then_end(self, body: dict[str, Any], calls: list[Reply], end: str) -> None:
        """Answers ``body`` with ``calls`` one by one, then ends the turn with ``end``."""
        for call in calls:
            self.api.reply(call)
            await self.next_request()
        self.api.reply(Text(end))


@contextlib.asynccontextmanager
async def agent(
    kind: str,
    version: str,
    root: Path,
    name: str,
    bridge: str,
    token: str | None = None,
    project: Path | None = None,
) -> AsyncIterator[Agent]:
    """One session of ``kind`` (claude, codex, gemini) named ``name``, set up and started;
    a first turn has ended and its waiter (or held turn) listens. ``project``: a checkout
    (named ``proj``) to work in instead of an empty one under ``root/name``."""
    exe = binary(kind, version)
    base = root / name
    home = base / "home"
    home.mkdir(parents=True)
    project = project or new_project(base, PROJECT)
    extra = {"AI_CONNECT_BRIDGE": bridge, "AI_CONNECT_PEER_NAME": name}
    if token:
        extra["AI_CONNECT_TOKEN"] = token
    api: ScriptedModel
    async with contextlib.AsyncExitStack() as stack:
        ready = await stack.enter_async_context(ReadyPipe(base / "ready.fifo"))
        extra["AI_CONNECT_HOOK_READY_FIFO"] = str(ready.path)
        if kind == "claude":
            api = await stack.enter_async_context(AnthropicApi())
            env = claude_env(home, api.url, **extra)
            await run_setup("claude-code", project, env)
            trust_claude_project(home, project)
            driver: Any = await stack.enter_async_context(ClaudeSession(exe, project, env))
            await driver.say("You work with peers over ai-connect. Say ready.")
        elif kind == "codex":
            api = await stack.enter_async_context(ResponsesApi())
            env = codex_env(home, api.url, project, **extra)
            await run_setup("codex", project, env)
            driver = await stack.enter_async_context(CodexTui(exe, project, env))
            await driver.say("You work with peers over ai-connect. Say ready.")
        else:
            api = await stack.enter_async_context(GeminiApi())
            env = gemini_env(home, api.url, project, **extra)
            await run_setup("gemini", project, env, "--advisor")
            prompt = "You work with peers over ai-connect. Wait for them and answer them."
            driver = await stack.enter_async_context(GeminiRun(exe, project, env, prompt))
        me = Agent(kind, name, api, ready, driver)
        await me.next_request()
        api.reply(Text("ready"))
        got = await me.listening(START_S)
        assert got == me.address, got
        yield me


@contextlib.asynccontextmanager
async def both(
    first: contextlib.AbstractAsyncContextManager[Agent],
    second: contextlib.AbstractAsyncContextManager[Agent],
) -> AsyncIterator[tuple[Agent, Agent]]:
    """Starts two agents at once (each sets up its client and waits for its first turn)."""
    async with contextlib.AsyncExitStack() as stack:
        entered = await asyncio.gather(
            stack.enter_async_context(first), stack.enter_async_context(second),
            return_exceptions=True,
        )  # fmt: skip
        for item in entered:
            if isinstance(item, BaseException):
                raise item
        a, b = entered
        assert isinstance(a, Agent) and isinstance(b, Agent)
        yield a, b


@dataclass
class Exchange:
    question_s: list[float] = field(default_factory=list)
    """From A's model calling peer_send to B's woken (or continued) model request."""
    answer_s: list[float] = field(default_factory=list)
    """From B's model calling peer_send to A's woken model request."""
    texts: list[str] = field(default_factory=list)


async def woken(b: Agent, text: str) -> tuple[dict[str, Any], float]:
    body = await b.next_request()
    arrived = time.perf_counter()
    assert text in conversation(body), f"{b.name} was asked without {text!r}"
    return body, arrived


async def act(
    me: Agent, body: dict[str, Any], tool: str, args: dict[str, Any], end: str
) -> tuple[float, str]:
    """``me``'s model calls ai-connect's ``tool`` in answer to ``body`` and ends its turn;
    returns when it made the call and what the tool answered (its waiter, or its held
    turn, listens again after)."""
    calls = me.tool_calls(body, tool, args)
    for call in calls[:-1]:
        me.api.reply(call)
        await me.next_request()
    made = time.perf_counter()
    me.api.reply(calls[-1])
    result = await me.next_request()  # the tool's result
    items = result.get("messages") or result.get("input") or result.get("contents") or []
    tail = json.dumps(items[-3:])
    assert "permission" not in tail and "isError" not in tail, tail[-1500:]
    me.api.reply(Text(end))
    await me.listening(WAIT_S)
    return made, tail


async def _send(me: Agent, body: dict[str, Any], to: Agent, text: str, end: str) -> float:
    made, tail = await act(me, body, "peer_send", {"to": to.address, "message": text}, end)
    assert "accepted" in tail or "sent message" in tail, tail[-1500:]
    return made


async def round_trips(a: Agent, b: Agent, count: int = 1) -> Exchange:
    """``count`` question/answer rounds between A (Claude Code) and B after one prompt.

    A person asks A once. A's model asks B with peer_send and ends its turn; B is woken
    (or continued) with the question, answers with peer_send and ends its turn; A is
    woken with the answer and, in that woken turn, asks the next question, or says
    thanks after the last. Nobody types after the first prompt.
    """
    assert a.kind == "claude"
    exchange = Exchange()
    await a.driver.say(f"Ask {b.name} {count} questions, one after the other.")
    body = await a.next_request()
    for i in range(count):
        question, answer = f"QUESTION-{i} from {a.name}", f"ANSWER-{i} from {b.name}"
        exchange.texts += [question, answer]
        sent = await _send(a, body, b, question, f"asked {b.name}")
        body, arrived = await woken(b, question)
        exchange.question_s.append(arrived - sent)
        sent = await _send(b, body, a, answer, "answered")
        body, arrived = await woken(a, answer)
        exchange.answer_s.append(arrived - sent)
    a.api.reply(Text("thanks"))
    await a.listening(WAIT_S)
    return exchange
