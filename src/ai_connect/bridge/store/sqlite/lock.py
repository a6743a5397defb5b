"""One bridge per SQLite database: an exclusive lock held for the bridge's lifetime.

Two bridges on one file would each keep their own view of who exists and where each
mailbox stands, and disagree (issue 11: 0 of 200 messages sent through the second
reached a peer of the first). ``ai-connect bridge`` therefore takes ``DB.lock`` beside
the database with ``flock(LOCK_EX | LOCK_NB)`` before it opens the store, and keeps it
until it exits (the kernel releases it when the process dies, even by ``kill -9``: no
stale lock to clean up). The file says who holds it (pid, host, URL), so a second
bridge refuses to start *naming the first*.

Only the bridge takes the lock: readers in other processes (``ai-connect token``,
``admin …`` tools opening the file) open the database as before, since SQLite's WAL
lets them read and write beside the bridge. PostgreSQL nodes share their database by
design and take no such lock.

Where ``fcntl`` does not exist (Windows), no lock is taken.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from ai_connect.errors import StoreError
from ai_connect.private_files import create_private_file, ensure_private_dir

__all__ = ["DatabaseLock", "lock_path"]

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lock_path(db: str | Path) -> Path:
    """Where the lock of ``db`` lives: ``DB.lock``, beside it."""
    return Path(f"{db}.lock")


class DatabaseLock:
    """``with DatabaseLock(db):`` -- or :meth:`acquire`/:meth:`release`.

    :meth:`acquire` raises :class:`~ai_connect.errors.StoreError` naming the holder when
    another process holds the lock; :meth:`announce` adds the bridge's URL once it
    listens.
    """

    def __init__(self, db: str | Path) -> None:
        self.path = lock_path(db)
        self._file: IO[str] | None = None
        self._info: dict[str, Any] = {}

    def acquire(self) -> None:
        if fcntl is None or self._file is not None:
            return
        ensure_private_dir(self.path.parent)  # the database's folder: 0700 (docs/security.md)
        create_private_file(self.path)
        # "a+": never truncate before holding the lock (the holder's note must survive).
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for life
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = _describe(handle.read())
            handle.close()
            db = str(self.path)[: -len(".lock")]
            raise StoreError(
                f"another bridge already uses the database {db} ({holder}); two bridges "
                "on one SQLite file would disagree about who exists. Stop that one, or "
                "start this one with another --db."
            ) from exc
        self._file = handle
        self._info = {"pid": os.getpid(), "host": socket.gethostname()}
        self._write()

    def announce(self, url: str) -> None:
        """Notes the URL the bridge listens on, for a second bridge's refusal."""
        self._info["url"] = url
        self._write()

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
            self._file.close()  # closing the descriptor releases the flock
            self._file = None

    def _write(self) -> None:
        if self._file is None:
            return
        self._file.seek(0)
        self._file.truncate(0)
        self._file.write(json.dumps(self._info) + "\n")
        self._file.flush()

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _describe(text: str) -> str:
    """``pid 123 on host, ws://…`` from a holder's note (what is known of it)."""
    try:
        info = json.loads(text)
    except ValueError:
        return "it did not say which process it is"
    if not isinstance(info, dict):
        return "it did not say which process it is"
    parts = [f"pid {info.get('pid', '?')} on {info.get('host', '?')}"]
    if info.get("url"):
        parts.append(f"listening on {info['url']}")
    return ", ".join(parts)
