"""The pre-edit hook's slow path: no MCP server of the session answers, so the hook
loads the client library and asks the bridge itself, as the session's address
(:func:`ai_connect.hooks.runtime.resolve_link`), within :data:`BUDGET_S`.

It answers as the lease link does (:class:`ai_connect.leases.link.LeaseLink`); the note
that leases are not checked (the bridge is down) is given once per agent session (a
marker file in the hooks' private folder), not on every edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from ai_connect.errors import BridgeError
from ai_connect.hooks.contracts import parse_input
from ai_connect.hooks.runtime import HookSettings, resolve_link
from ai_connect.leases.link import LeaseLink

__all__ = ["BUDGET_S", "check"]

BUDGET_S = 4.0


async def _ask(client: str, hook: dict[str, Any], paths: list[str]) -> dict[str, str]:
    from ai_connect.client import BridgeClient

    settings = HookSettings()
    parsed = parse_input(client, json.dumps(hook))
    link = resolve_link(parsed, settings)
    bridge = BridgeClient.from_settings(
        link.connection,
        kind=f"hook-{client}",
        session=link.session,
        attach=link.agent is not None,
        mode="query" if link.agent is None else None,
        reconnect=False,
        connect_timeout=2.0,
        request_timeout=2.0,
    )
    try:
        with contextlib.suppress(BridgeError):
            await bridge.connect()
        cwd = str(parsed.cwd or Path.cwd())
        return await LeaseLink(bridge).answer({"paths": paths, "cwd": cwd})
    finally:
        await bridge.close()


def check(client: str, hook: dict[str, Any], paths: list[str]) -> dict[str, str]:
    """The decision for ``paths``; ``allow`` when anything fails (said once a session)."""
    try:
        answer = asyncio.run(asyncio.wait_for(_ask(client, hook, paths), BUDGET_S))
    except (BridgeError, TimeoutError, OSError, ValueError) as exc:  # fail open, always
        answer = {
            "decision": "allow",
            "text": f"ai-connect: file leases are not checked right now ({exc}); edits go ahead.",
        }
    if answer.get("decision") == "allow" and answer.get("text"):
        return answer if _first_note(hook) else {"decision": "allow", "text": ""}
    return answer


def _first_note(hook: dict[str, Any]) -> bool:
    """Whether this session has not been told yet that leases are not checked."""
    from ai_connect.hooks import agent_link

    session = str(hook.get("session_id") or hook.get("conversation_id") or "")
    if not session:
        return True
    try:
        folder = agent_link.private_dir(agent_link.private_dir(agent_link.runtime_dir()) / "h")
        name = hashlib.sha256(session.encode()).hexdigest()[:24]
        marker = folder / f"{name}.leases-down"
        if marker.exists():
            return False
        marker.touch()
    except (OSError, BridgeError):
        return True
    return True
