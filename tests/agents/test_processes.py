"""The agents tests' wait for a turn's hooks to end (processes.py), on real processes."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.agents.processes import descendants, exited, hooks_ended

# Stands in for a hook: runs until its stdin closes; its arguments name it.
_HOOK = [sys.executable, "-c", "import sys; sys.stdin.read()", "hook", "codex"]


def test_hooks_ended_waits_for_a_running_hook_and_names_it() -> None:
    async def scenario() -> None:
        hook = await asyncio.create_subprocess_exec(*_HOOK, stdin=asyncio.subprocess.PIPE)
        other = await asyncio.create_subprocess_exec(
            *_HOOK[:3], "hook", "wait", stdin=asyncio.subprocess.PIPE
        )
        try:
            assert {hook.pid, other.pid} <= set(descendants(os.getpid()))
            waiting = asyncio.create_task(hooks_ended(os.getpid(), ("hook", "codex"), 10))
            await asyncio.sleep(0)  # it is waiting: the hook still runs
            assert not waiting.done()
            assert hook.stdin is not None
            hook.stdin.close()
            ended = await asyncio.wait_for(waiting, 10)  # ("hook wait" is not waited for)
            assert len(ended) == 1 and ended[0].endswith("hook codex")
            assert hook.returncode is None or await hook.wait() == 0
        finally:
            assert other.stdin is not None
            other.stdin.close()
            await other.wait()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_exited_returns_for_a_gone_process_and_fails_after_its_time() -> None:
    async def scenario() -> None:
        proc = await asyncio.create_subprocess_exec(*_HOOK, stdin=asyncio.subprocess.PIPE)
        with pytest.raises(AssertionError, match="still runs"):
            await exited(proc.pid, 0.05)
        assert proc.stdin is not None
        proc.stdin.close()
        await proc.wait()
        await exited(proc.pid, 1)  # reaped: nothing to wait for

    asyncio.run(asyncio.wait_for(scenario(), 30))
