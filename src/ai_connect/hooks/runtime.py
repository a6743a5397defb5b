"""The I/O of ``ai-connect hook``: act as the agent's address, show unread mail once, ack it.

Every path has the same core (:func:`take_and_emit`): under a per-address file lock it
asks the bridge for the mailbox cursor (a round trip, so acks made by any other
connection of the address have been announced), takes the unread messages that fit,
writes them out, and only then acks exactly those (``wait=True``). So a message reaches
the agent once, whichever path carries it: this hook, another hook, or the MCP server.

Identity (docs/hooks.md): the hook attaches (protocol §2.2) to the bridge session its
agent's own MCP server advertises (:mod:`ai_connect.hooks.agent_link`); without one, to
``Name (Project)`` from config/env and the hook's ``cwd`` (git root, else directory), the
same rule as ``ai-connect mcp`` — only while no other session holds that address.

The Claude Code waiter (:func:`run_wait`) holds a per-session slot: a Unix socket that a
newer waiter (or the session's next prompt, or its end) connects to, which makes the
older one step aside quietly. The handover happens under a file lock, so two waiters
started together still leave exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ai_connect.client import BridgeClient, LinkState
from ai_connect.client.keep import Keep, default_folder
from ai_connect.client.mailbox import Message
from ai_connect.config import ClientSettings, client_settings
from ai_connect.errors import BridgeError, ErrorCode, RequestRejected
from ai_connect.hooks import agent_link
from ai_connect.hooks import status as work_status
from ai_connect.hooks.contracts import (
    PROMPT_EVENTS,
    HookInput,
    context_output,
    empty_output,
    turn_end_output,
)
from ai_connect.hooks.slots import dismiss, file_lock, key, waiter_slot
from ai_connect.local_copy import Checkout, localise
from ai_connect.protocol import AckPath
from ai_connect.text.agent import context_header, mail_text, turn_end_header, wake_header
from ai_connect.text.neutral import neutralise
from ai_connect.work_status.observe import Observation

__all__ = [
    "Emit",
    "HookSettings",
    "Link",
    "dismiss_waiter",
    "resolve_link",
    "run_inject",
    "run_turn_end",
    "run_wait",
    "take_and_emit",
]

log = logging.getLogger(__name__)

Emit = Callable[[str, str], None]
"""``emit(stream, text)``: writes ``text`` to ``"out"`` or ``"err"`` and flushes."""


def std_emit(stream: str, text: str) -> None:
    target = sys.stdout if stream == "out" else sys.stderr
    target.write(text)
    target.flush()


@dataclass(frozen=True, slots=True)
class HookSettings:
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    bridge: str | None = None
    name: str | None = None
    ca: str | None = None
    """wss://: the bridge's CA file (else AI_CONNECT_CA, bridge.ca; docs/security.md)."""
    fingerprint: str | None = None
    """wss://: the bridge's pinned certificate (else AI_CONNECT_FINGERPRINT)."""
    token_file: str | None = None
    """A file holding the auth token (else AI_CONNECT_TOKEN[_FILE], bridge.token[_file])."""
    timeout_s: float = 86_400.0
    """The waiter's configured hook timeout: it leaves quietly shortly before."""
    wait_s: float = 0.0
    """Turn-end hooks: how long to wait for mail when there is none (0: just look)."""
    connect_timeout_s: float = 3.0
    drain_s: float = 2.0
    client_options: Mapping[str, Any] = field(default_factory=dict)
    """Extra BridgeClient arguments (tests pass the transport and short timeouts)."""
    chain: tuple[int, ...] | None = None
    """This process and its ancestors (default: read from the system; tests inject it)."""
    keep_dir: Path | None = field(default_factory=default_folder)
    """Where the ids of the messages shown are kept, so that a hook that died between
    showing mail and its ack does not show it again (:mod:`ai_connect.client.keep`)."""


@dataclass(frozen=True, slots=True)
class Link:
    """Whom the hook acts for, and how it proves it is that agent session."""

    connection: ClientSettings
    """The bridge and the address (name, project), token and TLS options."""
    session: str
    agent: int | None
    """The agent's pid when found through its MCP server's advert."""
    server: int | None = None
    """The pid of that MCP server: once it is gone, the session is ending."""
    status: str | None = None
    """The socket on which that server takes work-status observations (docs/hooks.md)."""


