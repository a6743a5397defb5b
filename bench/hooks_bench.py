"""Benchmarks of ``ai-connect hook`` (issue 4): what a hook costs, and how fast mail wakes.

    python bench/hooks_bench.py [--samples N] [--store sqlite|memory] [--markdown]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database). This
process plays the agent's MCP server (a BridgeClient ``Claude (bench)`` that advertises
its session, as ``ai-connect mcp`` over stdio does) and a sender ``Bob (bench)``. The
hooks run as real processes, exactly as a client starts them (``ai-connect hook …`` with
the client's JSON on stdin):

- **no-mail hook**: ``hook claude`` for a PostToolUse with nothing unread, from spawn to
  exit (Python start, imports, connect, hello/welcome, exit); ``python -c pass`` and
  ``python -c "import ai_connect.cli"`` (what the hook command imports) for reference;
- **mail hook**: the same with one unread message (context printed, acked);
- **wake**: ``hook wait`` is connected and waiting (its ready line on a pipe); then Bob
  sends; measured from issuing the send until the waiter process has exited with code 2.

Every wait is bounded. Target: wake within 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.client import BridgeClient
from ai_connect.hooks import agent_link
from harness import BridgeOptions, BridgeProcess

PROJECT = "bench"
TARGETS = {"wake: send issued -> waiter exited 2": "<= 100 ms"}


def _stdin(event: str, cwd: str) -> bytes:
    data = {"session_id": "bench-session", "transcript_path": "/dev/null", "cwd": cwd}
    data["hook_event_name"] = event
    if event == "Stop":
        data["stop_hook_active"] = False
    return json.dumps(data).encode()


async def _spawn(argv: list[str], env: dict[str, str], stdin: bytes) -> float:
    """Runs one process to its end; returns its wall time in ms."""
    begun = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    _, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode()[-500:]}")
    return (time.perf_counter() - begun) * 1000


async def _wake(hook: list[str], env: dict[str, str], bob: BridgeClient, cwd: str) -> float:
    """One waiter: ready, then a send; ms from issuing the send to the waiter's exit."""
    ready_r, ready_w = os.pipe()
    proc = await asyncio.create_subprocess_exec(
        *hook, "wait", "--timeout", "600",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, pass_fds=(ready_w,),
        env={**env, "AI_CONNECT_HOOK_READY_FD": str(ready_w)},
    )  # fmt: skip
    os.close(ready_w)
    assert proc.stdin is not None
    proc.stdin.write(_stdin("Stop", cwd))
    proc.stdin.close()
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(ready_r, "rb", 0)
    )
    try:
        line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        transport.close()
    if not line.startswith(b"ready "):
        raise RuntimeError(f"the waiter did not get ready: {line!r}")
    begun = time.perf_counter()
    await bob.send(f"Claude ({PROJECT})", "wake up")
    await asyncio.wait_for(proc.wait(), 30)
    elapsed = (time.perf_counter() - begun) * 1000
    err = await proc.stderr.read() if proc.stderr else b""
    if proc.returncode != 2 or b"wake up" not in err:
        raise RuntimeError(f"waiter exited {proc.returncode}: {err.decode()[-500:]}")
    return elapsed


def _row(label: str, samples: list[float]) -> tuple[str, int, float, float, float, str]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (label, len(samples), statistics.median(samples), p95, ordered[-1],
            TARGETS.get(label, ""))  # fmt: skip


async def main(samples: int, store: str) -> list[tuple[str, int, float, float, float, str]]:
    runtime = Path(tempfile.mkdtemp(prefix="acb"))
    work = tempfile.mkdtemp(prefix="acb-work")
    script = shutil.which("ai-connect", path=os.path.dirname(sys.executable))
    hook = [script] if script else [sys.executable, "-m", "ai_connect"]
    hook = [*hook, "hook"]
    async with BridgeProcess(BridgeOptions(store=store), "hooks") as bridge:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")},
            "AI_CONNECT_RUNTIME_DIR": str(runtime),
            "AI_CONNECT_CONFIG": str(runtime / "none.yaml"),
            "AI_CONNECT_BRIDGE": bridge.url,
        }
        mcp = BridgeClient(bridge.url, "Claude", PROJECT, session="bench-mcp")
        bob = BridgeClient(bridge.url, "Bob", PROJECT)
        await mcp.connect()
        await bob.connect()
        rows = []
        with agent_link.advertise(bridge.url, "Claude", PROJECT, "bench-mcp", env=env,
                                  agent=os.getpid()):  # fmt: skip
            floor = [await _spawn([sys.executable, "-c", "pass"], env, b"") for _ in range(samples)]
            imports = [
                await _spawn([sys.executable, "-c", "import ai_connect.cli"], env, b"")
                for _ in range(samples)
            ]
            post = _stdin("PostToolUse", work)
            quiet = [await _spawn([*hook, "claude"], env, post) for _ in range(samples)]
            mail = []
            for _ in range(samples):
                await bob.send(f"Claude ({PROJECT})", "a note")
                mail.append(await _spawn([*hook, "claude"], env, post))
            wake = [await _wake(hook, env, bob, work) for _ in range(samples)]
            rows = [
                _row("wake: send issued -> waiter exited 2", wake),
                _row("no-mail hook (PostToolUse), spawn -> exit", quiet),
                _row("mail hook (1 message shown and acked), spawn -> exit", mail),
                _row("python -c pass (floor)", floor),
                _row("python -c 'import ai_connect.cli' (the hook's imports)", imports),
            ]
        await bob.close()
        await mcp.close()
    shutil.rmtree(runtime, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    table = asyncio.run(main(args.samples, args.store))
    print(f"{datetime.date.today()} · store {args.store} · load {os.getloadavg()[0]:.2f}")
    print("| measure | n | p50 ms | p95 ms | max ms | target |")
    print("|---|---|---|---|---|---|")
    for label, n, p50, p95, top, target in table:
        print(f"| {label} | {n} | {p50:.1f} | {p95:.1f} | {top:.1f} | {target} |")
