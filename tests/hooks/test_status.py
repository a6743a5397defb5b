"""Work status through the hooks (docs/hooks.md "Work status"): handed to the session's MCP
server when it listens, published by the hook itself otherwise; paths repository-relative,
nothing from outside the repository, off when the user says so."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ai_connect.client import BridgeClient
from ai_connect.hooks import agent_link
from ai_connect.hooks.runtime import run_inject, run_turn_end
from ai_connect.identity import format_address
from ai_connect.protocol import WorkView
from ai_connect.work_status import link
from ai_connect.work_status.publisher import Publisher, publishing
from ai_connect.work_status.settings import StatusSettings
from tests.client.support import make_client, run
from tests.support.checkout import git_checkout
from tests.support.inprocess import bridge

from .support import NAME, Emitted, claude_input, codex_input, hook, runtime_dir
from .support import settings as hook_settings

PROJECT = "proj"
ADDRESS = format_address(NAME, PROJECT)
OWN = format_address(NAME, "app")
"""Without an MCP server a hook acts for the config name and the git root's name."""


def edit(repo: Path, path: str, event: str = "PostToolUse") -> dict[str, Any]:
    return claude_input(event, repo, tool_name="Write", tool_input={"file_path": path})


async def status_of(url: str, address: str = ADDRESS) -> WorkView | None:
    async with make_client(url, "Bob", PROJECT) as bob:
        return {p.address: p.work for p in await bob.peers()}[address]


@contextlib.asynccontextmanager
async def mcp_server(
    url: str,
    runtime: Path,
    cwd: Path,
    settings: StatusSettings | None = None,
    *,
    project: str = PROJECT,
) -> AsyncIterator[Publisher]:
    """The session's MCP server as ``ai-connect mcp`` runs it: connected, advertised with
    its status socket, publishing what its hooks hand it."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(runtime)}
    sock = link.socket_path(env)
    client = make_client(url, NAME, project, session="s1")
    await client.connect()
    try:
        async with publishing(client, settings or StatusSettings(), sock, cwd) as publisher:
            assert publisher is not None
            with agent_link.advertise(
                url, NAME, project, "s1", env=env, agent=os.getpid(), status=sock
            ):
                yield publisher
    finally:
        await client.close()


def test_an_edit_reaches_peers_through_the_sessions_mcp_server(tmp_path: Path) -> None:
    """PostToolUse(Write) hands the file to the MCP server, which publishes the branch,
    HEAD, dirty count and the repo-relative file; the hook itself sends no status."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        with runtime_dir() as rt:
            async with bridge() as srv, mcp_server(srv.url, rt, repo) as publisher:
                data = edit(repo, str(repo / "src" / "app.py"))
                await run_inject(hook("claude", data), hook_settings(rt, srv.url), Emitted())
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and publisher.frames == 1
                assert (work.repo, work.branch, work.activity) == (
                    "github.com/org/app",
                    "main",
                    "working",
                )
                assert work.files == ["src/app.py"] and work.dirty == 1
                assert work.head is not None and len(work.head) == 7
                assert not (rt / "h").exists() or not list((rt / "h").glob("s-*.json"))

    run(scenario())