def resolve_link(hook: HookInput, settings: HookSettings) -> Link:
    """The agent's MCP server session if it advertises one, else config and ``cwd``."""
    cfg = client_settings(
        url=settings.bridge,
        name=settings.name,
        ca=settings.ca,
        fingerprint=settings.fingerprint,
        token_file=settings.token_file,
        cwd=hook.cwd or Path.cwd(),
        env=settings.env,
    )
    chain = settings.chain or tuple(agent_link.process_chain())
    advert = agent_link.find(chain, env=settings.env)
    if advert is not None and settings.name in (None, advert.name):
        url = cfg.url if settings.bridge else advert.url
        served = replace(cfg, url=url, name=advert.name, project=advert.project)
        return Link(served, advert.session, advert.agent, server=advert.pid, status=advert.status)
    session = agent_link.bridge_session(hook.session) if hook.session else secrets.token_hex(8)
    return Link(cfg, session, None)


def _client(link: Link, hook: HookInput, settings: HookSettings, reconnect: bool) -> BridgeClient:
    options = {"reconnect": reconnect, "connect_timeout": settings.connect_timeout_s}
    keep = Keep(settings.keep_dir, outbox=False) if settings.keep_dir is not None else None
    return BridgeClient.from_settings(
        link.connection,
        kind=f"hook-{hook.client}",
        session=link.session,
        attach=True,
        keep=keep,
        **(options | dict(settings.client_options)),
    )


async def _connected(
    hook: HookInput, settings: HookSettings, link: Link, unsent: Observation | None, human: bool
) -> tuple[BridgeClient, Observation | None]:
    """A connected client for ``link``, and the status still to publish (``unsent``).

    An agent can start its MCP server and run the first prompt's hook at once (Codex
    does): the hook finds no advert, the server then advertises and takes the address,
    and the hook's connection is refused as held by another session. Then the hook looks
    again, hands its status to that server and acts for its session. Raises what the
    connection raised otherwise."""
    try:
        return await _open(_client(link, hook, settings, reconnect=False)), unsent
    except RequestRejected as exc:
        if exc.code != ErrorCode.ADDRESS_IN_USE or link.server is not None:
            raise
        again = resolve_link(hook, settings)
        if again.server is None:
            raise
    log.info("the agent's MCP server came up meanwhile: acting for its session")
    if unsent is not None:  # not handed, not off: the server may take it now
        unsent = await work_status.hand(hook, settings.env, again.status, human)
    return await _open(_client(again, hook, settings, reconnect=False)), unsent


async def _open(client: BridgeClient) -> BridgeClient:
    """``client`` connected; closed again if it could not connect."""
    try:
        await client.connect()
    except BaseException:
        await client.close()
        raise
    return client


def _hooks_dir(settings: HookSettings) -> Path:
    return agent_link.private_dir(
        agent_link.private_dir(agent_link.runtime_dir(settings.env)) / "h"
    )


# --- the one way mail is shown ----------------------------------------------------------

Show = Callable[[list[Message], int], tuple[str, list[Message]]]
"""Unread mail (and how many more wait) -> the text and the messages it shows."""


def _shower(header: Callable[[int], str], hook: HookInput) -> Show:
    """Mail under ``header``; a context reference this checkout verifies (the session's
    directory, docs/mcp.md "Context by reference") is shown instead of its content."""
    cwd = hook.cwd or Path.cwd()

    def show(unread: list[Message], waiting: int) -> tuple[str, list[Message]]:
        # A new Checkout each time: a waiter lives for hours, its checkout's HEAD moves.
        local = localise(((m.id, m.context) for m in unread), Checkout(cwd))
        return mail_text(unread, header, waiting=waiting, local=local)

    return show


async def take_and_emit(
    client: BridgeClient,
    settings: HookSettings,
    show: Show,
    write: Callable[[str], Awaitable[None] | None],
    path: AckPath = "hook",
) -> int:
    """Shows the unread mail no other path has shown, then acks it; returns how many.

    ``write`` may be a coroutine function (the MCP channel: it returns once the line is
    out); the ack follows only after it returned, naming ``path`` (the senders' receipts
    say what showed their message, protocol §3.7).
    """
    assert client.address is not None
    lock = _hooks_dir(settings) / f"m-{key(client.url, client.address)}.lock"
    async with file_lock(lock):
        report = await client.status()  # a round trip: announced acks are in by now
        client.inbox.acked_elsewhere(report.acked)
        unread = client.unread()
        if not unread:
            return 0
        text, shown = show(unread, max(0, report.unread - len(unread)))
        if not shown:
            return 0
        pending = write(text)
        if pending is not None:
            await pending
        await client.ack(shown, wait=True, path=path)
        return len(shown)


