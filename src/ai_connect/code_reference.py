"""Context by reference: what a ``peer_context`` reference is, and how a copy verifies it.

A code context (:mod:`ai_connect.code_context`) carries the sender's lines *and*, when
the file sits in a git checkout, a reference to them (``context["ref"]``, docs/mcp.md
"Context by reference"): the repository's identity (:mod:`ai_connect.repo_identity`), the
sender's commit, the repo-relative path, the line range, the sha256 of the whole file and
the sha256 of the lines with CRLF read as LF. A receiver with its own checkout of the
same repository shows its model the reference instead of the content when its copy
verifies (:mod:`ai_connect.local_copy` does the reading).

Verification is by hash, never by commit: two checkouts at different commits hold the
same bytes for most files, and a dirty file at the sender's commit differs from it.
A reference is peer input: :func:`safe_parts` refuses every path that could name
something outside the receiver's checkout (absolute, ``..``, backslashes, drive letters,
``.git``) before anything is opened. :class:`LocalCopy` is the receiver's verdict as
data, for the texts (:mod:`ai_connect.text`) and the structured results.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_PATH_CHARS",
    "MOVED_SEARCH_BYTES",
    "LocalCopy",
    "Match",
    "Reference",
    "ReferenceRefused",
    "State",
    "Verdict",
    "code_context",
    "compare",
    "lines_digest",
    "parse_reference",
    "safe_parts",
    "split_lines",
]

MAX_PATH_CHARS = 4096
MOVED_SEARCH_BYTES = 16 * 1024 * 1024
"""How many bytes :func:`compare` hashes at most looking for lines that moved."""

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{7,64}$")
_LINES = re.compile(r"^(\d{1,9})-(\d{1,9})$")
_DRIVE = re.compile(r"^[A-Za-z]:")


class ReferenceRefused(ValueError):
    """A reference names a path that may not be opened (it could leave the checkout)."""


def safe_parts(path: str) -> tuple[str, ...]:
    """The components of a repo-relative POSIX path; raises :class:`ReferenceRefused`.

    Refused: empty, absolute, ``..`` or ``.`` or empty components, backslashes, drive
    letters, NUL and other control characters, anything under ``.git``, over-long paths.
    Symlinks are the reader's business (it opens each component without following them).
    """
    if not path or len(path) > MAX_PATH_CHARS:
        raise ReferenceRefused("the path is empty or too long")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise ReferenceRefused("the path holds control characters")
    if path.startswith("/") or "\\" in path or _DRIVE.match(path):
        raise ReferenceRefused("the path is not relative to the repository root")
    parts = tuple(path.split("/"))
    if any(part in ("", ".", "..") for part in parts):
        raise ReferenceRefused("the path climbs out of the repository or is not normalised")
    if parts[0].lower() == ".git":
        raise ReferenceRefused("the path points into .git")
    return parts


@dataclass(frozen=True, slots=True)
class Reference:
    """Lines of a file in a repository, as the sender had them."""

    repo: str
    """The repository key (``github.com/org/app``, ``local/<name>``)."""
    path: str
    parts: tuple[str, ...]
    start: int
    end: int
    """Inclusive; ``start - 1`` for no lines (an empty file)."""
    sha256: str
    """Of the sender's whole file."""
    lines_sha256: str
    """Of the sender's lines ``start..end``, CRLF read as LF (:func:`lines_digest`)."""
    commit: str | None = None
    dirty: bool | None = None

    @property
    def lines(self) -> str:
        return f"{self.start}-{self.end}"

    def as_dict(self) -> dict[str, Any]:
        """The ``ref`` object of a code context (docs/mcp.md)."""
        return {
            "repo": self.repo,
            "commit": self.commit,
            "path": self.path,
            "lines": self.lines,
            "sha256": self.sha256,
            "lines_sha256": self.lines_sha256,
            "dirty": self.dirty,
        }


