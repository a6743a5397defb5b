"""Start-up of ``ai-connect mcp`` over stdio (issue 9, item 4): spawn to the handshake.

    python bench/mcp_start_bench.py [--runs 10]

Agent clients send their first model request once their MCP servers have answered
``initialize`` and ``tools/list`` (Codex does not wait longer). Measured from spawning
``ai-connect mcp`` until each answer has been read, N times each, for:

- **front** (the default): the quick front answers from its learnt snapshot;
- **full** (``AI_CONNECT_MCP_FRONT=off``, the reference): the full server, SDK loaded;
- **python** (the floor): ``python -c pass`` spawned and reaped.

Also the CPU time (user + system) of each child. The same throwaway HOME for all (the
front learns there once, as ``ai-connect setup`` does). Every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = [sys.executable, "-m", "ai_connect", "mcp"]
HANDSHAKE = [
    {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bench", "version": "1"}}},
    {"jsonrpc": "2.0", "method": "notifications/initialized"},
    {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
]  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def once(env: dict[str, str]) -> tuple[float, float, float]:
    """(ms to initialize, ms to tools/list, CPU s of the child)."""
    cpu = _children_cpu()
    begun = time.perf_counter()
    with subprocess.Popen(
        PROGRAM, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=env, cwd=env["HOME"],
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write((json.dumps(HANDSHAKE[0]) + "\n").encode())
        proc.stdin.flush()
        proc.stdout.readline()
        init = time.perf_counter()
        proc.stdin.write("".join(json.dumps(m) + "\n" for m in HANDSHAKE[1:]).encode())
        proc.stdin.flush()
        proc.stdout.readline()
        listed = time.perf_counter()
        proc.stdin.close()
        proc.wait(30)
    return (init - begun) * 1000, (listed - begun) * 1000, _children_cpu() - cpu


def floor() -> tuple[float, float]:
    cpu = _children_cpu()
    begun = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, timeout=30)
    return (time.perf_counter() - begun) * 1000, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
        env |= {"HOME": home, "AI_CONNECT_BRIDGE": "ws://127.0.0.1:9",
                "AI_CONNECT_CONFIG": f"{home}/none.yaml"}  # fmt: skip
        once(env)  # the front learns the handshake (as setup does)
        rows = {}
        for label, extra in (("front", {}), ("full", {"AI_CONNECT_MCP_FRONT": "off"})):
            runs = [once(env | extra) for _ in range(args.runs)]
            rows[label] = runs
        floors = [floor() for _ in range(args.runs)]
    print(f"# ai-connect mcp start-up, {args.runs} runs each, load {os.getloadavg()[0]:.2f}")
    print("| variant | initialize p50 (ms) | tools/list p50 (ms) | max (ms) | CPU per start (ms) |")
    print("|---|---|---|---|---|")
    for label, runs in rows.items():
        init = statistics.median(r[0] for r in runs)
        listed = statistics.median(r[1] for r in runs)
        worst = max(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs) * 1000
        print(f"| {label} | {init:.0f} | {listed:.0f} | {worst:.0f} | {cpu:.0f} |")
    spawn = statistics.median(f[0] for f in floors)
    cpu = statistics.median(f[1] for f in floors) * 1000
    print(f"| python -c pass | {spawn:.0f} | - | {max(f[0] for f in floors):.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
