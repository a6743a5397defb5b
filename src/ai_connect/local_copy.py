"""The receiver's side of a context reference: find the lines in this checkout, verify them.

A message whose context carries a reference (:mod:`ai_connect.code_reference`) is shown
to the model as that reference — the local absolute path, the line range and "verified
identical (sha256 …)" — when the checkout the surface runs in (its working directory) is
a clone of the same repository (:func:`ai_connect.repo_identity.repo_identity`) and its
file holds the sender's bytes. Otherwise the model gets the content the message carries,
with a word on why (another commit, locally modified, missing, no checkout here).

The reference comes from a peer: nothing outside the checkout is ever opened. Each path
component is opened relative to the previous one without following symlinks
(``O_NOFOLLOW``), the file must be a regular file of bounded size, and the path was
checked before (:func:`~ai_connect.code_reference.safe_parts`). Only files git tracks are
compared: an ignored or untracked file is never hashed for a peer.

Synchronous (reads files, runs ``git``); surfaces on an event loop use
``asyncio.to_thread``.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_connect.code_context import file_status, head_commit
from ai_connect.code_reference import (
    LocalCopy,
    Match,
    Reference,
    ReferenceRefused,
    State,
    code_context,
    compare,
    parse_reference,
)
from ai_connect.repo_identity import RepoIdentity, repo_identity

__all__ = [
    "MAX_FILE_BYTES",
    "Checkout",
    "localise",
    "read_in_checkout",
    "resolve",
]

MAX_FILE_BYTES = 8 * 1024 * 1024
"""A larger local file is not read: the content is shown instead."""


@dataclass(slots=True)
class Checkout:
    """The checkout a surface runs in, looked up once (only if a reference needs it)."""

    cwd: Path
    _identity: RepoIdentity | None = None
    _looked: bool = False
    _head: str | None = None
    _headed: bool = False

    @property
    def identity(self) -> RepoIdentity | None:
        if not self._looked:
            self._identity, self._looked = repo_identity(self.cwd), True
        return self._identity

    @property
    def head(self) -> str | None:
        """The commit checked out here (only asked when a copy differs)."""
        if not self._headed and self.identity is not None:
            self._head, self._headed = head_commit(self.identity.root), True
        return self._head


def read_in_checkout(root: Path, parts: tuple[str, ...]) -> bytes:
    """The bytes of ``root/parts…``, never leaving ``root``.

    Raises :class:`FileNotFoundError` when it is not there, :class:`ReferenceRefused`
    for a symlink on the way, a non-regular file or one over :data:`MAX_FILE_BYTES`.
    """
    if os.open not in os.supports_dir_fd or not hasattr(os, "O_NOFOLLOW"):
        return _read_resolved(root, parts)  # no openat(2): check the resolved path instead
    nofollow = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    folder = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow)
    try:
        for part in parts[:-1]:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=folder)
            except OSError as exc:
                raise _translate(exc, part, folder) from exc
            os.close(folder)
            folder = inner
        try:
            fd = os.open(parts[-1], os.O_RDONLY | os.O_NONBLOCK | nofollow, dir_fd=folder)
        except OSError as exc:
            raise _translate(exc, parts[-1], folder) from exc
    finally:
        os.close(folder)
    try:
        _check(os.fstat(fd))
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as file:
        return file.read(MAX_FILE_BYTES + 1)


def _check(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise ReferenceRefused("not a regular file")
    if info.st_size > MAX_FILE_BYTES:
        raise ReferenceRefused(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")


def _translate(exc: OSError, part: str | None = None, folder: int | None = None) -> Exception:
    """An open's error as missing (not there) or refused (a symlink, unreadable)."""
    if exc.errno in (errno.ELOOP, errno.EMLINK) or _is_link(part, folder):
        return ReferenceRefused("a symlink on the way (not followed)")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return FileNotFoundError(exc.errno, "not in this checkout")
    return ReferenceRefused(f"cannot open it: {exc.strerror}")


