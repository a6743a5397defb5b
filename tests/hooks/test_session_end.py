"""The waiter and a session that ends: Claude Code stops its MCP servers first (also when
a stream-json input just ends) and then waits for its background hooks, so a waiter must
not wait once its session's MCP server is gone. And the waiter's ready line on a named
pipe, the way the end-to-end tests hear it through Claude Code."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ai_connect.hooks import agent_link
from ai_connect.hooks.runtime import dismiss_waiter, run_wait
from tests.claude_e2e.support import ReadyPipe
from tests.client.support import run
from tests.support.inprocess import bridge, unserved_url

from .support import NAME, Emitted, agent, claude_input, hook, runtime_dir, settings

PROJECT = "proj"


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def _stale_advert(runtime: Path, agent: int, started: float) -> None:
    folder = agent_link.private_dir(agent_link.private_dir(runtime) / "agents")
    pid = _dead_pid()
    (folder / f"{agent}-{pid}.json").write_text(
        f'{{"agent": {agent}, "pid": {pid}, "url": "ws://x", "name": "{NAME}", '
        f'"project": "{PROJECT}", "session": "s", "started": {started}}}'
    )


def test_server_gone_reads_the_newest_advert_of_the_nearest_agent(tmp_path: Path) -> None:
    """A killed server's advert means gone; a newer live one (a restart) means not."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    agent = os.getppid()  # a live process stands in for the agent
    assert not agent_link.server_gone([10, agent], env=env)
    _stale_advert(tmp_path, agent, started=time.time())
    assert agent_link.server_gone([10, agent], env=env)
    assert not agent_link.server_gone([10, 30], env=env)
    with agent_link.advertise("ws://x", NAME, PROJECT, "s2", env=env, agent=agent):
        assert not agent_link.server_gone([10, agent], env=env)


def test_the_waiter_leaves_at_once_when_its_session_stopped_its_mcp_server(
    tmp_path: Path,
) -> None:
    """A Stop hook that starts after Claude Code stopped the MCP server exits 0 quietly."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            _stale_advert(rt, os.getppid(), started=time.time())
            async with bridge() as srv:
                s = settings(rt, srv.url, chain=(os.getpid(), os.getppid()), timeout_s=60)
                out = Emitted()
                stop = hook("claude", claude_input("Stop", tmp_path))
                assert await asyncio.wait_for(run_wait(stop, s, out), 5) == 0
                assert (out.out, out.err) == ([], [])

    run(scenario())


def test_the_waiter_says_it_listens_on_a_named_pipe(tmp_path: Path) -> None:
    """With AI_CONNECT_HOOK_READY_FIFO the waiter writes ``ready ADDRESS`` there."""

    async def scenario() -> None:
        with runtime_dir() as rt:
            async with (
                bridge() as srv,
                agent(srv.url, rt, PROJECT, "s1"),
                ReadyPipe(tmp_path / "ready.fifo") as pipe,
            ):
                s = settings(rt, srv.url, timeout_s=60)
                s = replace(s, env={**s.env, "AI_CONNECT_HOOK_READY_FIFO": str(pipe.path)})
                stop = hook("claude", claude_input("Stop", tmp_path))
                waiter = asyncio.create_task(run_wait(stop, s, Emitted()))
                assert await pipe.ready(5) == f"{NAME} ({PROJECT})"
                assert await dismiss_waiter(stop, s)
                assert await asyncio.wait_for(waiter, 5) == 0

    run(scenario())


def test_a_server_that_stops_marks_its_advert_so_the_last_hooks_see_it(tmp_path: Path) -> None:
    """A stopped server (SIGTERM, Ctrl-C, stdin closed) marks its advert stopped: hooks no
    longer attach to it, yet a waiter started afterwards knows the server is gone; the
    mark goes once its agent is gone too."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    with agent_link.advertise("ws://x", NAME, PROJECT, "s1", env=env, agent=os.getpid()):
        assert not agent_link.server_gone([os.getpid()], env=env)
    assert agent_link.find([os.getpid()], env=env) is None
    assert agent_link.server_gone([os.getpid()], env=env)
    dead = _dead_pid()
    with agent_link.advertise("ws://x", NAME, PROJECT, "s2", env=env, agent=dead):
        pass
    marks = list((tmp_path / "agents").glob(f"{dead}-*"))
    assert len(marks) == 1
    agent_link.find([dead], env=env)
    assert not marks[0].exists()


def test_a_waiter_whose_bridge_comes_later_says_it_listens_once_connected(
    tmp_path: Path,
) -> None:
    """Its first connect failing (a bridge restarting, or slow to answer under load) does
    not silence the waiter: it keeps trying, and says ``ready`` when its link is up."""

    async def scenario() -> None:
        url = unserved_url()
        with runtime_dir() as rt:
            async with ReadyPipe(tmp_path / "ready.fifo") as pipe:
                fast = {"reconnect_delays": lambda: iter(lambda: 0.05, None)}
                s = settings(rt, url, timeout_s=60, connect_timeout_s=0.2)
                env = {**s.env, "AI_CONNECT_HOOK_READY_FIFO": str(pipe.path)}
                s = replace(s, client_options={**s.client_options, **fast}, env=env)
                stop = hook("claude", claude_input("Stop", tmp_path))
                waiter = asyncio.create_task(run_wait(stop, s, Emitted()))
                with pytest.raises(AssertionError, match="no waiter said ready"):
                    await pipe.ready(0.5)  # nothing serves the URL: no ready
                async with bridge(url=url):
                    assert (await pipe.ready(5)).startswith(f"{NAME} (")
                    assert await dismiss_waiter(stop, s)
                    assert await asyncio.wait_for(waiter, 5) == 0

    run(scenario())