def test_the_same_status_again_sends_no_frame_and_the_turn_end_says_idle(
    tmp_path: Path,
) -> None:
    """A repeat changes nothing (no frame); Stop (the waiter's hook) publishes idle."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        with runtime_dir() as rt:
            async with bridge() as srv, mcp_server(srv.url, rt, repo) as publisher:
                settings = hook_settings(rt, srv.url)
                for _ in range(3):
                    data = edit(repo, "src/app.py")  # relative to cwd
                    await run_inject(hook("claude", data), settings, Emitted())
                    await publisher.settled(5)
                assert publisher.frames == 1
                publisher.waiting(True)
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and work.activity == "waiting"
                publisher.waiting(False)
                await run_turn_end(hook("codex", codex_input("Stop", repo)), settings, Emitted())
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and work.activity == "idle"
                assert (
                    work.files == ["src/app.py"] and publisher.frames == 4
                )  # waiting, working, idle

    run(scenario())


def test_without_an_mcp_server_the_hook_publishes_itself(tmp_path: Path) -> None:
    """No server listens: the hook sends the status on its own connection, keeps the
    session's tracker between runs, and sends nothing when nothing changed."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        with runtime_dir() as rt:
            async with bridge() as srv:
                settings = hook_settings(rt, srv.url)
                await run_inject(hook("claude", edit(repo, "src/app.py")), settings, Emitted())
                first = await status_of(srv.url, OWN)
                assert first is not None and first.files == ["src/app.py"]
                await run_inject(hook("claude", edit(repo, "src/app.py")), settings, Emitted())
                again = await status_of(srv.url, OWN)
                assert again == first  # same ts: no second frame was stored
                (repo / "README.md").write_text("x")
                await run_inject(hook("claude", edit(repo, "README.md")), settings, Emitted())
                work = await status_of(srv.url, OWN)
                assert work is not None and work.files == ["README.md", "src/app.py"]
                assert work.dirty == 2

    run(scenario())


def test_files_outside_the_repository_are_never_published(tmp_path: Path) -> None:
    """An edit of a file in another folder, or through .., is left out; reads are no
    edits; the repository's files stay."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        (tmp_path / "secret.txt").write_text("x")
        with runtime_dir() as rt:
            async with bridge() as srv, mcp_server(srv.url, rt, repo) as publisher:
                settings = hook_settings(rt, srv.url)
                for data in (
                    edit(repo, str(tmp_path / "secret.txt")),
                    edit(repo, "../secret.txt"),
                    claude_input("PostToolUse", repo, tool_name="Read", tool_input={
                        "file_path": str(repo / "src" / "app.py")}),
                    edit(repo, "/etc/hosts"),
                ):  # fmt: skip
                    await run_inject(hook("claude", data), settings, Emitted())
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and work.files == []
                assert "secret" not in work.model_dump_json()

    run(scenario())


def test_publishing_off_publishes_nothing_at_all(tmp_path: Path) -> None:
    """AI_CONNECT_STATUS=off (or status.publish: false): no hand-over, no frame."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        with runtime_dir() as rt:
            async with bridge() as srv, mcp_server(srv.url, rt, repo) as publisher:
                settings = hook_settings(rt, srv.url)
                settings = replace(settings, env={**settings.env, "AI_CONNECT_STATUS": "off"})
                await run_inject(hook("claude", edit(repo, "src/app.py")), settings, Emitted())
                await publisher.settled(5)
                assert publisher.frames == 0
                assert await status_of(srv.url) is None
            config = rt / "config.yaml"
            config.write_text("status:\n  publish: false\n")
            async with bridge() as srv:
                settings = hook_settings(rt, srv.url)
                off = {**settings.env, "AI_CONNECT_CONFIG": str(config)}
                settings = replace(settings, env=off)
                await run_inject(hook("claude", edit(repo, "src/app.py")), settings, Emitted())
                assert await status_of(srv.url, OWN) is None

    run(scenario())


