"""Code context for ``peer_context``: a file or line range, with what the receiver needs
to judge it.

The receiver usually cannot open the sender's files, so a path and line numbers alone
are useless to it. :func:`read_context` returns the content itself (size-capped, with a
visible truncation marker) together with the path relative to the repository root, the
repository name, branch, commit, the sha256 of the file and whether it has uncommitted
changes, so the receiver can see the code and tell whether its own copy differs. In a git
checkout it also carries a reference to the lines (:mod:`ai_connect.code_reference`): a
receiver whose own checkout of the repository holds the same bytes shows its model the
reference instead of the content (docs/mcp.md, "Context by reference").

Lines are numbered as editors number them: a line ends at ``\n`` (``\r\n`` included),
not at form feeds or other characters ``str.splitlines`` would split at.

Synchronous (it runs ``git`` with a timeout); callers on an event loop use
``asyncio.to_thread``. Works outside git too: the git fields are then ``None``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_connect.code_reference import Reference, lines_digest, split_lines
from ai_connect.errors import BridgeError
from ai_connect.repo_identity import git, repo_identity

__all__ = [
    "DEFAULT_MAX_BYTES",
    "CodeContext",
    "ContextError",
    "GitInfo",
    "file_status",
    "git_info",
    "head_commit",
    "parse_lines",
    "read_context",
]

DEFAULT_MAX_BYTES = 48 * 1024
"""Content cap: well under the bridge's context limit, and about what a model reads well."""


_LINES_RE = re.compile(r"^\s*L?(\d+)?\s*(?:([-:])\s*L?(\d+)?)?\s*$")


class ContextError(BridgeError):
    """The file cannot be shared as asked (missing, a directory, binary, bad line range)."""


@dataclass(frozen=True, slots=True)
class GitInfo:
    """Where a file sits in git; every field ``None`` outside a repository."""

    root: Path | None = None
    repo: str | None = None
    branch: str | None = None
    commit: str | None = None
    tracked: bool | None = None
    dirty: bool | None = None


@dataclass(frozen=True, slots=True)
class CodeContext:
    """A shared excerpt of a file and its provenance."""

    path: str
    """Relative to the repository root (POSIX), else to the working directory, else absolute."""
    start: int
    end: int
    """Last line shown (inclusive); ``start - 1`` for an empty file."""
    total_lines: int
    content: str
    """The excerpt, ending with a truncation marker when ``truncated``."""
    truncated: bool
    next_lines: str | None
    """The ``lines`` value that continues a truncated excerpt."""
    sha256: str
    """Of the whole file as it is on disk now (compare with ``sha256sum FILE``)."""
    excerpt_sha256: str
    """Of the shown lines (without the truncation marker)."""
    size: int
    git: GitInfo
    ref: Reference | None = None
    """The reference to the shown lines (in a git checkout, unless turned off)."""

    @property
    def lines(self) -> str:
        return f"{self.start}-{self.end}"

    def as_dict(self) -> dict[str, Any]:
        """The ``context`` a peer_context message carries (docs/mcp.md)."""
        data = {
            "kind": "code",
            "file": self.path,
            "lines": self.lines,
            "total_lines": self.total_lines,
            "content": self.content,
            "truncated": self.truncated,
            "next_lines": self.next_lines,
            "sha256": self.sha256,
            "excerpt_sha256": self.excerpt_sha256,
            "size": self.size,
            "repo": self.git.repo,
            "branch": self.git.branch,
            "commit": self.git.commit,
            "tracked": self.git.tracked,
            "dirty": self.git.dirty,
        }
        if self.ref is not None:
            data["ref"] = self.ref.as_dict()
        return data


def parse_lines(spec: str | None) -> tuple[int, int | None] | None:
    """``"10-40"``, ``"10"``, ``"10-"``, ``"-40"``, ``"L10-L40"`` or ``"10:40"`` -> (start, end).

    ``None`` or an empty string means the whole file. Raises :class:`ContextError`.
    """
    if spec is None or not spec.strip():
        return None
    match = _LINES_RE.match(spec)
    if match is None or (match.group(1) is None and match.group(3) is None):
        raise ContextError(
            f"lines={spec!r} is not a line range; use e.g. '10-40', '10' or '120-' (1-based)"
        )
    start = int(match.group(1) or 1)
    if match.group(2) is None:
        end: int | None = start
    else:
        end = int(match.group(3)) if match.group(3) is not None else None
    if start < 1 or (end is not None and end < start):
        raise ContextError(f"lines={spec!r} is empty; lines start at 1 and the end comes last")
    return start, end


def git_info(file: Path) -> GitInfo:
    """The repository, branch, commit and status of ``file`` (an existing file)."""
    folder = file.parent
    top = git(folder, "rev-parse", "--show-toplevel")
    if top is None or not top.strip():
        return GitInfo()
    root = Path(top.strip()).resolve()
    commit = head_commit(root)
    ref = git(folder, "symbolic-ref", "--quiet", "--short", "HEAD")
    branch = ref.strip() if ref else ("(detached)" if commit else None)
    tracked, dirty = file_status(root, file.relative_to(root).as_posix())
    return GitInfo(root, root.name, branch, commit, tracked, dirty)


