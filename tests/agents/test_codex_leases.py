"""End to end with the real Codex CLI: a file leased by another agent, met at the edit.

After ``ai-connect setup codex --project``, Codex runs the pre-edit hook as a
``PreToolUse`` hook on ``apply_patch|Bash`` (Codex 0.171 hands a patch run through its
shell tool to hooks as ``Bash`` with the ``apply_patch`` command; the hook reads the
files from the patch's headers). Agent A (a client of the bridge) holds ``src/app.py`` of
github.com/org/app, claimed in its ssh clone; Codex runs interactive in the https clone,
and its scripted model patches that file:

1. ``leases.on_conflict: deny``: the patch is refused; the model's next request carries
   the refusal with the holder and the reason; the file is unchanged;
2. warn: the patch is applied, and the model's next request carries holder and reason.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ai_connect.repo_identity import repo_identity
from tests.agents.apis import ResponsesApi
from tests.agents.clients import WAIT_S, binary, codex_env, run_setup, versions
from tests.agents.scripted import Text, ToolUse
from tests.agents.sessions import CodexTui
from tests.client.support import make_client
from tests.leases.support import clones
from tests.support.bridge import bridge

REASON = "renaming the greeting (lease-codex)"
PATCH = (
    "*** Begin Patch\n*** Update File: src/app.py\n@@\n-print('hello')\n+print('bye')\n"
    "*** End Patch\n"
)


@dataclass
class Run:
    holder: str = ""
    after: dict[str, Any] = field(default_factory=dict)
    content: str = ""
    warned: dict[str, Any] = field(default_factory=dict)
    content_warned: str = ""


async def _session(root: Path, exe: Path) -> Run:
    run = Run()
    a_root, b_root = clones(root)
    home = root / "home"
    xdg = root / "xdg"
    xdg.mkdir(mode=0o700)
    key = repo_identity(a_root).key  # type: ignore[union-attr]
    async with (
        bridge() as br,
        ResponsesApi() as api,
        make_client(br.url, "alice", "app", kind="mcp") as alice,
    ):
        env = codex_env(
            home, api.url, b_root, AI_CONNECT_BRIDGE=br.url, AI_CONNECT_PEER_NAME="cx",
            XDG_RUNTIME_DIR=str(xdg), AI_CONNECT_RUNTIME_DIR=str(root / "rt"),
        )  # fmt: skip
        await run_setup("codex", b_root, env)
        config = Path(env["AI_CONNECT_CONFIG"])
        await asyncio.to_thread(config.write_text, "leases:\n  on_conflict: deny\n")
        granted = await alice.claim(key, ["src/app.py"], ttl=3600, reason=REASON)
        run.holder = granted.leases[0].holder
        async with CodexTui(exe, b_root, env) as cx:
            await cx.say("rename the greeting")
            await api.request(0, WAIT_S)
            cmd = f"apply_patch <<'EOF'\n{PATCH}EOF\n"
            api.reply(ToolUse("exec_command", {"cmd": cmd}))
            run.after = await api.request(1, WAIT_S)
            api.reply(Text("done"))
            run.content = await asyncio.to_thread((b_root / "src" / "app.py").read_text)
            await asyncio.to_thread(config.write_text, "leases:\n  on_conflict: warn\n")
            await cx.say("then do it anyway")
            await api.request(2, WAIT_S)
            api.reply(ToolUse("exec_command", {"cmd": cmd}))
            run.warned = await api.request(3, WAIT_S)
            api.reply(Text("done"))
        run.content_warned = await asyncio.to_thread((b_root / "src" / "app.py").read_text)
    return run


@pytest.fixture(scope="module", params=versions("codex"))
def codex(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    exe = binary("codex", request.param)
    root = tmp_path_factory.mktemp("codex-leases")
    return asyncio.run(asyncio.wait_for(_session(root, exe), 180))


def test_deny_blocks_the_patch_and_tells_the_model_who_and_why(codex: Run) -> None:
    """The patch's output in the model's next request names holder and reason; the
    file is unchanged."""
    last = json.dumps(codex.after["input"][-1], ensure_ascii=False)
    assert codex.holder in last and REASON in last, last
    assert codex.content == "print('hello')\n"


def test_warn_lets_the_patch_through_and_tells_the_model(codex: Run) -> None:
    """Warn mode: the patch is applied; the model's next request carries the holder and
    the reason (the hook's additional context)."""
    assert codex.content_warned == "print('bye')\n"
    tail = json.dumps(codex.warned["input"][-4:], ensure_ascii=False)
    assert codex.holder in tail and REASON in tail, tail[-1500:]
