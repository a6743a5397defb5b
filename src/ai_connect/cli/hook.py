"""``ai-connect hook …``: the commands agent clients run as hooks (``ai-connect setup``).

Each reads the client's JSON on stdin and answers with that client's output contract
(:mod:`ai_connect.hooks.contracts`). A hook never breaks its agent: without a bridge it
says so on stderr and exits 0. Exit codes: 0 done, 1 bad input (not run as a hook), 2
only from ``hook wait``: peer mail for the idle Claude Code session, digest on stderr.

Nothing is logged to stderr (for ``hook wait`` stderr is the message the model reads):
hooks log to ``hooks.log`` beside the bridge's (``ai-connect logs hooks``), warnings of
any hook and what each waiter did (started, listening, woke its agent, left and why).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import warnings
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ai_connect.cli.options import CaOpt

if TYPE_CHECKING:
    from ai_connect.hooks.contracts import HookInput
    from ai_connect.hooks.runtime import HookSettings

__all__ = ["hooks_app"]

hooks_app = typer.Typer(
    help="Hook entry points for agent clients; 'ai-connect setup' installs them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

Bridge = Annotated[
    list[str] | None,
    typer.Option(
        metavar="ws://HOST:PORT",
        help="The bridge's URL; repeat it or give a comma list for several nodes "
        "[default: the agent's MCP server]",
    ),
]
Name = Annotated[
    str | None, typer.Option(help="Peer name [default: the agent's MCP server, else config]")
]
Pin = Annotated[
    str | None,
    typer.Option(
        "--fingerprint",
        metavar="SHA256",
        help="wss://: the bridge's certificate [env AI_CONNECT_FINGERPRINT]",
    ),
]
TokenFile = Annotated[
    str | None,
    typer.Option(
        metavar="FILE",
        help="File holding the auth token [default: the agent's MCP server, else "
        "AI_CONNECT_TOKEN, AI_CONNECT_TOKEN_FILE, config]",
    ),
]
WaitOpt = Annotated[
    float, typer.Option("--wait", min=0, help="Turn end: seconds to wait for mail if none")
]


@hooks_app.command("pre-edit")
def pre_edit(
    client: Annotated[str, typer.Option(help="claude, codex or gemini")] = "claude",
    token_file: TokenFile = None,
) -> None:
    """Before an edit: tell the model who else holds the file (PreToolUse / BeforeTool).

    Run as a program, ``ai-connect hook pre-edit`` skips this command's start-up
    (ai_connect.cli.main); this entry serves ``--help`` and calls from Python.
    """
    from ai_connect.leases import front

    extra = ["--token-file", token_file] if token_file else []
    raise typer.Exit(front.main(["--client", client, *extra]))


def _hook_logging() -> None:
    # Records go to hooks.log only: a handler on the root also stops Python's last-resort
    # handler printing warnings to stderr, and warnings are ignored, since a waiter's
    # exit 2 hands its stderr to the model.
    from ai_connect.config import log_settings
    from ai_connect.logfiles import DeferredFileHandler, default_log_file

    root = logging.getLogger()
    root.addHandler(DeferredFileHandler(default_log_file("hooks"), log_settings))
    root.setLevel(logging.WARNING)
    logging.getLogger("ai_connect.hooks").setLevel(logging.INFO)
    warnings.simplefilter("ignore")


# The imports inside the functions below keep ``ai-connect hook`` start-up short: the
# hook runtime and its contracts load only once a hook command runs, not for every
# ai-connect start, and a hook's start-up is time its agent waits.


def _read_hook(client: str) -> HookInput:
    """The hook's JSON on stdin; not JSON (not run as a hook): say so, exit 1."""
    from ai_connect.errors import ConfigError
    from ai_connect.hooks.contracts import parse_input

    try:
        return parse_input(client, sys.stdin.read())
    except ConfigError as exc:
        print(f"ConfigError: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc


def _settings(
    bridge: list[str] | None,
    name: str | None,
    ca: str | None,
    fingerprint: str | None,
    token_file: str | None,
    **more: Any,
) -> HookSettings:
    """The hook's connection options (``more``: its other HookSettings)."""
    from ai_connect.config import joined_urls
    from ai_connect.hooks.runtime import HookSettings

    return HookSettings(
        bridge=joined_urls(bridge),
        name=name,
        ca=ca,
        fingerprint=fingerprint,
        token_file=token_file,
        **more,
    )


def _finish(coro: Coroutine[Any, Any, int]) -> None:
    from ai_connect.errors import BridgeError

    try:
        code = asyncio.run(coro)
    except BridgeError as exc:  # a hook never breaks its agent: say it, exit 0
        logging.getLogger("ai_connect.hooks").warning("hook gave up: %r", exc)
        from ai_connect.text.neutral import neutralise

        shown = neutralise(str(exc), multiline=True)  # for `hook wait`, the model reads it
        print(f"ai-connect hook: {type(exc).__name__}: {shown}", file=sys.stderr)
        code = 0
    except Exception:
        logging.getLogger("ai_connect.hooks").exception("hook failed")
        raise
    # A hook is its own short process: skip the interpreter's teardown (tens of ms of
    # module cleanup) once everything is written; the agent waits for this exit.
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def _dispatch(
    client: str,
    bridge: list[str] | None,
    name: str | None,
    wait_s: float = 0.0,
    ca: str | None = None,
    fingerprint: str | None = None,
    token_file: str | None = None,
) -> None:
    from ai_connect.hooks.contracts import Role, role_of
    from ai_connect.hooks.runtime import dismiss_waiter, run_inject, run_turn_end

    _hook_logging()
    hook = _read_hook(client)
    settings = _settings(bridge, name, ca, fingerprint, token_file, wait_s=wait_s)
    role = role_of(hook)
    if role is Role.INJECT:
        _finish(run_inject(hook, settings))
    elif role is Role.TURN_END:
        _finish(run_turn_end(hook, settings))
    elif client in ("claude", "gemini") and hook.event == "SessionEnd":

        async def leave() -> int:
            await dismiss_waiter(hook, settings)
            return 0

        _finish(leave())


@hooks_app.command()
def claude(
    bridge: Bridge = None,
    name: Name = None,
    ca: CaOpt = None,
    fingerprint: Pin = None,
    token_file: TokenFile = None,
) -> None:
    """Claude Code: SessionStart, UserPromptSubmit, PostToolUse/PostToolBatch (context),
    SessionEnd (ends the waiter), and a synchronous Stop (continue with mail)."""
    _dispatch("claude", bridge, name, ca=ca, fingerprint=fingerprint, token_file=token_file)


@hooks_app.command()
def wait(
    timeout: Annotated[
        float, typer.Option(min=1, help="The hook's configured timeout in seconds")
    ] = 86_400.0,
    client: Annotated[
        str, typer.Option(help="claude (exit 2 wakes it) or codex (codex queue wakes it)")
    ] = "claude",
    bridge: Bridge = None,
    name: Name = None,
    ca: CaOpt = None,
    fingerprint: Pin = None,
    token_file: TokenFile = None,
) -> None:
    """A background Stop hook that wakes the idle session when peer mail comes.

    Claude Code (asyncRewake): exit 2 with the digest on stderr. Codex CLI (async hook):
    the digest goes to the session with `codex queue`, exit 0. Exits 0 without output
    shortly before TIMEOUT, or when a newer waiter of the same session, its next prompt
    or its end takes over.
    """
    from ai_connect.hooks.runtime import run_wait

    _hook_logging()
    if client not in ("claude", "codex"):
        print(f"ConfigError: --client must be claude or codex, not {client!r}", file=sys.stderr)
        raise typer.Exit(1)
    hook = _read_hook(client)
    _finish(run_wait(hook, _settings(bridge, name, ca, fingerprint, token_file, timeout_s=timeout)))


def _turn_end_command(client: str) -> Callable[..., None]:
    """The command of a client whose hooks inject context mid-turn and continue at turn end."""

    def command(
        bridge: Bridge = None,
        name: Name = None,
        wait_s: WaitOpt = 0.0,
        ca: CaOpt = None,
        fingerprint: Pin = None,
        token_file: TokenFile = None,
    ) -> None:
        _dispatch(client, bridge, name, wait_s, ca, fingerprint, token_file)

    return command


_TURN_END_CLIENTS = {
    "codex": "Codex CLI: SessionStart, UserPromptSubmit, PostToolUse (context); Stop (continue).",
    "gemini": "Gemini CLI: SessionStart, BeforeAgent, AfterTool (context); AfterAgent (continue).",
    "cursor": "Cursor: stop (continue the agent with a follow-up message carrying the mail).",
}
for _client, _help in _TURN_END_CLIENTS.items():
    hooks_app.command(name=_client, help=_help)(_turn_end_command(_client))