async def _hold(hook: HookInput, settings: HookSettings, client: BridgeClient) -> None:
    """Advisor mode: waits up to ``wait_s`` for mail that may wake; leaves early when the
    session ends (its SessionEnd hook knocks on the slot), or the agent is gone."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.wait_s
    chain = settings.chain or tuple(agent_link.process_chain())
    watch = list(chain[1:3])  # the hook's shell and the agent that ran it
    parent = os.getppid()
    async with waiter_slot(*_slot_paths(hook, settings)) as leave:
        _ready(settings, client)
        stop = asyncio.ensure_future(leave.wait())
        try:
            while (remaining := deadline - loop.time()) > 0:
                mail = asyncio.ensure_future(client.wait(remaining, waking=True))
                done, _ = await asyncio.wait(
                    {stop, mail}, timeout=min(remaining, 5.0), return_when="FIRST_COMPLETED"
                )
                if mail not in done:
                    mail.cancel()
                    await asyncio.gather(mail, return_exceptions=True)
                if mail in done or stop in done or not all(_alive(p) for p in watch):
                    return
                if os.getppid() != parent:
                    return  # orphaned: the agent is gone
        finally:
            stop.cancel()
            await asyncio.gather(stop, return_exceptions=True)


def _waking(client: BridgeClient) -> bool:
    """Whether unread mail may carry a turn on (not all of a paused conversation)."""
    return any(not m.paused for m in client.unread())


_MACHINE_PROMPTS = ("ai-connect:", "<task-notification>", "<system-reminder>", "<channel")


def human_prompt(hook: HookInput) -> bool:
    """A prompt a person typed. Wakes arrive as prompts too, and are not: a Codex wake
    through ``codex queue`` and a Gemini continuation start with ``ai-connect:``; Claude
    Code runs UserPromptSubmit for an asyncRewake wake with its ``<task-notification>``
    (2.1.197) or ``<system-reminder>`` (2.1.33x)."""
    prompt = hook.raw.get("prompt")
    return (
        hook.event in PROMPT_EVENTS
        and isinstance(prompt, str)
        and bool(prompt.strip())
        and not prompt.lstrip().startswith(_MACHINE_PROMPTS)
    )


def _note(emit: Emit, what: str, exc: BaseException) -> None:
    log.warning("%s: %s", what, exc)
    emit("err", f"ai-connect hook: {what}: {neutralise(str(exc), multiline=True)}\n")


async def run_inject(hook: HookInput, settings: HookSettings, emit: Emit = std_emit) -> int:
    """Mid-turn: unread mail as additional context; nothing at all when there is none."""
    if hook.client in ("claude", "codex") and hook.event in PROMPT_EVENTS:
        await dismiss_waiter(hook, settings)  # a new turn: the idle-time waiter steps aside
    link = resolve_link(hook, settings)
    human = human_prompt(hook)
    unsent = await work_status.hand(hook, settings.env, link.status, human)
    try:
        client, unsent = await _connected(hook, settings, link, unsent, human)
    except BridgeError as exc:
        _note(emit, "no mail check", exc)
        return 0
    try:
        assert client.welcome is not None
        await work_status.publish(client, hook, settings.env, unsent)
        if human:
            await client.human()  # a person spoke: paused conversations resume (§3.6)
        if not client.welcome.unread:
            return 0
        await client.drain(settings.drain_s)

        show = _shower(context_header, hook)

        def write(text: str) -> None:
            emit("out", json.dumps(context_output(hook, text)))

        await take_and_emit(client, settings, show, write)
    except BridgeError as exc:
        _note(emit, "mail check failed", exc)
    finally:
        await client.close()
    return 0


async def run_turn_end(hook: HookInput, settings: HookSettings, emit: Emit = std_emit) -> int:
    """The turn ends: continue it with unread mail (Codex, Gemini CLI, Cursor, sync Stop)."""
    link = resolve_link(hook, settings)
    unsent = await work_status.hand(hook, settings.env, link.status, False)
    try:
        client, unsent = await _connected(hook, settings, link, unsent, False)
        shown = await _turn_end_mail(client, hook, settings, emit, unsent)
    except BridgeError as exc:
        _note(emit, "no mail check", exc)
        shown = 0
    if not shown and (empty := empty_output(hook)):
        emit("out", empty)
    return 0


async def _turn_end_mail(
    client: BridgeClient,
    hook: HookInput,
    settings: HookSettings,
    emit: Emit,
    unsent: Observation | None,
) -> int:
    """On the connected ``client`` (closed here): the status, then the mail that carries
    the turn on; how many messages were shown."""
    try:
        assert client.welcome is not None
        await work_status.publish(client, hook, settings.env, unsent)
        if client.welcome.unread:
            await client.drain(settings.drain_s)
        if settings.wait_s > 0 and not _waking(client):
            await _hold(hook, settings, client)  # advisor mode: the turn stays open

        show = _shower(turn_end_header, hook)

        def write(text: str) -> None:
            emit("out", json.dumps(turn_end_output(hook, text)))

        if _waking(client):  # mail of a paused conversation does not carry the turn on
            return await take_and_emit(client, settings, show, write)
        return 0
    finally:
        await client.close()


def _slot_paths(hook: HookInput, settings: HookSettings) -> tuple[Path, Path]:
    name = key(hook.client, hook.session or str(hook.cwd))
    folder = _hooks_dir(settings)
    return folder / f"w-{name}.sock", folder / f"w-{name}.lock"


async def dismiss_waiter(hook: HookInput, settings: HookSettings) -> bool:
    """Makes the session's waiter (if any) exit quietly; ``True`` if there was one."""
    return await dismiss(*_slot_paths(hook, settings))