def _is_link(part: str | None, folder: int | None) -> bool:
    # Linux reports ENOTDIR, not ELOOP, for a symlinked folder opened O_DIRECTORY|O_NOFOLLOW.
    if part is None or folder is None:
        return False
    try:
        return stat.S_ISLNK(os.lstat(part, dir_fd=folder).st_mode)
    except OSError:
        return False


def _read_resolved(root: Path, parts: tuple[str, ...]) -> bytes:
    top = root.resolve()
    path = top.joinpath(*parts)
    if path.resolve() != path or not path.is_relative_to(top):
        if not path.exists() and not path.is_symlink():
            raise FileNotFoundError(errno.ENOENT, "not in this checkout")
        raise ReferenceRefused("a symlink on the way (not followed)")
    try:
        info = path.stat()
    except OSError as exc:
        raise _translate(exc) from exc
    _check(info)
    return path.read_bytes()


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "unknown"


def _reasons(ref: Reference, here: Checkout, dirty: bool | None) -> tuple[str, ...]:
    """Why a local copy differs from the sender's: commits, and who has changes."""
    head = here.head
    reasons = []
    if ref.commit and head and not head.startswith(ref.commit):
        reasons.append(f"other commit (sender {_short(ref.commit)}, you {_short(head)})")
    if dirty:
        reasons.append("locally modified (uncommitted changes here)")
    if ref.dirty:
        reasons.append("the sender's copy has uncommitted changes")
    return tuple(reasons) or ("the bytes differ",)


def resolve(context: Mapping[str, Any], here: Checkout) -> LocalCopy | None:
    """What ``here`` holds of the context's reference (its own, or that of the code a
    proposal came with); ``None`` if it carries none."""
    code = code_context(context)
    if code is None:
        return None
    try:
        ref = parse_reference(code)
    except ReferenceRefused as exc:
        return LocalCopy(State.REFUSED, None, reasons=(str(exc),))
    identity = here.identity
    if identity is None or identity.key != ref.repo:
        return LocalCopy(State.NOT_HERE, ref)
    file = identity.root.joinpath(*ref.parts)
    try:
        data = read_in_checkout(identity.root, ref.parts)
    except FileNotFoundError:
        why = "missing in your checkout (renamed, deleted, or not pulled yet)"
        return LocalCopy(State.MISSING, ref, file, ref.start, ref.end, (why,))
    except ReferenceRefused as exc:
        return LocalCopy(State.REFUSED, ref, reasons=(str(exc),))
    except OSError as exc:
        return LocalCopy(State.REFUSED, ref, reasons=(f"cannot read it: {exc.strerror}",))
    # Only files the repository tracks: the sender has them too. An ignored or untracked
    # file (.env, local notes) is this machine's own; hashing it for a peer's reference
    # would let a guessed hash be confirmed through the receiving model.
    tracked, dirty = file_status(identity.root, ref.path)
    if tracked is not True:
        why = "not tracked by git here (only tracked files are looked up)"
        return LocalCopy(State.REFUSED, ref, reasons=(why,))
    verdict = compare(data, ref)
    if verdict.match is Match.NONE:
        reasons = _reasons(ref, here, dirty)
        return LocalCopy(State.DIFFERS, ref, file, ref.start, ref.end, reasons)
    state = {Match.FILE: State.IDENTICAL, Match.LINES: State.LINES}.get(verdict.match, State.MOVED)
    return LocalCopy(state, ref, file, verdict.start, verdict.end, crlf=verdict.crlf)


def localise(contexts: Iterable[tuple[str, Any]], here: Checkout) -> dict[str, LocalCopy]:
    """``{message id: local copy}`` for the (id, context) pairs that carry a reference."""
    found: dict[str, LocalCopy] = {}
    for key, context in contexts:
        if isinstance(context, Mapping) and (local := resolve(context, here)) is not None:
            found[key] = local
    return found