def test_a_task_summary_only_when_opted_in_and_redacted(tmp_path: Path) -> None:
    """status.task_summary: true adds the prompt's first line, token hidden; without it
    no prompt text leaves the machine."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        prompt = "Fix the login test, token=aic_0123abcd_SECRETSECRET\nmore detail"
        data = claude_input("UserPromptSubmit", repo, prompt=prompt)
        with runtime_dir() as rt:
            async with bridge() as srv, mcp_server(srv.url, rt, repo) as publisher:
                await run_inject(hook("claude", data), hook_settings(rt, srv.url), Emitted())
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and work.task is None and work.activity == "working"
            opted = StatusSettings(task_summary=True)
            async with bridge() as srv, mcp_server(srv.url, rt, repo, opted) as publisher:
                config = rt / "config.yaml"
                config.write_text("status:\n  task_summary: true\n")
                settings = hook_settings(rt, srv.url)
                env = {**settings.env, "AI_CONNECT_CONFIG": str(config)}
                settings = replace(settings, env=env)
                await run_inject(hook("claude", data), settings, Emitted())
                await publisher.settled(5)
                work = await status_of(srv.url)
                assert work is not None and work.task is not None
                assert work.task.startswith("Fix the login test")
                assert "SECRET" not in work.task and "more detail" not in work.task

    run(scenario())


def test_a_broken_link_falls_back_to_publishing_from_the_hook(tmp_path: Path) -> None:
    """An advert naming a socket nobody listens on: the hook publishes itself."""

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        with runtime_dir() as rt:
            async with bridge() as srv:
                client: BridgeClient = make_client(srv.url, NAME, PROJECT, session="s1")
                await client.connect()
                env = {"AI_CONNECT_RUNTIME_DIR": str(rt)}
                dead = link.socket_path(env)
                with agent_link.advertise(
                    srv.url, NAME, PROJECT, "s1", env=env, agent=os.getpid(), status=dead
                ):
                    data = edit(repo, "src/app.py")
                    await run_inject(hook("claude", data), hook_settings(rt, srv.url), Emitted())
                await client.close()
                work = await status_of(srv.url)
                assert work is not None and work.files == ["src/app.py"]

    run(scenario())


def test_the_hand_over_is_answered_at_once(tmp_path: Path) -> None:
    """The link takes an Observation and says so with one byte; junk is refused."""

    async def scenario() -> None:
        from ai_connect.work_status.observe import Observation

        taken: list[Observation] = []
        with runtime_dir() as rt:
            sock = link.socket_path({"AI_CONNECT_RUNTIME_DIR": str(rt)})
            async with link.serving(sock, taken.append):
                assert await link.hand_over(sock, Observation("working", ("a.py",), "/x"))
                reader, writer = await asyncio.open_unix_connection(str(sock))
                writer.write(b"[1, 2]\n")
                assert await asyncio.wait_for(reader.read(1), 5) == b"e"
                writer.close()
            assert taken == [Observation("working", ("a.py",), "/x")]
            assert not await link.hand_over(sock, taken[0])  # nobody listens any more

    run(scenario())


@pytest.mark.parametrize(("event", "activity"), [("UserPromptSubmit", "working"), ("Stop", "idle")])
def test_a_server_that_comes_up_while_the_hook_runs_still_gets_the_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, event: str, activity: str
) -> None:
    """The agent's first prompt can come before its MCP server is up (Codex starts both
    at once): the hook finds no advert, the server then advertises and takes the
    address, and the hook's connection is refused (held by another session). The hook
    looks again, hands its status to the server, and checks the mail as that session.
    Before, the status and the mail check were lost for the turn (a Codex CI flake)."""
    import ai_connect.hooks.status as hook_status

    async def scenario() -> None:
        repo = git_checkout(tmp_path / "app")
        async with contextlib.AsyncExitStack() as stack:
            rt = stack.enter_context(runtime_dir())
            srv = await stack.enter_async_context(bridge())
            real_hand = hook_status.hand
            servers: list[Publisher] = []

            async def hand_then_server_starts(*args: Any) -> Any:
                handed = await real_hand(*args)  # the hook found no advert: nobody took it
                if not servers:  # now the server advertises and registers, as "app"
                    started = mcp_server(srv.url, rt, repo, project="app")
                    servers.append(await stack.enter_async_context(started))
                    async with make_client(srv.url, "Bob", PROJECT) as bob:
                        await bob.send(OWN, "mail for the new session")
                return handed

            monkeypatch.setattr(hook_status, "hand", hand_then_server_starts)
            emitted = Emitted()
            data = codex_input(event, repo, prompt="add a feature")
            runs = run_inject if event == "UserPromptSubmit" else run_turn_end
            await runs(hook("codex", data), hook_settings(rt, srv.url), emitted)
            assert not emitted.err, emitted.err
            await servers[0].settled(5)
            work = await status_of(srv.url, OWN)
            assert work is not None and work.activity == activity
            assert servers[0].frames == 1  # the server took it and published it
            assert "mail for the new session" in "".join(emitted.out)

    run(scenario())