# --- the Claude Code waiter -------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


Wake = Callable[[str], Awaitable[int]]
"""Hands the digest to the idle session; returns the hook's exit code (raises if it
could not: the mail then stays unread)."""


def claude_wake(emit: Emit) -> Wake:
    """Claude Code asyncRewake: the digest on stderr and exit 2 wake the session."""

    async def wake(text: str) -> int:
        emit("err", text)
        return 2

    return wake


def codex_wake(hook: HookInput, settings: HookSettings, chain: tuple[int, ...]) -> Wake:
    """Codex CLI: ``codex queue`` the digest for the session's thread (codex_wake.py)."""
    from ai_connect.hooks import codex_wake as cw

    async def wake(text: str) -> int:
        binary = cw.codex_binary(chain[1:], settings.env)
        if binary is None or not hook.session:
            raise cw.QueueFailed("cannot find the codex binary or the session's thread id")
        await cw.queue(binary, hook.session, text, settings.env)
        return 0

    return wake


async def run_wait(
    hook: HookInput, settings: HookSettings, emit: Emit = std_emit, wake: Wake | None = None
) -> int:
    """A background turn-end hook that wakes the idle session when mail comes.

    Claude Code (Stop + asyncRewake): exit 2 with the digest on stderr; Codex CLI (an
    ``async`` Stop hook): ``codex queue`` the digest, exit 0. Leaves with exit 0 and no
    output shortly before ``timeout_s``, when a newer waiter of the session starts, when
    the session's next prompt or its end dismisses it, or when the agent process or the
    MCP server it acts for is gone (at once if that server was stopped before: the
    session is ending).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max(0.0, settings.timeout_s - min(5.0, settings.timeout_s * 0.1))
    chain = settings.chain or tuple(agent_link.process_chain())
    log.info("waiter of %s session %s starts (process chain %s)", hook.client, hook.session, chain)
    gone = agent_link.server_gone(chain, env=settings.env)  # before find() drops its advert
    unsent = None
    if hook.client == "claude" and not gone:  # idle now (Codex: its sync Stop hook says so)
        advert = agent_link.find(chain, env=settings.env)
        sock = advert.status if advert is not None else None
        unsent = await work_status.hand(hook, settings.env, sock, False)
    if any(agent_link.one_shot(agent_link.command_line(pid)) for pid in chain[1:4]):
        log.info("waiter leaves: a one-shot agent run (claude -p, codex exec) has no next turn")
        return 0  # claude -p, codex exec: no turn follows, and waiting would hold it open
    if wake is None:
        wake = codex_wake(hook, settings, chain) if hook.client == "codex" else claude_wake(emit)
    if gone:
        log.info("waiter leaves: the agent's MCP server has stopped (the session is ending)")
        return 0  # the session is ending: Claude Code has stopped its MCP server already
    if os.name == "posix" and os.getppid() == 1:
        log.info("waiter leaves: orphaned at birth (the agent that ran it is gone)")
        return 0  # orphaned at birth: the agent that ran this hook is gone already
    async with waiter_slot(*_slot_paths(hook, settings)) as leave:
        link = resolve_link(hook, settings)
        # Claude Code stops its MCP servers when a session ends, also when a stream-json
        # input just ends (and then waits for this hook): leave with the server.
        watch = [p for p in (link.agent, link.server) if p] or list(chain[1:3])
        client = _client(link, hook, settings, reconnect=True)
        await client.connect(wait=False)
        announce = asyncio.ensure_future(_announce(client, hook, settings, unsent))
        try:
            show = _shower(wake_header, hook)
            code = await _wait_loop(client, settings, leave, deadline, watch, wake, show)
            log.info("waiter of %s leaves with exit %d", client.address, code)
            return code
        finally:
            announce.cancel()
            await asyncio.gather(announce, return_exceptions=True)
            await client.close()


async def _announce(
    client: BridgeClient, hook: HookInput, settings: HookSettings, unsent: Observation | None
) -> None:
    """Once the waiter's link is up (however long the bridge takes: it keeps trying),
    publishes the work status no MCP server took and says that it listens."""
    told = False
    while True:
        try:
            await client.wait_connected(settings.connect_timeout_s)
            break
        except BridgeError as exc:
            if not told:  # once: a bridge down for hours does not fill the log
                log.warning("waiter not connected yet (%s); it keeps trying", exc)
            told = True
    with contextlib.suppress(BridgeError):
        await work_status.publish(client, hook, settings.env, unsent)
    _ready(settings, client)
    log.info("waiter listens as %s on %s", client.address, client.url)


async def _wait_loop(
    client: BridgeClient,
    settings: HookSettings,
    leave: asyncio.Event,
    deadline: float,
    watch: list[int],
    wake: Wake,
    show: Show,
) -> int:
    loop = asyncio.get_running_loop()
    parent = os.getppid()
    stop = asyncio.ensure_future(leave.wait())
    closed = asyncio.ensure_future(client.wait_state(LinkState.CLOSED, deadline - loop.time()))
    failed = False
    try:
        while (remaining := deadline - loop.time()) > 0:
            # After a failed wake the mail is still unread: look again in 5 s, not at once.
            mail = asyncio.ensure_future(
                asyncio.sleep(min(remaining, 5.0), False)
                if failed
                else client.wait(remaining, waking=True)  # a paused conversation wakes nobody
            )
            # Wake at least every 5 s to see whether the agent (and its server) still exist.
            done, _ = await asyncio.wait(
                {stop, closed, mail}, timeout=min(remaining, 5.0), return_when="FIRST_COMPLETED"
            )
            failed = False
            if mail not in done:
                mail.cancel()
            if stop in done or closed in done or not all(_alive(p) for p in watch):
                why = "dismissed" if stop in done else "link closed" if closed in done else None
                log.info("waiter steps aside: %s", why or f"a watched process is gone {watch}")
                return 0
            if os.getppid() != parent:
                log.info("waiter leaves: orphaned (whatever ran it is gone)")
                return 0  # orphaned: whatever ran this hook is gone, nobody is left to wake
            if mail in done and mail.result():
                codes: list[int] = []
                try:
                    shown = await take_and_emit(client, settings, show, _writer(wake, codes))
                except BridgeError as exc:
                    log.warning("waiter could not wake its agent (%s); the mail stays unread", exc)
                    failed = True  # the link dropped, or the wake failed: the mail stays unread
                    continue
                if shown:
                    log.info("waiter woke its agent with %d message(s)", shown)
                    return codes[0]
        return 0
    finally:
        for task in (stop, closed):
            task.cancel()
        await asyncio.gather(stop, closed, return_exceptions=True)


def _writer(wake: Wake, codes: list[int]) -> Callable[[str], Awaitable[None]]:
    async def write(text: str) -> None:
        codes.append(await wake(text))

    return write


def _ready(settings: HookSettings, client: BridgeClient) -> None:
    """Tells a watcher (tests, the bench) that the waiter listens: one line on a pipe.

    ``AI_CONNECT_HOOK_READY_FD``: an inherited descriptor; ``AI_CONNECT_HOOK_READY_FIFO``:
    a named pipe (Claude Code passes its hooks no descriptor beyond stdio); without a
    reader on it the line is dropped.
    """
    line = f"ready {client.address}\n".encode()
    fd = settings.env.get("AI_CONNECT_HOOK_READY_FD")
    if fd and fd.isdigit():
        with contextlib.suppress(OSError):
            os.write(int(fd), line)
    fifo = settings.env.get("AI_CONNECT_HOOK_READY_FIFO")
    if fifo:
        with contextlib.suppress(OSError):
            out = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(out, line)
            finally:
                os.close(out)
