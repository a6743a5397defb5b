"""``ai-connect logs [bridge|mcp|hooks] [-f]``: the log files of the bridge, the MCP
server and the hooks.

They are where :mod:`ai_connect.logfiles` writes them: your XDG state folder
(``~/.local/state/ai-connect/log/``), else the system service's ``/var/log/ai-connect/``.
``-f`` hands over to ``tail -F``, which follows a file across rotations.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import deque
from pathlib import Path
from typing import Annotated

import typer

from ai_connect.errors import ConfigError

__all__ = ["SYSTEM_LOG_DIR", "log_files", "logs"]

SYSTEM_LOG_DIR = Path("/var/log/ai-connect")
"""Where the system services log (``ai-connect service install --system``)."""


def log_files(kinds: list[str], file: Path | None = None) -> list[Path]:
    """The log files of ``kinds`` that exist: the user's first, else the system's."""
    from ai_connect.logfiles import default_log_file

    if file is not None:
        if not file.exists():
            raise ConfigError(f"there is no log file {file}")
        return [file]
    found = []
    for kind in kinds:
        for path in (default_log_file(kind), SYSTEM_LOG_DIR / f"{kind}.log"):
            if path.exists():
                found.append(path)
                break
    if not found:
        looked = ", ".join(str(default_log_file(k)) for k in kinds)
        raise ConfigError(
            f"no log file yet ({looked}, nor in {SYSTEM_LOG_DIR}): 'ai-connect bridge' and "
            "'ai-connect mcp' write theirs once started, the hooks once one has something "
            "to say; a service's journal: "
            "'ai-connect service logs'"
        )
    return found


def logs(
    kind: Annotated[str | None, typer.Argument(help="bridge | mcp | hooks [default: all]")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="Lines of the past")] = 50,
    file: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Another log file (as --log-file)")
    ] = None,
) -> None:
    """Print the log files of the bridge, the MCP server and the hooks (-f: follow them)."""
    from ai_connect.logfiles import LOG_KINDS

    if kind is not None and kind not in LOG_KINDS:
        raise typer.BadParameter(f"{kind!r} writes no log; use bridge, mcp or hooks")
    paths = log_files([kind] if kind else list(LOG_KINDS), file)
    if follow:
        tail = shutil.which("tail")
        if tail is None:
            raise ConfigError(f"'tail' is not installed here: open {', '.join(map(str, paths))}")
        sys.stdout.flush()
        # Become tail: Ctrl-C and SIGTERM reach it directly, and no child outlives us.
        os.execv(tail, [tail, "-n", str(lines), "-F", *map(str, paths)])
    for i, path in enumerate(paths):
        if len(paths) > 1:
            print(f"{chr(10) if i else ''}==> {path} <==")
        with path.open(encoding="utf-8", errors="replace") as f:
            sys.stdout.writelines(deque(f, maxlen=lines) if lines else ())
