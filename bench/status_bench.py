"""Benchmark of the work status (issue 15 item 1): frames per tool call, and what the
hook adds to each tool call, beside an empty hook run measured in the same run.

    python bench/status_bench.py [--samples N]

One bridge process (``python -m ai_connect bridge --port 0``, fresh SQLite database), one
git checkout (a remote, a commit, files to edit). This process plays the session's MCP
server as ``ai-connect mcp`` over stdio runs it: a BridgeClient ``Claude (bench)``
advertising its session and its status socket, with the Publisher that takes the hooks'
observations. The hooks run as real processes, as Claude Code starts them
(``ai-connect hook claude`` with a PostToolUse JSON on stdin, a Write of a file of the
checkout), in three variants taken in turn (interleaved, so load hits all alike):

- **reference**: the same hook with publishing off (``AI_CONNECT_STATUS=off``): the
  hook run every tool call costs anyway (start, mail check);
- **status via the MCP server**: publishing on; the hook hands its observation over the
  local socket, the server reads git and publishes (the default path);
- **status from the hook**: publishing on, no server listening: the hook reads git and
  publishes on its own connection (the fallback).

The tool calls edit four files in turn, then the same file again and again (a repeat
changes nothing: no frame). Frames are counted where they are sent (the Publisher) and
where they land (``work`` events on an observer's feed). Model requests: none, by
construction (no tool of the model is involved); the real-client test
(tests/claude_e2e/test_work_status.py) checks it with Claude Code.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.client import BridgeClient
from ai_connect.hooks import agent_link
from ai_connect.protocol import FeedEvent
from ai_connect.work_status import link
from ai_connect.work_status.observe import Observation
from ai_connect.work_status.publisher import publishing
from ai_connect.work_status.settings import StatusSettings
from harness import BridgeOptions, BridgeProcess

PROJECT = "bench"
FILES = ["src/a.py", "src/b.py", "src/c.py", "README.md"]


def _checkout(root: Path) -> Path:
    root.mkdir(parents=True)
    for argv in (
        ["init", "-q", "-b", "main"],
        ["remote", "add", "origin", "git@github.com:org/bench.git"],
        ["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "--allow-empty", "-m", "x"],
    ):
        subprocess.run(["git", "-C", str(root), *argv], check=True, capture_output=True)
    (root / "src").mkdir()
    for name in FILES:
        (root / name).write_text("x = 1\n")
    return root


def _stdin(repo: Path, path: str, session: str) -> bytes:
    data = {
        "session_id": session, "transcript_path": "/dev/null", "cwd": str(repo),
        "hook_event_name": "PostToolUse", "tool_name": "Write",
        "tool_input": {"file_path": str(repo / path), "content": "x = 2\n"},
        "tool_response": {"success": True},
    }  # fmt: skip
    return json.dumps(data).encode()


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def _spawn(argv: list[str], env: dict[str, str], stdin: bytes) -> tuple[float, float]:
    """Runs one hook process to its end; its wall ms and its CPU ms (user + system)."""
    cpu = _cpu()
    begun = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    if proc.returncode != 0 or err:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode()[-500:]}")
    return (time.perf_counter() - begun) * 1000, (_cpu() - cpu) * 1000


def _stats(samples: list[tuple[float, float]]) -> tuple[float, float, float]:
    """Wall p50, wall p95, CPU p50 (ms)."""
    walls = sorted(w for w, _ in samples)
    p95 = walls[min(len(walls) - 1, int(len(walls) * 0.95))]
    return statistics.median(walls), p95, statistics.median(c for _, c in samples)


async def _count_work(observer: BridgeClient, counts: dict[str, int]) -> None:
    async for item in observer.observe():
        if isinstance(item, FeedEvent) and item.kind == "work" and item.peer is not None:
            counts[item.peer.address] = counts.get(item.peer.address, 0) + 1


async def _hand_over_us(sock: Path, repo: Path, n: int) -> float:
    """The local link alone, in this process: µs per observation handed over (p50)."""
    times = []
    for i in range(n):
        observation = Observation("working", (FILES[i % len(FILES)],), str(repo))
        begun = time.perf_counter()
        if not await link.hand_over(sock, observation):
            raise RuntimeError("the hand-over was refused")
        times.append((time.perf_counter() - begun) * 1e6)
    return statistics.median(times)


async def main(samples: int) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="acs"))
    repo = _checkout(tmp / "bench")
    runtime = tmp / "rt"
    script = shutil.which("ai-connect", path=os.path.dirname(sys.executable))
    hook = [script] if script else [sys.executable, "-m", "ai_connect"]
    hook = [*hook, "hook", "claude"]
    async with BridgeProcess(BridgeOptions(store="sqlite"), "status") as bridge:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")},
            "AI_CONNECT_RUNTIME_DIR": str(runtime),
            "AI_CONNECT_CONFIG": str(tmp / "none.yaml"),
            "AI_CONNECT_BRIDGE": bridge.url,
            "AI_CONNECT_PEER_NAME": "Hooked",
        }
        off = {**env, "AI_CONNECT_STATUS": "off"}
        link_env = {"AI_CONNECT_RUNTIME_DIR": str(runtime)}
        sock = link.socket_path(link_env)
        counts: dict[str, int] = {}
        observer = BridgeClient(bridge.url, "ops", PROJECT, mode="observe")
        mcp = BridgeClient(bridge.url, "Claude", PROJECT, session="bench-mcp")
        await observer.connect()
        await mcp.connect()
        counting = asyncio.create_task(_count_work(observer, counts))
        ref: list[tuple[float, float]] = []
        via_server: list[tuple[float, float]] = []
        from_hook: list[tuple[float, float]] = []
        calls = [FILES[i % len(FILES)] if i < 2 * len(FILES) else FILES[0] for i in range(samples)]
        async with publishing(mcp, StatusSettings(), sock, repo) as publisher:
            assert publisher is not None
            with agent_link.advertise(
                bridge.url, "Claude", PROJECT, "bench-mcp", env=link_env, agent=os.getpid(),
                status=sock,
            ):  # fmt: skip
                for path in calls:  # interleaved: reference, via the server
                    ref.append(await _spawn(hook, off, _stdin(repo, path, "ref")))
                    via_server.append(await _spawn(hook, env, _stdin(repo, path, "srv")))
                await publisher.settled(10)
                server_frames = publisher.frames
                hand_us = await _hand_over_us(sock, repo, 200)
                await publisher.settled(10)
        for path in calls:  # no server listens now: the hook publishes itself
            from_hook.append(await _spawn(hook, env, _stdin(repo, path, "hook")))
        await observer.status()
        counting.cancel()
        await asyncio.gather(counting, return_exceptions=True)
        await mcp.close()
        await observer.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "calls": len(calls),
        "ref": _stats(ref),
        "via_server": _stats(via_server),
        "from_hook": _stats(from_hook),
        "hand_us": hand_us,
        "server_frames": server_frames,
        "hook_frames": counts.get(f"Hooked ({repo.name})", 0),
        "landed": counts,
    }


def _report(result: dict[str, object]) -> None:
    calls = result["calls"]
    assert isinstance(calls, int)
    print(f"{datetime.date.today()} · {calls} tool calls per variant · load "
          f"{os.getloadavg()[0]:.2f} · 2 cores shared")  # fmt: skip
    print("| hook run per tool call | wall p50 ms | wall p95 ms | CPU p50 ms "
          "| added wall p50 | added CPU p50 | status frames / tool call | target |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    ref = result["ref"]
    assert isinstance(ref, tuple)
    rows = [
        ("reference: PostToolUse hook, status off (the empty hook run)", "ref", None),
        ("status via the MCP server (local link; the default)", "via_server", "server_frames"),
        ("status from the hook (no MCP server: it reads git, publishes)", "from_hook",
         "hook_frames"),
    ]  # fmt: skip
    for label, key, frames in rows:
        wall, p95, cpu = result[key]  # type: ignore[misc]
        added = ("", "") if key == "ref" else (f"{wall - ref[0]:+.1f}", f"{cpu - ref[2]:+.1f}")
        per = "" if frames is None else f"{result[frames] / calls:.2f}"  # type: ignore[operator]
        target = "" if frames is None else "<= 1 frame, no model request"
        print(f"| {label} | {wall:.1f} | {p95:.1f} | {cpu:.1f} | {added[0]} | {added[1]} "
              f"| {per} | {target} |")  # fmt: skip
    print(f"\nThe local link alone (in process): {result['hand_us']:.0f} µs p50 per hand-over.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=24)
    args = parser.parse_args()
    _report(asyncio.run(main(args.samples)))
