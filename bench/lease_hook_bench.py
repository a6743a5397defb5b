"""Benchmark of the pre-edit hook (issue 15): what the lease check costs on every edit.

    python bench/lease_hook_bench.py [--samples N] [--store sqlite|memory]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database), two
clones of one repository. This process plays agent B's MCP server: a BridgeClient
``cc (bench)`` that serves the lease link (:mod:`ai_connect.leases.link`) for its
"agent" — this process, the hooks' parent — as ``ai-connect mcp`` over stdio does; and
agent A (``alice``), who holds a lease on ``src/held.py``. The hooks run as real
processes, exactly as Claude Code starts them (the command ``ai-connect setup`` writes
for this installation: ``python -I -S .../ai_connect/leases/front.py --client claude``)
with a PreToolUse JSON on stdin, from spawn to exit:

- **free file**: an Edit of a file nobody holds (the link asks the bridge: allow);
- **held file**: an Edit of ``src/held.py`` (the link asks the bridge: warn, with text);
- **own file**: an Edit of a file B holds itself (the bridge renews B's lease);
- the same check through ``ai-connect hook pre-edit`` (what setup writes for a program
  it cannot look into: the ai_connect package loads first);
- references in the same run: ``python -c pass`` (the floor of any Python hook), and
  the hook with an input naming no file (its start-up alone);
- **no MCP server** (the slow path: the hook loads the client library and asks the
  bridge itself) — fewer samples, for information.

Target: ≤ 50 ms p50 for a check (free or held file).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.agent_setup.clients import pre_edit_command
from ai_connect.client import BridgeClient
from ai_connect.leases.link import serving
from ai_connect.repo_identity import repo_identity
from harness import BridgeOptions, BridgeProcess

TARGET = "<= 50 ms"


def _clone(root: Path, url: str) -> Path:
    (root / "src").mkdir(parents=True)
    for name in ("free.py", "held.py", "mine.py"):
        (root / "src" / name).write_text("x = 1\n", encoding="utf-8")
    for args in (["init", "-q"], ["remote", "add", "origin", url]):
        subprocess.run(["git", "-C", str(root), *args], check=True, timeout=30)
    return root


def _edit(path: Path, cwd: Path) -> bytes:
    return json.dumps({
        "session_id": "bench", "transcript_path": "/dev/null", "cwd": str(cwd),
        "hook_event_name": "PreToolUse", "tool_name": "Edit",
        "tool_input": {"file_path": str(path), "old_string": "x", "new_string": "y"},
    }).encode()  # fmt: skip


async def _spawn(argv: list[str], env: dict[str, str], stdin: bytes) -> tuple[float, bytes]:
    """Runs one process to its end; its wall time in ms and its stdout."""
    begun = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), 30)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv} exited {proc.returncode}: {err.decode()[-500:]}")
    return (time.perf_counter() - begun) * 1000, out


def _row(label: str, samples: list[float], target: str = "") -> tuple[str, int, float, float, str]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return label, len(samples), statistics.median(samples), p95, target


async def main(samples: int, store: str) -> list[tuple[str, int, float, float, str]]:
    work = Path(tempfile.mkdtemp(prefix="aclb"))
    a = _clone(work / "a" / "app", "git@github.com:org/app.git")
    b = _clone(work / "b" / "app", "https://github.com/org/app")
    key = repo_identity(a).key  # type: ignore[union-attr]
    script = shutil.which("ai-connect", path=os.path.dirname(sys.executable))
    program = [script] if script else [sys.executable, "-m", "ai_connect"]
    # As setup installs it (this installation: the front file, python -I -S) ...
    run = [*pre_edit_command(program, lambda p: p.read_text()), "--client", "claude"]
    # ... and through the ai-connect command (an installation setup cannot look into).
    command = [*program, "hook", "pre-edit", "--client", "claude"]
    async with BridgeProcess(BridgeOptions(store=store), "leases") as bridge:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")},
            "AI_CONNECT_RUNTIME_DIR": str(work / "rt"),
            "AI_CONNECT_CONFIG": str(work / "none.yaml"),
            "AI_CONNECT_BRIDGE": bridge.url,
        }
        alice = BridgeClient(bridge.url, "alice", "bench", kind="mcp")
        cc = BridgeClient(bridge.url, "cc", "bench", kind="mcp")
        await alice.connect()
        await cc.connect()
        await alice.claim(key, ["src/held.py"], ttl=3600, reason="bench")
        await cc.claim(key, ["src/mine.py"], ttl=3600, reason="bench")
        floor, startup, free, held, mine, via = [], [], [], [], [], []
        async with serving(cc, env=env, agent=os.getpid()) as link:
            assert link is not None
            for _ in range(samples):  # interleaved: the machine's load hits each alike
                floor.append((await _spawn([sys.executable, "-c", "pass"], env, b""))[0])
                startup.append((await _spawn(run, env, b"{}"))[0])
                free.append((await _spawn(run, env, _edit(b / "src" / "free.py", b)))[0])
                took, out = await _spawn(run, env, _edit(b / "src" / "held.py", b))
                if b"alice" not in out:
                    raise RuntimeError(f"the held file was not reported: {out!r}")
                held.append(took)
                mine.append((await _spawn(run, env, _edit(b / "src" / "mine.py", b)))[0])
                via.append((await _spawn(command, env, _edit(b / "src" / "free.py", b)))[0])
        slow = [
            (await _spawn(run, env, _edit(b / "src" / "held.py", b)))[0]
            for _ in range(max(3, samples // 5))
        ]
        await alice.close()
        await cc.close()
    shutil.rmtree(work, ignore_errors=True)
    return [
        _row("pre-edit check, free file (spawn -> exit)", free, TARGET),
        _row("pre-edit check, file held by another agent (warned)", held, TARGET),
        _row("pre-edit check, own file (lease renewed)", mine, TARGET),
        _row("the same free-file check through 'ai-connect hook pre-edit'", via),
        _row("reference: python -c pass", floor),
        _row("reference: the hook with no file to check (start-up alone)", startup),
        _row("no MCP server: the slow path (client library, own connection)", slow),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    args = parser.parse_args()
    table = asyncio.run(main(args.samples, args.store))
    print(f"{datetime.date.today()} · store {args.store} · load {os.getloadavg()[0]:.2f}")
    print("| measure | n | p50 ms | p95 ms | target |")
    print("|---|---|---|---|---|")
    for label, n, p50, p95, target in table:
        print(f"| {label} | {n} | {p50:.1f} | {p95:.1f} | {target} |")
