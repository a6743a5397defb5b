"""Which events ``ai-connect watch`` shows: filters by peer, project and thread. Pure.

Within one kind any value may match (``--peer bob --peer carol``: either); across kinds
all must (``--peer bob --project web``: bob's traffic that touches project web). A peer
matches as a target does when sending (docs/protocol.md §3.1), but leniently, since
nothing is sent: the full address, any case, the bare name (``bob``, ``bob#2``), or a
prefix of the address. A project matches the ``(Project)`` part of an address, any case;
a thread matches exactly, and a proposal matches its own id as a thread (the thread its
``[LGTM]`` replies go to).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from ai_connect.identity import BROADCAST, parse_address

__all__ = ["Filters", "Scope", "parse_filters", "proposal_scope"]


def _name(address: str) -> str:
    parsed = parse_address(address)
    return parsed[0] if parsed else address


def _project(address: str) -> str | None:
    parsed = parse_address(address)
    return parsed[1] if parsed else None


@dataclass(frozen=True, slots=True)
class Scope:
    """What a timeline row is about, for filtering it again when the filters change."""

    kind: Literal["message", "peer", "proposal", "link"]
    parties: tuple[str, ...] = ()
    thread: str | None = None
    known: bool = True
    """``message``: the thread is known (the watch saw the message)."""


@dataclass(frozen=True, slots=True)
class Filters:
    peers: tuple[str, ...] = ()
    projects: tuple[str, ...] = ()
    threads: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.peers or self.projects or self.threads)

    def peer_matches(self, address: str) -> bool:
        """``address`` is one of the filtered peers (true when there is no peer filter)."""
        if not self.peers:
            return True
        folded = address.casefold()
        for wanted in self.peers:
            w = wanted.strip().casefold()
            if folded == w or _name(address).casefold() == w or folded.startswith(w):
                return True
        return False

    def project_matches(self, address: str) -> bool:
        if not self.projects:
            return True
        project = _project(address)
        return project is not None and project.casefold() in {
            p.strip().casefold() for p in self.projects
        }

    def _parties(self, parties: Iterable[str]) -> bool:
        named = [a for a in parties if a and a != BROADCAST]
        return any(self.peer_matches(a) for a in named) and any(
            self.project_matches(a) for a in named
        )

    def passes_message(
        self, sender: str, recipients: Iterable[str], thread: str | None, *, known: bool = True
    ) -> bool:
        """A message (or a delivery of it) between these parties, in ``thread``.

        ``known=False``: a delivery of a message the watch never saw, so its thread is
        unknown; a thread filter then hides it."""
        if self.threads and (not known or thread not in self.threads):
            return False
        return self._parties([sender, *recipients])

    def passes_peer(self, address: str) -> bool:
        """A peer's join, leave, or row in the peers panel (threads do not hide peers)."""
        return self.peer_matches(address) and self.project_matches(address)

    def passes_proposal(self, proposal: dict[str, Any]) -> bool:
        return self.passes(proposal_scope(proposal))

    def passes(self, scope: Scope) -> bool:
        """A row of this scope is shown (the link's rows always are)."""
        if scope.kind == "message":
            sender, *recipients = scope.parties
            return self.passes_message(sender, recipients, scope.thread, known=scope.known)
        if scope.kind == "peer":
            return all(self.passes_peer(a) for a in scope.parties)
        if scope.kind == "proposal":
            if self.threads and scope.thread not in self.threads:
                return False
            return self._parties(scope.parties)
        return True

    def describe(self) -> str:
        """``peer bob · project web · thread t1``, or ``everything``."""
        parts = [f"peer {' or '.join(self.peers)}"] if self.peers else []
        parts += [f"project {' or '.join(self.projects)}"] if self.projects else []
        parts += [f"thread {' or '.join(self.threads)}"] if self.threads else []
        return " · ".join(parts) or "everything"


def parse_filters(text: str) -> Filters:
    """``peer:bob project:web thread:t1`` (as typed in the app's filter line) -> Filters.

    A word without a ``kind:`` prefix is a peer. Raises ValueError naming an unknown kind.
    """
    found: dict[str, list[str]] = {"peer": [], "project": [], "thread": []}
    for word in text.split():
        kind, sep, value = word.partition(":")
        if not sep:
            kind, value = "peer", word
        if kind not in found:
            raise ValueError(f"unknown filter {kind!r}: use peer:NAME, project:NAME, thread:ID")
        if value:
            found[kind].append(value)
    return Filters(tuple(found["peer"]), tuple(found["project"]), tuple(found["thread"]))


def proposal_scope(proposal: dict[str, Any]) -> Scope:
    """A proposal's parties (author, participants, judge); its id is its thread."""
    parties = [str(proposal.get("author", ""))]
    parties += [str(p) for p in proposal.get("participants", ())]
    if proposal.get("judge"):
        parties.append(str(proposal["judge"]))
    return Scope("proposal", tuple(parties), str(proposal.get("id")))
