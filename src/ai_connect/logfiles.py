"""The log files: ``ai-connect bridge``, ``ai-connect mcp`` and the hooks (``ai-connect hook``).

The bridge and the MCP server write ``bridge.log`` or ``mcp.log`` under the XDG state folder
(``~/.local/state/ai-connect/log/``, :func:`default_log_file`) as well as to stderr,
unless ``--log-file`` names another file or ``-`` (stderr only). Files rotate at
``logging.max_megabytes`` and keep ``logging.backup_count`` old ones (the original
AI-Connect's keys, :func:`ai_connect.config.log_settings`). Several processes may share
one file (every stdio MCP server writes ``mcp.log``): concurrent-log-handler locks around
each write and each rotation, so none of them loses or garbles a line. Files are created
0600 in a 0700 folder: they name peers and addresses. Every line is written through
:class:`NeutralFormatter`: a peer's name in a log line goes through the one neutraliser
of peer text, so ``ai-connect logs`` (or ``tail``) cannot be steered by it.

Hooks write ``hooks.log`` only (their stderr is what the agent, or its model, reads)
through :class:`DeferredFileHandler`, which opens the file on the first record: a hook
that has nothing to say pays neither the import nor the open (its agent waits for it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import platformdirs

from ai_connect.config import LogSettings
from ai_connect.errors import ConfigError
from ai_connect.text.neutral import neutralise

__all__ = [
    "FORMAT",
    "LOG_KINDS",
    "DeferredFileHandler",
    "NeutralFormatter",
    "default_log_file",
    "file_handler",
    "resolve_log_file",
]

FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d]: %(message)s"
LOG_KINDS = ("bridge", "mcp", "hooks")
NO_FILE = "-"


class NeutralFormatter(logging.Formatter):
    """Formats a record with its message neutralised (one line: a message that holds a
    peer's name can neither start a forged log line nor carry a terminal escape);
    tracebacks stay as they are."""

    def __init__(self, fmt: str = FORMAT) -> None:
        super().__init__(fmt)

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = neutralise(record.message)
        return super().formatMessage(record)


def default_log_file(kind: str) -> Path:
    """``<XDG state>/ai-connect/log/<kind>.log``."""
    return platformdirs.user_log_path("ai-connect") / f"{kind}.log"


def resolve_log_file(flag: str | None, kind: str) -> Path | None:
    """The file ``--log-file`` asks for: the default when not given, ``None`` for ``-``."""
    if flag is None or flag == "":
        return default_log_file(kind)
    if flag == NO_FILE:
        return None
    return Path(flag).expanduser()


def file_handler(path: Path, rotation: LogSettings) -> logging.Handler:
    """A rotating handler on ``path`` that other processes may share."""
    from concurrent_log_handler import ConcurrentRotatingFileHandler  # ~0.2 s to import

    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        handler = ConcurrentRotatingFileHandler(
            os.fspath(path),
            maxBytes=rotation.max_bytes,
            backupCount=rotation.backup_count,
            encoding="utf-8",
            chmod=0o600,
        )
    except OSError as exc:
        raise ConfigError(
            f"cannot write the log file {path}: {exc.strerror or exc}; choose another with "
            "--log-file FILE, or --log-file - for stderr only"
        ) from exc
    handler.setFormatter(NeutralFormatter())
    return handler


class DeferredFileHandler(logging.Handler):
    """:func:`file_handler` on ``path``, opened on the first record it is handed.

    A file that cannot be written loses the record quietly: a hook's log is a help to
    whoever looks later, never a reason for the hook to fail its agent.
    """

    def __init__(self, path: Path, rotation: Callable[[], LogSettings] = LogSettings) -> None:
        super().__init__()
        self.path = path
        self._rotation = rotation
        """Read when the file is opened (the config file's ``logging:`` keys, say)."""
        self._inner: logging.Handler | None = None
        self._broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._broken:
            return
        if self._inner is None:
            try:
                self._inner = file_handler(self.path, self._rotated())
            except ConfigError:
                self._broken = True
                return
        self._inner.emit(record)

    def _rotated(self) -> LogSettings:
        try:
            return self._rotation()
        except ConfigError:  # a broken logging: section: the defaults, as it is a help
            return LogSettings()

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
        super().close()
