"""Files that only their owner may read: the bridge's data directory, its database (with
``-wal`` and ``-shm``), and the backups ``ai-connect setup`` keeps (docs/security.md).

The database holds every message in clear, so ai-connect creates its directory ``0700``
and the file ``0600`` (SQLite gives ``-wal`` and ``-shm`` the database's mode). A mode
that is already wider is *reported*, not refused and not changed: :func:`exposed` lists
what other local users may read, with the ``chmod`` that fixes it; the bridge logs it as a
warning at every start and ``ai-connect doctor`` shows it. (Refusing would stop every
bridge set up before this check at its next start, and changing an operator's modes
behind their back would undo a group share they may have meant.)
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "PRIVATE_DIR",
    "PRIVATE_FILE",
    "Exposure",
    "copy_private",
    "create_private_file",
    "database_files",
    "ensure_private_dir",
    "exposed",
    "warning_text",
]

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


@dataclass(frozen=True, slots=True)
class Exposure:
    """A path other local users may read (or, for a folder, list)."""

    path: Path
    mode: int
    want: int

    @property
    def fix(self) -> str:
        return f"chmod {self.want:o} {self.path}"

    def __str__(self) -> str:
        return f"{self.path} is {self.mode:o}"


def ensure_private_dir(path: Path) -> None:
    """Creates ``path`` (and missing parents) as ``0700``; an existing one is left alone."""
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=PRIVATE_DIR)
        os.chmod(path, PRIVATE_DIR)  # mkdir's mode passes through the umask


def create_private_file(path: Path) -> bool:
    """Creates ``path`` empty with mode ``0600`` unless it exists; ``True`` if created."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def copy_private(source: Path, target: Path) -> None:
    """Copies ``source`` to a new ``target`` with ``source``'s mode from the first byte
    (never readable by others for a moment); ``target``'s folder is created ``0700``."""
    ensure_private_dir(target.parent)
    mode = stat.S_IMODE(source.stat().st_mode)
    data = source.read_bytes()
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & PRIVATE_FILE)
    try:
        os.write(fd, data)
        if hasattr(os, "fchmod"):  # not on Windows, where modes mean little
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def database_files(db: Path) -> list[Path]:
    """The database and its ``-wal`` and ``-shm``, those that exist."""
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def exposed(db: Path) -> list[Exposure]:
    """What of ``db``'s files and folder other local users may read.

    A file with any group or other permission is exposed. Its folder is exposed when it
    gives group or others any permission and is not sticky (``/tmp`` is shared by design;
    there only the file's own mode counts).
    """
    found = []
    for path in database_files(db):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            found.append(Exposure(path, mode, PRIVATE_FILE))
    folder = db.parent
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & 0o077 and not mode & stat.S_ISVTX:
            found.insert(0, Exposure(folder, mode, PRIVATE_DIR))
    return found


def warning_text(found: Iterable[Exposure]) -> str:
    """The warning for :func:`exposed`'s findings: what, and the command that fixes it."""
    found = list(found)
    shown = ", ".join(str(e) for e in found)
    fix = " && ".join(e.fix for e in found)
    return (
        f"other local users may read the messages: {shown}; the database holds every "
        f"message in clear. Fix: {fix}"
    )
