"""No polling with the real Claude Code (issue 4): wake latency and idle cost.

    python bench/claude_bench.py [--runs N] [--idle-s 300] [--store sqlite|memory]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database); the pinned
Claude Code (``sh scripts/ensure_clients.sh``) headless with stream-json input kept open,
in a project where ``ai-connect setup claude-code --project`` ran, against the scripted
Messages API of the end-to-end tests (tests/claude_e2e/fake_api.py: every model request is
recorded and answered at once). A sender ``alice`` is a BridgeClient in this process.

- **wake**, N times: the turn has ended and ``ai-connect hook wait`` says it listens (its
  ready line on a named pipe); alice sends; measured from issuing the send until Claude
  Code's next model request has arrived (that request must carry the message). Claude
  Code's own share, from the woken turn's start to its request, is the
  ``time_to_request_ms`` of the turn's stream-json ``result``.
- **idle**: after the last wake, the session sits idle for ``--idle-s`` seconds (default
  300) with its waiter listening; counted: model requests (target 0; the original's
  advisor loop, ``peer_read`` then a 2 s sleep, about 30 a minute: 150), and the CPU time
  of Claude Code and of the waiter. Then one more message must still wake it.

Every wait is bounded; the idle window is the measurement itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

from tests.agents.clients import CLIENTS  # noqa: E402
from tests.claude_e2e.fake_api import ScriptedApi, Text, texts  # noqa: E402
from tests.claude_e2e.support import (  # noqa: E402
    ClaudeSession,
    ReadyPipe,
    claude_env,
    pinned_version,
    run_setup,
)

from ai_connect.client import BridgeClient  # noqa: E402
from harness import BridgeOptions, BridgeProcess  # noqa: E402

PROJECT = "bench"
TICK = os.sysconf("SC_CLK_TCK")


def _binary() -> Path:
    binary = CLIENTS["claude"].path(pinned_version())
    if not binary.exists():
        sys.exit("run `sh scripts/ensure_clients.sh` first: it installs the pinned Claude Code")
    return binary


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its reaped children (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICK


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


async def main(runs: int, idle_s: float, store: str) -> dict[str, object]:
    root = Path(tempfile.mkdtemp(prefix="acc"))
    home, project, runtime = root / "home", root / PROJECT, root / "rt"
    for folder in (home, project, runtime):
        folder.mkdir(mode=0o700)
    async with (
        BridgeProcess(BridgeOptions(store=store), "claude") as bridge,
        ScriptedApi() as api,
        ReadyPipe(root / "ready.fifo") as ready,
    ):
        alice = BridgeClient(bridge.url, "alice", PROJECT)
        await alice.connect()
        env = claude_env(
            home, api.url,
            AI_CONNECT_BRIDGE=bridge.url, AI_CONNECT_PEER_NAME="cc",
            AI_CONNECT_RUNTIME_DIR=str(runtime), AI_CONNECT_HOOK_READY_FIFO=str(ready.path),
        )  # fmt: skip
        await run_setup(project, env)
        async with ClaudeSession(_binary(), project, env) as cc:
            api.reply(Text("ready"))
            await cc.say("hello")
            await cc.turn_end(60)
            wakes: list[float] = []
            starts: list[float] = []
            for n in range(runs + 1):
                await ready.ready(60)
                if n == runs:
                    break
                index = len(api.requests)
                begun = time.perf_counter()
                await alice.send("cc", f"wake {n}")
                request = await api.request(index, 60)
                wakes.append((time.perf_counter() - begun) * 1000)
                assert f"wake {n}" in texts(request), "the woken request lacks the message"
                api.reply(Text("ok"))
                turn = await cc.turn_end(60)
                if isinstance(turn.get("time_to_request_ms"), int | float):
                    starts.append(float(turn["time_to_request_ms"]))

            assert cc.pid is not None
            waiters = [p for p in _children(cc.pid) if b"hook" in _cmdline(p)]
            before = len(api.requests)
            cpu = _cpu_s(cc.pid), sum(_cpu_s(p) for p in _tree(waiters))
            await asyncio.sleep(idle_s)  # the measurement window: nothing may happen
            idle_requests = len(api.requests) - before
            cpu_after = _cpu_s(cc.pid), sum(_cpu_s(p) for p in _tree(waiters))
            begun = time.perf_counter()
            await alice.send("cc", "after the idle window")
            request = await api.request(before + idle_requests, 60)
            late_wake = (time.perf_counter() - begun) * 1000
            assert "after the idle window" in texts(request)
            api.reply(Text("ok"))
            await cc.turn_end(60)
            await cc.end_input(30)
        await alice.close()
    return {
        "wakes": wakes,
        "starts": starts,
        "idle_s": idle_s,
        "idle_requests": idle_requests,
        "claude_cpu_s": cpu_after[0] - cpu[0],
        "waiter_cpu_s": cpu_after[1] - cpu[1],
        "late_wake_ms": late_wake,
    }


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _tree(pids: list[int]) -> list[int]:
    """``pids`` and all their descendants (the waiter runs under ``sh -c``)."""
    out, todo = [], list(pids)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(_children(pid))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--idle-s", type=float, default=300.0)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    args = parser.parse_args()
    result = asyncio.run(main(args.runs, args.idle_s, args.store))
    wakes = sorted(result["wakes"])  # type: ignore[call-overload]
    print(f"{datetime.date.today()} · Claude Code {pinned_version()} · store {args.store} · "
          f"load {os.getloadavg()[0]:.2f}")  # fmt: skip
    print("| measure | n | p50 | p95 | max | target |")
    print("|---|---|---|---|---|---|")
    p95 = wakes[min(len(wakes) - 1, int(len(wakes) * 0.95))]
    print(f"| wake: send issued -> Claude Code's next model request | {len(wakes)} | "
          f"{statistics.median(wakes):.0f} ms | {p95:.0f} ms | {wakes[-1]:.0f} ms | |")  # fmt: skip
    starts = sorted(result["starts"])  # type: ignore[call-overload]
    if starts:
        label = "of which Claude Code's woken turn, start -> request (time_to_request_ms)"
        print(f"| {label} | {len(starts)} | {statistics.median(starts):.0f} ms | "
              f"| {starts[-1]:.0f} ms | |")  # fmt: skip
    print(f"| model requests during {result['idle_s']:g} s idle | 1 | "
          f"{result['idle_requests']} | | | 0 (original: ~150) |")  # fmt: skip
    print(f"| CPU during the idle window: Claude Code / waiter | 1 | "
          f"{result['claude_cpu_s']:.2f} s / {result['waiter_cpu_s']:.2f} s | | | |")  # fmt: skip
    print(f"| wake after the idle window | 1 | {result['late_wake_ms']:.0f} ms | | | |")
