"""Carries out a setup plan: backups first, then writes; or, with ``dry_run``, a diff only.

Before a file changes, its current bytes are copied to ``NAME.bak-<timestamp>`` under the
backup folder, outside the project: ``~/.local/state/ai-connect/backups/`` (XDG state
dir) followed by the file's absolute path, e.g. ``…/backups/home/me/proj/.claude/
settings.json.bak-20261204-053000``. The folder is ``0700`` and each backup keeps its
original's mode (``~/.claude.json`` is ``0600``: so is its backup). Backups an older
ai-connect left beside the file (``FILE.bak-<timestamp>``) move there too, so a project
keeps no ``.bak-*`` files. An uninstall that leaves a file exactly as one of its backups
parses (only our entries were added since) writes that backup's bytes back, so the file
returns byte for byte.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

from ai_connect.agent_setup.clients import Change
from ai_connect.errors import ConfigError
from ai_connect.private_files import copy_private, ensure_private_dir

__all__ = ["Report", "apply", "backup_folder", "backups_of", "read_file"]

_STAMPED = re.compile(r"\.bak-\d{8}-\d{6}(-\d+)?$")
"""The suffix of a backup ai-connect made (another program's ``.bak`` is not ours)."""


def backup_folder() -> Path:
    """Where setup keeps its backups: ``backups/`` in ai-connect's XDG state folder."""
    return platformdirs.user_state_path("ai-connect") / "backups"


def _mirror(root: Path, path: Path) -> Path:
    """The folder under ``root`` that holds the backups of ``path``."""
    return root.joinpath(*path.absolute().parent.parts[1:])


def backups_of(path: Path, root: Path) -> list[Path]:
    """The backups of ``path`` under ``root``, newest first."""
    return sorted(_mirror(root, path).glob(path.name + ".bak-*"), reverse=True)


def _move_old_backups(path: Path, root: Path) -> list[Path]:
    """Moves the backups an older ai-connect left beside ``path`` under ``root``."""
    moved = []
    for old in sorted(path.parent.glob(path.name + ".bak-*")):
        if not _STAMPED.search(old.name) or not old.is_file():
            continue
        target = _mirror(root, path) / old.name
        if not target.exists():
            copy_private(old, target)
        old.unlink()
        moved.append(target)
    return moved


def read_file(path: Path) -> str | None:
    """A config file's text; ``None`` if it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; nothing was changed") from exc


@dataclass(frozen=True, slots=True)
class Report:
    path: Path
    action: str
    """``created``, ``updated``, ``removed``, ``restored`` or ``unchanged``."""
    backup: Path | None = None
    diff: str = ""
    moved: tuple[Path, ...] = ()
    """Backups an older ai-connect left beside the file, now under the backup folder."""


def _parsed(text: str | None, kind: str) -> Any:
    if text is None or not text.strip():
        return {} if kind != "text" else text
    try:
        if kind == "json":
            return json.loads(text)
        if kind == "toml":
            return tomllib.loads(text)
    except ValueError:
        return object()  # matches nothing
    return text


def _pruned(value: Any) -> Any:
    """``value`` without empty objects and lists under keys (uninstall prunes those)."""
    if isinstance(value, dict):
        items = ((k, _pruned(v)) for k, v in value.items())
        return {k: v for k, v in items if v not in ({}, [])}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def _original(change: Change, root: Path) -> bytes | None:
    """The bytes of the newest backup that holds exactly what ``change`` leaves."""
    if change.kind == "text":
        return None
    want = _pruned(_parsed(change.after, change.kind))
    for backup in backups_of(change.path, root):
        try:
            data = backup.read_bytes()
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if _pruned(_parsed(text, change.kind)) == want:
            return data
    return None


def _diff(change: Change) -> str:
    old = (change.before or "").splitlines(keepends=True)
    new = (change.after or "").splitlines(keepends=True)
    name = str(change.path)
    lines = difflib.unified_diff(
        old,
        new,
        fromfile=name if change.before is not None else "/dev/null",
        tofile=name if change.after is not None else "/dev/null",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.ai-connect-tmp")
    tmp.write_bytes(data)
    with contextlib.suppress(OSError):
        os.chmod(tmp, path.stat().st_mode & 0o7777)  # keep a private file private
    os.replace(tmp, path)


def apply(
    changes: Iterable[Change],
    *,
    dry_run: bool = False,
    uninstall: bool = False,
    clock: Callable[[], float] = time.time,
    backups: Path | None = None,
) -> list[Report]:
    """Writes the changes (backing each file up first, under ``backups``, default
    :func:`backup_folder`); returns what happened to each."""
    root = backups or backup_folder()
    reports = []
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    for change in changes:
        moved: tuple[Path, ...] = ()
        if not dry_run:
            ensure_private_dir(root.parent)
            ensure_private_dir(root)
            moved = tuple(_move_old_backups(change.path, root))
        if not change.changed:
            reports.append(Report(change.path, "unchanged", moved=moved))
            continue
        restore = _original(change, root) if uninstall else None
        action = "created" if change.before is None else "updated"
        if change.after is None:
            action = "removed"
        if restore is not None:
            action = "restored"
        diff = _diff(change)
        if dry_run:
            reports.append(Report(change.path, action, None, diff))
            continue
        backup = None
        if change.before is not None:
            folder = _mirror(root, change.path)
            backup = folder / f"{change.path.name}.bak-{stamp}"
            n = 1
            while backup.exists():
                n += 1
                backup = folder / f"{change.path.name}.bak-{stamp}-{n}"
            copy_private(change.path, backup)
        if restore is not None:
            _write(change.path, restore)
        elif change.after is None:
            change.path.unlink()
        else:
            _write(change.path, change.after.encode("utf-8"))
        reports.append(Report(change.path, action, backup, diff, moved))
    return reports