def code_context(context: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The code context of a message's context that carries a reference: the context
    itself (``peer_context``), or the code a consensus proposal came with."""
    if isinstance(context.get("ref"), Mapping):
        return context
    proposal = context.get("proposal")
    attached = proposal.get("context") if isinstance(proposal, Mapping) else None
    code = attached.get("code") if isinstance(attached, Mapping) else None
    if isinstance(code, Mapping) and isinstance(code.get("ref"), Mapping):
        return code
    return None


def parse_reference(context: Mapping[str, Any]) -> Reference:
    """The reference a message's context carries; raises :class:`ReferenceRefused`.

    Raises for a context without a well-formed ``ref`` too: the caller then shows the
    content, as for any context without a reference.
    """
    ref = context.get("ref")
    if not isinstance(ref, Mapping):
        raise ReferenceRefused("the context carries no reference")
    repo, path = ref.get("repo"), ref.get("path")
    digest, lines_digest_, span = ref.get("sha256"), ref.get("lines_sha256"), ref.get("lines")
    if not isinstance(repo, str) or not repo or len(repo) > 512:
        raise ReferenceRefused("the reference names no repository")
    if not isinstance(path, str):
        raise ReferenceRefused("the reference names no path")
    if not (isinstance(digest, str) and _HEX64.match(digest)):
        raise ReferenceRefused("the reference has no sha256")
    if not (isinstance(lines_digest_, str) and _HEX64.match(lines_digest_)):
        raise ReferenceRefused("the reference has no lines_sha256")
    match = _LINES.match(span) if isinstance(span, str) else None
    if match is None:
        raise ReferenceRefused("the reference has no line range")
    start, end = int(match.group(1)), int(match.group(2))
    if start < 1 or end < start - 1:
        raise ReferenceRefused("the reference's line range is empty or reversed")
    commit = ref.get("commit")
    dirty = ref.get("dirty")
    return Reference(
        repo=repo,
        path=path,
        parts=safe_parts(path),
        start=start,
        end=end,
        sha256=digest,
        lines_sha256=lines_digest_,
        commit=commit if isinstance(commit, str) and _COMMIT.match(commit) else None,
        dirty=dirty if isinstance(dirty, bool) else None,
    )


def split_lines(data: bytes) -> list[bytes]:
    """Lines as editors number them: split after each ``\\n``, ends kept."""
    return data.splitlines(keepends=True) if b"\r" not in data else _split_lf(data)


def _split_lf(data: bytes) -> list[bytes]:
    # bytes.splitlines also splits at a lone \r; editors and `sed -n` only at \n.
    lines = data.split(b"\n")
    out = [line + b"\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def lines_digest(lines: list[bytes]) -> str:
    """sha256 of lines with CRLF read as LF: a Windows checkout verifies a Unix one."""
    return hashlib.sha256(b"".join(lines).replace(b"\r\n", b"\n")).hexdigest()


class Match(Enum):
    FILE = "file"
    """The whole file is byte for byte the sender's."""
    LINES = "lines"
    """The lines, at the same numbers, are the sender's (elsewhere the file differs)."""
    MOVED = "moved"
    """The lines are the sender's, at other numbers (the file changed above them)."""
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Verdict:
    match: Match
    start: int
    """Where the lines are in the local copy (``MOVED``: not where the sender had them)."""
    end: int
    crlf: bool = False
    """The lines matched only with CRLF read as LF."""

    @property
    def verified(self) -> bool:
        return self.match is not Match.NONE


def compare(data: bytes, ref: Reference) -> Verdict:
    """Whether ``data`` (the local file) holds the referenced lines, and where."""
    if hashlib.sha256(data).hexdigest() == ref.sha256:
        return Verdict(Match.FILE, ref.start, ref.end)
    lines = split_lines(data)
    count = ref.end - ref.start + 1
    wanted = lines[ref.start - 1 : ref.end]
    if len(wanted) == count and lines_digest(wanted) == ref.lines_sha256:
        return Verdict(Match.LINES, ref.start, ref.end, _crlf(wanted))
    if count < 1:
        return Verdict(Match.NONE, ref.start, ref.end)
    # The file changed above the lines (another commit): look for the block elsewhere,
    # nearest to where the sender had it first, within a hashing budget.
    norm = [line.replace(b"\r\n", b"\n") for line in lines]
    ends = list(itertools.accumulate((len(line) for line in norm), initial=0))
    spent = 0
    for i in sorted(range(len(norm) - count + 1), key=lambda i: abs(i - (ref.start - 1))):
        if i == ref.start - 1:
            continue
        spent += ends[i + count] - ends[i]
        if spent > MOVED_SEARCH_BYTES:
            break
        if hashlib.sha256(b"".join(norm[i : i + count])).hexdigest() == ref.lines_sha256:
            return Verdict(Match.MOVED, i + 1, i + count, _crlf(lines[i : i + count]))
    return Verdict(Match.NONE, ref.start, ref.end)


def _crlf(lines: list[bytes]) -> bool:
    return any(line.endswith(b"\r\n") for line in lines)


class State(Enum):
    IDENTICAL = "identical"
    """The whole file is the sender's, byte for byte."""
    LINES = "lines"
    """The lines are the sender's at the same numbers; the file differs elsewhere."""
    MOVED = "moved"
    """The lines are the sender's, at other numbers in this copy."""
    DIFFERS = "differs"
    MISSING = "missing"
    NOT_HERE = "not_here"
    """This surface's directory is no checkout of the referenced repository."""
    REFUSED = "refused"
    """The reference could leave the checkout (or names a symlink, a device…): not opened."""


VERIFIED = (State.IDENTICAL, State.LINES, State.MOVED)


@dataclass(frozen=True, slots=True)
class LocalCopy:
    """What this checkout holds of a referenced excerpt."""

    state: State
    ref: Reference | None
    path: Path | None = None
    """The local absolute path (``None``: not here, refused)."""
    start: int = 0
    end: int = 0
    """Where the lines are locally (``MOVED``: not where the sender had them)."""
    reasons: tuple[str, ...] = ()
    """Why it does not verify: ``other commit (…)``, ``locally modified``, …"""
    crlf: bool = False
    """Verified with CRLF read as LF."""

    @property
    def verified(self) -> bool:
        return self.state in VERIFIED

    @property
    def lines(self) -> str:
        return f"{self.start}-{self.end}"

    def as_dict(self) -> dict[str, Any]:
        """The ``local`` of a message in a tool's structured result (docs/mcp.md)."""
        return {
            "state": self.state.value,
            "verified": self.verified,
            "path": str(self.path) if self.path is not None else None,
            "lines": self.lines if self.path is not None else None,
            "reasons": list(self.reasons),
        }
