"""Where the service files go, and writing or removing exactly them.

Install writes each file of the plan: a file it wrote before (it carries
:data:`~ai_connect.service.units.MARK`) is replaced, someone else's is first copied to
``FILE.bak-<time>``, and an environment file that exists is never touched (it is the
operator's). Uninstall removes what install wrote, puts a backed-up file back byte for
byte (and drops its backup), keeps an environment file the operator changed, and
removes the folders it leaves empty: the tree is as it was before install.

``root`` prefixes every path (``--root``, like ``systemctl --root``), so tests and
packagers can generate the files into a folder.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ai_connect.agent_setup.apply import read_file
from ai_connect.service import units
from ai_connect.service.units import MARK, UnitSpec

__all__ = [
    "File",
    "Layout",
    "Outcome",
    "install_files",
    "installation_paths",
    "plan",
    "uninstall_files",
]


@dataclass(frozen=True, slots=True)
class Layout:
    """Where one scope's files live, as the running system sees them."""

    system: bool
    config_home: PurePosixPath
    """The user's XDG config folder (``$XDG_CONFIG_HOME``, else ``~/.config``)."""
    root: Path = Path("/")

    @property
    def unit_dir(self) -> PurePosixPath:
        if self.system:
            return PurePosixPath("/etc/systemd/system")
        return self.config_home / "systemd" / "user"

    def unit(self, kind: str) -> PurePosixPath:
        return self.unit_dir / units.unit_name(kind)

    def env_file(self, kind: str) -> PurePosixPath:
        base = units.SYSTEM_CONFIG if self.system else self.config_home / "ai-connect"
        return base / f"{kind}.env"

    @property
    def sysusers(self) -> PurePosixPath:
        return PurePosixPath("/etc/sysusers.d/ai-connect.conf")

    def on_disk(self, path: PurePosixPath) -> Path:
        return self.root / path.relative_to("/")

    @property
    def bases(self) -> set[PurePosixPath]:
        """Folders never removed, even when empty."""
        return {PurePosixPath("/"), PurePosixPath("/etc"), self.config_home}


@dataclass(frozen=True, slots=True)
class File:
    path: PurePosixPath
    text: str
    mode: int = 0o644
    operator: bool = False
    """The operator's to edit: created once, never overwritten, kept if changed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    path: Path
    action: str
    """created, updated, replaced, unchanged, kept, removed, restored or absent."""
    note: str = ""


def installation_paths() -> list[PurePosixPath]:
    """The folders this ai-connect runs from: its environment, its interpreter, its code."""
    import ai_connect

    found = {
        Path(sys.prefix),
        Path(sys.base_prefix),
        Path(sys.executable).resolve().parent.parent,
        Path(ai_connect.__file__).resolve().parent.parent,
    }
    return sorted(PurePosixPath(p.absolute().as_posix()) for p in found)


def plan(layout: Layout, kind: str, program: Sequence[str], args: Sequence[str]) -> list[File]:
    """The files of one service: its unit, its environment file, the system user."""
    spec = UnitSpec(
        kind,
        layout.system,
        program,
        layout.env_file(kind),
        args,
        installation_paths() if layout.system else (),
    )
    files = [
        File(layout.unit(kind), units.render_unit(spec)),
        File(layout.env_file(kind), units.env_template(kind, layout.system), 0o600, operator=True),
    ]
    if layout.system:
        files.append(File(layout.sysusers, units.sysusers()))
    return files


def _ours(text: str | None) -> bool:
    return text is not None and text.startswith(MARK)


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.ai-connect-tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + ".bak-*"), reverse=True)


def install_files(
    layout: Layout,
    files: Sequence[File],
    *,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
) -> list[Outcome]:
    """Writes ``files`` (see the module docstring); with ``dry_run``, only says what."""
    out = []
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(clock()))
    for file in files:
        path = layout.on_disk(file.path)
        current = read_file(path)
        if current == file.text:
            out.append(Outcome(path, "unchanged"))
            continue
        if current is not None and file.operator:
            out.append(Outcome(path, "kept", "yours: not overwritten"))
            continue
        backup = None
        if current is not None and not _ours(current):
            backup = path.with_name(f"{path.name}.bak-{stamp}")
        action = "created" if current is None else ("updated" if backup is None else "replaced")
        note = f"backup: {backup}" if backup is not None else ""
        out.append(Outcome(path, action, note))
        if dry_run:
            continue
        if backup is not None:
            mode = path.stat().st_mode & 0o7777
            _write(backup, path.read_bytes(), mode)
        _write(path, file.text.encode("utf-8"), file.mode)
    return out


def uninstall_files(
    layout: Layout, files: Sequence[File], *, dry_run: bool = False
) -> list[Outcome]:
    """Takes out what :func:`install_files` put in (see the module docstring)."""
    out = []
    for file in files:
        path = layout.on_disk(file.path)
        current = read_file(path)
        if current is None:
            out.append(Outcome(path, "absent"))
            continue
        if not _ours(current):
            out.append(Outcome(path, "kept", "not written by ai-connect"))
            continue
        if file.operator and current != file.text:
            out.append(Outcome(path, "kept", "you changed it; delete it yourself if unneeded"))
            continue
        original = next(
            (b for b in _backups(path) if not _ours(read_file(b))),
            None,
        )
        out.append(Outcome(path, "restored" if original else "removed"))
        if dry_run:
            continue
        if original is not None:
            mode = original.stat().st_mode & 0o7777
            _write(path, original.read_bytes(), mode)
            original.unlink()
        else:
            path.unlink()
            _prune(path.parent, layout)
    return out


def _prune(folder: Path, layout: Layout) -> None:
    """Removes ``folder`` and its parents while they are empty, up to the bases."""
    stop = {layout.on_disk(base) for base in layout.bases}
    while folder not in stop and layout.root in folder.parents:
        with contextlib.suppress(OSError):  # not empty, or not ours to remove
            folder.rmdir()
            folder = folder.parent
            continue
        return
