"""``ai-connect hook pre-edit``: before an edit, who else holds the file? In milliseconds.

The agent runs this hook before every edit (Claude Code ``PreToolUse`` on
Edit|Write|MultiEdit|NotebookEdit, Codex ``PreToolUse`` on apply_patch, Gemini CLI
``BeforeTool`` on write_file|replace), so it imports the standard library only: it reads
the client's JSON on stdin, takes the file paths out of the tool's input, and asks the
session's own MCP server over its lease link (:mod:`ai_connect.leases.link`), found by
walking this process's ancestors to the agent (the rule of
:func:`ai_connect.hooks.agent_link.lease_socket`, repeated here without its imports).
Only without such a server does it load the client library and ask the bridge itself
(:func:`_slow`), bounded in time.

Its answer, in the client's contract: nothing (the edit goes ahead silently); a warning
as additional context for the model (the edit goes ahead); or a denial with the reason
(``leases.on_conflict: deny``). It never blocks an edit because something is down.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

__all__ = ["edited_paths", "main", "output", "runtime_dir", "socket_paths"]

CLIENTS = ("claude", "codex", "gemini")
LINK_TIMEOUT_S = 3.0
"""The lease link answers within its bridge budget (1.5 s) or not at all."""
_PATCH_HEADS = ("*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: ")


def edited_paths(client: str, hook: Mapping[str, Any]) -> list[str]:
    """The files an edit tool is about to change, as its input names them."""
    tool_input = hook.get("tool_input")
    found: list[str] = []
    if isinstance(tool_input, dict):
        for key in ("file_path", "notebook_path", "path"):
            value = tool_input.get(key)
            if isinstance(value, str) and value:
                found.append(value)
        if found:
            return found
    # Codex: apply_patch carries a patch; its file headers name the files.
    for text in _strings(tool_input):
        for line in text.splitlines():
            for head in _PATCH_HEADS:
                if line.startswith(head) and line[len(head) :].strip():
                    found.append(line[len(head) :].strip())
    return list(dict.fromkeys(found))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def output(client: str, event: str, decision: str, text: str) -> str:
    """The hook's stdout for ``decision`` (allow, warn, deny) in the client's contract."""
    if not text:
        return ""
    if client == "gemini":
        if decision == "deny":
            return json.dumps({"decision": "deny", "reason": text})
        # Gemini CLI 0.61 gives a BeforeTool hook's context to nobody; the person sees it.
        return json.dumps(
            {"systemMessage": text, "hookSpecificOutput": {"hookEventName": event or "BeforeTool",
                                                           "additionalContext": text}}
        )  # fmt: skip
    specific: dict[str, Any] = {"hookEventName": "PreToolUse"}
    if decision == "deny":
        specific |= {"permissionDecision": "deny", "permissionDecisionReason": text}
    else:
        specific["additionalContext"] = text
    return json.dumps({"hookSpecificOutput": specific})


def runtime_dir(env: Mapping[str, str]) -> Path | None:
    """:func:`ai_connect.hooks.agent_link.runtime_dir` on Linux (``None`` elsewhere: the
    caller imports that module instead); tests/leases/test_front.py keeps them equal."""
    override = env.get("AI_CONNECT_RUNTIME_DIR")
    if override:
        return Path(override).expanduser()
    if os.name != "posix" or sys.platform == "darwin":
        return None
    uid = os.getuid()
    run = Path(f"/run/user/{uid}")
    try:
        info = run.stat()
        if info.st_uid == uid and os.access(run, os.W_OK) and os.path.isdir(run):
            return run / "ai-connect"
    except OSError:
        pass
    return Path("/tmp") / f"ai-connect-{uid}"


def _chain() -> list[int]:
    """This process's ancestors, nearest first (Linux ``/proc``; else ``[]``)."""
    chain: list[int] = []
    pid = os.getppid()
    while pid > 1 and len(chain) < 32 and pid not in chain:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[-1].split()
        except OSError:
            break
        pid = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
    return chain


def socket_paths(env: Mapping[str, str], chain: list[int] | None = None) -> list[Path]:
    """The lease links this hook may ask, nearest ancestor first."""
    folder = runtime_dir(env)
    if folder is None:
        from ai_connect.hooks import agent_link

        folder = agent_link.runtime_dir(env)
        chain = agent_link.process_chain()[1:] if chain is None else chain
    agents = folder / "agents"
    return [agents / f"{pid}.l" for pid in (_chain() if chain is None else chain)]


def _ask(path: Path, request: bytes) -> dict[str, Any] | None:
    """One question to one lease link; ``None`` if nobody listens there."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(LINK_TIMEOUT_S)
            sock.connect(str(path))
            sock.sendall(request)
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except FileNotFoundError:
        return None
    except ConnectionRefusedError:
        return None  # a server that died: its socket file stayed
    except OSError as exc:  # timed out: the edit goes ahead
        return {"decision": "allow", "text": f"ai-connect: file leases were not checked ({exc})."}
    try:
        answer = json.loads(data)
    except ValueError:
        return {"decision": "allow", "text": ""}
    return answer if isinstance(answer, dict) else {"decision": "allow", "text": ""}


def _slow(client: str, hook: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """No lease link: the full client library asks the bridge itself (bounded)."""
    from ai_connect.leases.slow import check

    return check(client, hook, paths)


def main(argv: list[str], stdin: TextIO | None = None, env: Mapping[str, str] | None = None) -> int:
    """``ai-connect hook pre-edit [--client claude|codex|gemini]``; returns the exit code."""
    env = os.environ if env is None else env
    client = "claude"
    if argv[:1] == ["--client"] and len(argv) > 1:
        client = argv[1]
    elif argv[:1] and argv[0].startswith("--client="):
        client = argv[0].split("=", 1)[1]
    elif argv:
        print(f"ai-connect hook pre-edit: unknown arguments {argv}; use --client "
              f"{'|'.join(CLIENTS)}", file=sys.stderr)  # fmt: skip
        return 1
    if client not in CLIENTS:
        print(f"ai-connect hook pre-edit: --client must be one of {', '.join(CLIENTS)}",
              file=sys.stderr)  # fmt: skip
        return 1
    text = (stdin or sys.stdin).read()
    try:
        hook = json.loads(text) if text.strip() else {}
    except ValueError:
        print("ai-connect hook pre-edit: stdin is not JSON; run it only as a hook, as "
              "'ai-connect setup' installs it", file=sys.stderr)  # fmt: skip
        return 1
    if not isinstance(hook, dict):
        return 1
    paths = edited_paths(client, hook)
    if not paths:
        return 0
    cwd = hook.get("cwd") if isinstance(hook.get("cwd"), str) else os.getcwd()
    request = json.dumps({"paths": paths, "cwd": cwd}).encode() + b"\n"
    answer = None
    for path in socket_paths(env):
        answer = _ask(path, request)
        if answer is not None:
            break
    if answer is None:
        answer = _slow(client, hook, paths)
    out = output(client, str(hook.get("hook_event_name") or ""),
                 str(answer.get("decision")), str(answer.get("text") or ""))  # fmt: skip
    if out:
        sys.stdout.write(out + "\n")
        sys.stdout.flush()
    return 0
