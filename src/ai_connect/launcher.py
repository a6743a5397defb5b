"""How a hint names ``ai-connect`` so that the command works when pasted into a shell here.

Hints say ``ai-connect …`` (``'ai-connect token create NAME'``, ``start it with
'ai-connect bridge'``). That works once ``ai-connect`` is on PATH (``sh scripts/setup.sh
--link`` puts a link in ``~/.local/bin``). Until then, a person who ran
``.venv/bin/ai-connect`` would paste a hint and get "command not found": so when this
process was started as an ``ai-connect`` executable that PATH does not lead to, the hints
it prints name that executable by its absolute path instead (:func:`spell`). Run any
other way (``python -m ai_connect``, a test), hints keep the bare name.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = ["command", "spell"]

_SUBCOMMANDS = (
    "admin|bridge|consensus|doctor|history|hook|logs|mcp|peers|read|search|send|service|"
    "setup|status|token|version|wait"
)
# "ai-connect SUBCOMMAND" as a command, not a path (.venv/bin/ai-connect) or a project
# name in an address (alice (ai-connect)).
_COMMAND = re.compile(rf"(?<![\w/.\-])ai-connect(?= (?:{_SUBCOMMANDS})\b)")


def command(argv0: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``ai-connect`` if PATH leads to this executable (or it was not started as one),
    else the shell-quoted absolute path of the ``ai-connect`` executable that runs."""
    env = os.environ if env is None else env
    started = Path(sys.argv[0] if argv0 is None else argv0)
    if started.name not in ("ai-connect", "ai-connect.exe") or not started.exists():
        return "ai-connect"
    found = shutil.which("ai-connect", path=env.get("PATH", os.defpath))
    if found is not None and Path(found).resolve() == started.resolve():
        return "ai-connect"
    return shlex.quote(str(started.absolute()))


def spell(text: str, argv0: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``text`` with each ``ai-connect SUBCOMMAND`` naming :func:`command`."""
    name = command(argv0, env)
    return text if name == "ai-connect" else _COMMAND.sub(lambda _: name, text)
