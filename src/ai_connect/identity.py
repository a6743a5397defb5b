"""Addresses ``Name (Project)``: formatting, parsing, project detection, matching rules.

Matching (docs/protocol.md §3.1): a target is, in order of preference, an exact address,
an address differing only in case, a bare name (``mini`` or ``mini#2``) that one known
peer carries, or a prefix of exactly one known address. Anything else is an error that
lists the candidates; a message is never stored where nobody will read it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from pathlib import Path

from ai_connect.errors import ErrorCode, UnknownPeer

__all__ = [
    "BROADCAST",
    "detect_project",
    "format_address",
    "parse_address",
    "resolve",
    "with_suffix",
]

BROADCAST = "*"

_ADDRESS_RE = re.compile(r"^(?P<name>[^()]+?) \((?P<project>[^()]+)\)$")


def format_address(name: str, project: str) -> str:
    """``Name (Project)``."""
    return f"{name} ({project})"


def parse_address(address: str) -> tuple[str, str] | None:
    """Splits ``Name (Project)`` into its parts; ``None`` if it is not an address."""
    match = _ADDRESS_RE.match(address.strip())
    if match is None:
        return None
    return match.group("name"), match.group("project")


def with_suffix(name: str, project: str, taken: Callable[[str], bool]) -> str:
    """The first free address of ``Name (Project)``, ``Name#2 (Project)``, ``Name#3``…"""
    address = format_address(name, project)
    number = 2
    while taken(address):
        address = format_address(f"{name}#{number}", project)
        number += 1
    return address


def detect_project(cwd: Path) -> str:
    """The name of the git root above ``cwd``, else the name of ``cwd`` itself."""
    cwd = cwd.resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / ".git").exists():
            return _clean_project(folder.name)
    return _clean_project(cwd.name)


def _clean_project(name: str) -> str:
    cleaned = re.sub(r"[()\x00-\x1f\x7f]", "", name).strip()
    return cleaned[:128] or "default"


def _base_name(address: str) -> str:
    parsed = parse_address(address)
    return parsed[0] if parsed else address


def resolve(target: str, known: Collection[str], asking: str | None = None) -> str:
    """Maps a target to exactly one known address, or raises :class:`UnknownPeer`.

    ``asking``: the address that asks, never offered back to it as a "did you mean".
    """
    target = target.strip()
    if target in known:
        return target
    folded = target.casefold()
    for rule in (
        lambda a: a.casefold() == folded,
        lambda a: _base_name(a).casefold() == folded,
        lambda a: a.casefold().startswith(folded),
    ):
        matches = sorted(a for a in known if rule(a))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise UnknownPeer(
                ErrorCode.AMBIGUOUS_PEER,
                f"{target!r} matches {len(matches)} peers: {', '.join(matches)}",
                "send to the full address, e.g. " + repr(matches[0]),
                tuple(matches),
            )
    close = difflib.get_close_matches(target, list(known), n=5, cutoff=0.4)
    # A typo of a bare name ("alcie", "bop") is close to the name, not to the address.
    by_name: dict[str, list[str]] = {}
    for address in known:
        by_name.setdefault(_base_name(address).casefold(), []).append(address)
    typed = _base_name(target).casefold()
    near = difflib.get_close_matches(typed, list(by_name), n=5, cutoff=0.6)
    names = {a for a in known if _base_name(a).casefold().startswith(folded[:3])}
    names |= {a for name in near for a in by_name[name]}
    candidates = tuple(sorted((set(close) | names) - {asking}))[:10]
    # Surfaces put their own command here (errors.SURFACE_HINTS): 'peers' is the request.
    hint = "list the known peers (the 'peers' request)"
    if candidates:
        hint = f"did you mean {', '.join(candidates)}? ({hint})"
    what = f"no known peer matches {target!r}"
    if parse_address(target) is not None:  # a whole address: the peer has not come yet
        what += " (a peer is known from its first connection to this bridge: start its agent first)"
    raise UnknownPeer(ErrorCode.UNKNOWN_PEER, what, hint, candidates)
