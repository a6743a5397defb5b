"""The frames of advisory file leases (docs/protocol.md §10, issue 15).

A client asks with ``claim``, ``release``, ``claims`` and ``lease_check``; the bridge
answers each with one ``lease_report``. Paths are repo-relative POSIX paths or globs
(:mod:`ai_connect.leases.rules`); the bridge normalises them and refuses broken ones.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ai_connect.protocol.frame import Frame, Rid

__all__ = ["Claim", "Claims", "LeaseCheck", "LeaseConflict", "LeaseReport", "LeaseView", "Release"]

Repo = Annotated[str, Field(min_length=1, max_length=300)]
PathText = Annotated[str, Field(min_length=1, max_length=1024)]
Paths = Annotated[list[PathText], Field(min_length=1, max_length=64)]


class Claim(Frame):
    """Lease ``paths`` of ``repo`` to this address for ``ttl`` seconds (§10.1)."""

    type: Literal["claim"] = "claim"
    rid: Rid
    repo: Repo
    paths: Paths
    ttl: float | None = Field(default=None, gt=0)
    """Seconds; ``None``: the bridge's default (30 minutes); at most a day."""
    reason: str = Field(default="", max_length=500)


class Release(Frame):
    """Give back this address's leases: of ``paths`` (as claimed), else all of them;
    in ``repo``, else in every repository (§10.2)."""

    type: Literal["release"] = "release"
    rid: Rid
    repo: Repo | None = None
    paths: Paths | None = None


class Claims(Frame):
    """The live leases of ``repo``, else of every repository (§10.3)."""

    type: Literal["claims"] = "claims"
    rid: Rid
    repo: Repo | None = None


class LeaseCheck(Frame):
    """About to edit ``paths`` (repo-relative files) of ``repo``: who else holds them?
    With ``renew``, this address's own leases on them are renewed (§10.4)."""

    type: Literal["lease_check"] = "lease_check"
    rid: Rid
    repo: Repo
    paths: Paths
    renew: bool = True


class LeaseView(Frame):
    id: str
    repo: str
    path: str
    """The pattern as stored (normalised)."""
    holder: str
    reason: str
    created: float
    expires: float
    online: bool
    """Whether the holder is connected now."""


class LeaseConflict(Frame):
    path: str
    """The path or glob that was asked for."""
    lease: LeaseView
    """Another address's lease that overlaps it."""


class LeaseReport(Frame):
    """The answer to every lease request (§10): ``leases`` are those granted or renewed
    (``claim``), given back (``release``) or live (``claims``); ``conflicts`` are other
    addresses' leases in the way (``claim``: nothing was granted; ``lease_check``);
    ``renewed`` the caller's own leases a ``lease_check`` renewed."""

    type: Literal["lease_report"] = "lease_report"
    rid: Rid | None = None
    leases: list[LeaseView] = Field(default_factory=list)
    conflicts: list[LeaseConflict] = Field(default_factory=list)
    renewed: list[LeaseView] = Field(default_factory=list)