def head_commit(root: Path) -> str | None:
    """The commit checked out in ``root``; ``None`` before the first commit or outside git."""
    head = git(root, "rev-parse", "--verify", "--quiet", "HEAD")
    return head.strip() if head else None


def file_status(root: Path, relative: str) -> tuple[bool | None, bool | None]:
    """(tracked, dirty) of ``relative`` in the checkout ``root``; ``None`` when unknown."""
    status = git(
        root, "status", "--porcelain=v1", "--untracked-files=all", "--ignored", "--", relative
    )
    if status is None:
        return None, None
    # "?? f" untracked, "!! f" ignored, " M f" etc. changed, nothing: as committed.
    return not status.startswith(("??", "!!")), bool(status.strip())


def _display_path(file: Path, git: GitInfo, cwd: Path) -> str:
    if git.root is not None:
        return file.relative_to(git.root).as_posix()
    try:
        return file.relative_to(cwd.resolve()).as_posix()
    except ValueError:
        return file.as_posix()


def _resolve(file: str, cwd: Path) -> Path:
    if not file.strip():
        raise ContextError(f"file is empty; pass a file path (absolute, or relative to {cwd})")
    path = Path(file).expanduser()
    if not path.is_absolute():
        path = cwd / path
    path = path.resolve()
    if not path.exists():
        raise ContextError(
            f"file not found: {path}; pass an absolute path, or one relative to {cwd} "
            "(the working directory of this ai-connect mcp server)"
        )
    if not path.is_file():
        raise ContextError(f"{path} is not a regular file; pass a file, not a directory")
    return path


def _cut(lines: list[bytes], max_bytes: int) -> tuple[list[bytes], int]:
    """The leading lines that fit in ``max_bytes`` (at least part of the first)."""
    used, kept = 0, list[bytes]()
    for line in lines:
        if used + len(line) > max_bytes:
            if not kept:  # one huge line: keep what fits of it (whole characters)
                part = line[:max_bytes].decode("utf-8", errors="ignore").encode("utf-8")
                kept.append(part)
                used += len(part)
            break
        kept.append(line)
        used += len(line)
    return kept, used


def _reference(
    git: GitInfo, path: str, start: int, full: list[bytes], data: bytes
) -> Reference | None:
    """A reference to the whole lines shown; ``None`` outside git or without whole lines."""
    if git.root is None or (not full and data):
        return None
    identity = repo_identity(git.root)
    if identity is None:
        return None
    return Reference(
        repo=identity.key,
        path=path,
        parts=tuple(path.split("/")),
        start=start,
        end=start + len(full) - 1,
        sha256=hashlib.sha256(data).hexdigest(),
        lines_sha256=lines_digest(full),
        commit=git.commit,
        dirty=git.dirty,
    )


def read_context(
    file: str,
    lines: str | None = None,
    *,
    cwd: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    reference: bool = True,
) -> CodeContext:
    """Reads ``file`` (or ``lines`` of it) for sharing; raises :class:`ContextError`.

    ``reference``: also refer to the lines (in a git checkout), so that a receiver with
    the same bytes can be shown the reference instead of the content.
    """
    span = parse_lines(lines)
    path = _resolve(file, cwd)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ContextError(f"cannot read {path}: {exc.strerror}") from exc
    if b"\x00" in data[:8192]:
        raise ContextError(f"{path} looks binary; share a text file")
    raw_lines = split_lines(data)
    total = len(raw_lines)
    start, end = span if span is not None else (1, None)
    if start > max(total, 1):
        raise ContextError(f"{path} has {total} lines; ask for lines within 1-{total}")
    end = total if end is None else min(end, total)
    wanted = raw_lines[start - 1 : end]
    kept, used = _cut(wanted, max_bytes)
    whole_kept = bool(kept) and kept[-1] == wanted[len(kept) - 1]
    full = kept if whole_kept else kept[:-1]
    shown = b"".join(kept).decode("utf-8", errors="replace")
    truncated = len(kept) < len(wanted) or (not whole_kept and bool(kept))
    last = start + len(kept) - 1 if kept else start - 1
    next_lines = None
    content = shown
    if truncated:
        whole = sum(len(line) for line in wanted)
        resume = last + 1 if whole_kept else last
        next_lines = f"{resume}-{end}"
        content = (
            shown.rstrip("\n")
            + f"\n[... truncated by ai-connect: showing lines {start}-{last} of {start}-{end} "
            f"({used} of {whole} bytes); ask for lines={next_lines} for the rest]\n"
        )
    git = git_info(path)
    shown_path = _display_path(path, git, cwd)
    return CodeContext(
        path=shown_path,
        start=start,
        end=last,
        total_lines=total,
        content=content,
        truncated=truncated,
        next_lines=next_lines,
        sha256=hashlib.sha256(data).hexdigest(),
        excerpt_sha256=hashlib.sha256(shown.encode("utf-8")).hexdigest(),
        size=len(data),
        git=git,
        ref=_reference(git, shown_path, start, full, data) if reference else None,
    )
