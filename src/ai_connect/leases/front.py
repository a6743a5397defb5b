"""``ai-connect hook pre-edit``: before an edit, who else holds the file? In milliseconds.

The agent runs this hook before every edit (Claude Code ``PreToolUse`` on
Edit|Write|MultiEdit|NotebookEdit, Codex ``PreToolUse`` on apply_patch|Bash, Gemini CLI
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

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing, collections and pathlib cost milliseconds at start-up
    from collections.abc import Callable, Mapping
    from typing import Any, TextIO

__all__ = [
    "dumps",
    "edited_paths",
    "loads",
    "main",
    "output",
    "runtime_dir",
    "socket_paths",
]

CLIENTS = ("claude", "codex", "gemini")
LINK_TIMEOUT_S = 3.0
"""The lease link answers within its bridge budget (1.5 s) or not at all."""
_PATCH_HEADS = ("*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: ")


# --- JSON without the json package ------------------------------------------------------
# ``import json`` loads ``re`` and its compiler, ``import socket`` loads ``enum``: together
# half of this hook's start-up (bench/lease_hook_bench.py). Their C halves do the work.


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"),
                      "-Infinity": float("-inf")}.__getitem__  # fmt: skip
    memo: dict[str, str] = {}


_WHITE = " \t\n\r"


def loads(text: str) -> Any:
    """``json.loads`` for one JSON value (``ValueError`` if it is not exactly one)."""
    try:
        import _json

        make: Any = _json.make_scanner  # it takes any object with a decoder's attributes
        scan: Callable[[str, int], tuple[Any, int]] = make(_Context())
    except (ImportError, AttributeError):  # another Python: the plain package
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WHITE))
    try:
        value, end = scan(text, start)
    except StopIteration:
        raise ValueError("not JSON") from None
    if text[end:].strip(_WHITE):
        raise ValueError("extra data after the JSON value")
    return value


def dumps(value: Any) -> str:
    """``json.dumps`` (ASCII) for what this hook writes: dicts, lists, text, numbers."""
    try:
        from _json import encode_basestring_ascii as text
    except ImportError:
        import json

        return json.dumps(value)
    if isinstance(value, str):
        return str(text(value))
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{text(str(k))}: {dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


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
            return dumps({"decision": "deny", "reason": text})
        # Gemini CLI 0.61 gives a BeforeTool hook's context to nobody; the person sees it.
        return dumps(
            {"systemMessage": text, "hookSpecificOutput": {"hookEventName": event or "BeforeTool",
                                                           "additionalContext": text}}
        )  # fmt: skip
    specific: dict[str, Any] = {"hookEventName": "PreToolUse"}
    if decision == "deny":
        specific |= {"permissionDecision": "deny", "permissionDecisionReason": text}
    else:
        specific["additionalContext"] = text
    return dumps({"hookSpecificOutput": specific})


def runtime_dir(env: Mapping[str, str]) -> str | None:
    """:func:`ai_connect.hooks.agent_link.runtime_dir` on Linux (``None`` elsewhere: the
    caller imports that module instead); tests/leases/test_front.py keeps them equal."""
    override = env.get("AI_CONNECT_RUNTIME_DIR")
    if override:
        return os.path.expanduser(override)
    if os.name != "posix" or sys.platform == "darwin":
        return None
    return f"/tmp/ai-connect-{os.getuid()}"


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


def socket_paths(env: Mapping[str, str], chain: list[int] | None = None) -> list[str]:
    """The lease links this hook may ask, nearest ancestor first."""
    folder = runtime_dir(env)
    if folder is None:
        _full_install()
        from ai_connect.hooks import agent_link

        folder = str(agent_link.runtime_dir(env))
        chain = agent_link.process_chain()[1:] if chain is None else chain
    links = os.path.join(folder, "leases")
    return [os.path.join(links, f"{pid}.l") for pid in (_chain() if chain is None else chain)]


def _full_install() -> None:
    """Run as a file (``python -I -S .../front.py``), this hook has no site-packages;
    the slow path needs them (and ai-connect itself): load them now."""
    if "ai_connect" in sys.modules or not sys.flags.no_site:
        return
    import site

    site.main()
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if here not in sys.path:
        sys.path.append(here)


def _ask(path: str, request: bytes) -> dict[str, Any] | None:
    """One question to one lease link; ``None`` if nobody listens there."""
    if not os.path.exists(path):
        return None
    try:
        import _socket as sockets
    except ImportError:
        import socket as sockets  # type: ignore[no-redef]
    sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    try:
        sock.settimeout(LINK_TIMEOUT_S)
        sock.connect(path)
        sock.sendall(request)
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # a server that died: its socket file stayed
    except OSError as exc:  # timed out: the edit goes ahead
        return {"decision": "allow", "text": f"ai-connect: file leases were not checked ({exc})."}
    finally:
        sock.close()
    try:
        answer = loads(data.decode("utf-8", "replace"))
    except ValueError:
        return {"decision": "allow", "text": ""}
    return answer if isinstance(answer, dict) else {"decision": "allow", "text": ""}


def _slow(client: str, hook: dict[str, Any], paths: list[str]) -> dict[str, Any]:
    """No lease link: the full client library asks the bridge itself (bounded)."""
    _full_install()
    from ai_connect.leases.slow import check

    return check(client, hook, paths)


def _options(argv: list[str]) -> dict[str, str] | None:
    """``--client X`` and ``--token-file F`` (or ``--name=value``); ``None``: unknown."""
    found: dict[str, str] = {}
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name not in ("--client", "--token-file"):
            return None
        if not eq:
            if not args:
                return None
            value = args.pop(0)
        found[name] = value
    return found


def main(argv: list[str], stdin: TextIO | None = None, env: Mapping[str, str] | None = None) -> int:
    """``ai-connect hook pre-edit [--client claude|codex|gemini] [--token-file F]``; returns
    the exit code. The token file serves the slow path only (the MCP server has its own)."""
    env = os.environ if env is None else env
    options = _options(argv)
    if options is None:
        print(f"ai-connect hook pre-edit: unknown arguments {argv}; use --client "
              f"{'|'.join(CLIENTS)} [--token-file FILE]", file=sys.stderr)  # fmt: skip
        return 1
    client = options.get("--client", "claude")
    if "--token-file" in options:
        os.environ["AI_CONNECT_TOKEN_FILE"] = options["--token-file"]
    if client not in CLIENTS:
        print(f"ai-connect hook pre-edit: --client must be one of {', '.join(CLIENTS)}",
              file=sys.stderr)  # fmt: skip
        return 1
    text = (stdin or sys.stdin).read()
    try:
        hook = loads(text) if text.strip() else {}
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
    request = dumps({"paths": paths, "cwd": cwd}).encode() + b"\n"
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


if __name__ == "__main__":  # how setup installs it: python -I -S .../leases/front.py
    sys.exit(main(sys.argv[1:]))
