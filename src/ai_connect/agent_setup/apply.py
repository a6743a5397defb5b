"""Carries out a setup plan: backups first, then writes; or, with ``dry_run``, a diff only.

Before a file changes, its current bytes are copied to ``FILE.bak-<timestamp>``. An
uninstall that leaves a file exactly as one of its backups parses (only our entries
were added since) writes that backup's bytes back, so the file returns byte for byte.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import time
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_connect.agent_setup.clients import Change
from ai_connect.errors import ConfigError

__all__ = ["Report", "apply", "read_file"]


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


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"), reverse=True)


def _original(change: Change) -> bytes | None:
    """The bytes of the newest backup that holds exactly what ``change`` leaves."""
    if change.kind == "text":
        return None
    want = _pruned(_parsed(change.after, change.kind))
    for backup in _backups(change.path):
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
) -> list[Report]:
    """Writes the changes (backing each file up first); returns what happened to each."""
    reports = []
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    for change in changes:
        if not change.changed:
            reports.append(Report(change.path, "unchanged"))
            continue
        restore = _original(change) if uninstall else None
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
            backup = change.path.with_name(f"{change.path.name}.bak-{stamp}")
            n = 1
            while backup.exists():
                n += 1
                backup = change.path.with_name(f"{change.path.name}.bak-{stamp}-{n}")
            backup.write_bytes(change.path.read_bytes())
        if restore is not None:
            _write(change.path, restore)
        elif change.after is None:
            change.path.unlink()
        else:
            _write(change.path, change.after.encode("utf-8"))
        reports.append(Report(change.path, action, backup, diff))
    return reports
