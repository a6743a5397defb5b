"""What people and models read about file leases (docs/leases.md), once for every surface.

Pure: a :class:`~ai_connect.protocol.LeaseReport` in, text out. The CLI, the MCP tools
and the pre-edit hook all show leases through these functions, so a conflict reads the
same wherever it is met: who holds the path, why, and until when.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ai_connect.leases.rules import format_ttl
from ai_connect.protocol import LeaseConflict, LeaseReport, LeaseView

__all__ = [
    "claim_text",
    "claims_text",
    "conflict_line",
    "edit_conflict_text",
    "lease_dict",
    "lease_line",
    "release_text",
]


def _until(expires: float, now: float) -> str:
    left = max(0.0, expires - now)
    clock = time.strftime("%H:%M", time.localtime(expires))
    return f"until {clock} (in {format_ttl(left)})"


def lease_line(lease: LeaseView, now: float) -> str:
    """``src/app.py — Alice (proj), until 14:05 (in 25m): refactoring``."""
    why = f": {lease.reason}" if lease.reason else ""
    away = "" if lease.online else " [offline]"
    return f"{lease.path} — {lease.holder}{away}, {_until(lease.expires, now)}{why}"


def conflict_line(conflict: LeaseConflict, now: float) -> str:
    """``src/app.py is held by Alice (proj) as src/** until 14:05 (in 25m): why``."""
    lease = conflict.lease
    held = "" if lease.path == conflict.path else f" as {lease.path}"
    why = f" — reason: {lease.reason}" if lease.reason else ""
    away = "" if lease.online else " (offline now)"
    return (
        f"{conflict.path} is held by {lease.holder}{away}{held}, {_until(lease.expires, now)}{why}"
    )


def claim_text(report: LeaseReport, now: float, *, surface: str = "tool") -> str:
    """The answer to a claim: what was granted, or who is in the way (nothing granted)."""
    if report.conflicts:
        lines = [conflict_line(c, now) for c in report.conflicts]
        then = (
            "peer_send to ask them, peer_claims to see every lease"
            if surface == "tool"
            else "'ai-connect send' to ask them, 'ai-connect claims' to see every lease"
        )
        return (
            "Nothing was claimed: another agent holds an overlapping lease.\n"
            + "\n".join(f"- {x}" for x in lines)
            + f"\nThey were told you asked. Use {then}."
        )
    lines = [lease_line(x, now) for x in report.leases]
    release = "peer_release" if surface == "tool" else "'ai-connect release'"
    return (
        "Claimed:\n"
        + "\n".join(f"- {x}" for x in lines)
        + f"\nYour edits of these paths renew the lease; give it back with {release}."
    )


def release_text(report: LeaseReport, now: float) -> str:
    if not report.leases:
        return "You held no matching lease: nothing to release."
    return "Released:\n" + "\n".join(f"- {x.path} ({x.repo})" for x in report.leases)


def claims_text(leases: Sequence[LeaseView], now: float, me: str | None = None) -> str:
    """Every live lease, grouped by repository; the caller's own marked."""
    if not leases:
        return "No file is leased."
    out: list[str] = []
    repo = None
    for lease in leases:
        if lease.repo != repo:
            repo = lease.repo
            out.append(f"{repo}:")
        mine = " (you)" if me is not None and lease.holder == me else ""
        out.append(f"  {lease_line(lease, now)}{mine}")
    return "\n".join(out)


def edit_conflict_text(conflicts: Sequence[LeaseConflict], now: float, *, deny: bool) -> str:
    """What the pre-edit hook tells the model: who holds the file, why, until when."""
    lines = "\n".join(f"- {conflict_line(c, now)}" for c in conflicts)
    if deny:
        head = "ai-connect: this edit is blocked: the file is leased by another agent."
        tail = (
            "Do not edit it now: ask the holder with peer_send (or wait for the lease to "
            "end), then try again."
        )
    else:
        head = "ai-connect: you are editing a file another agent has leased."
        tail = (
            "Your edit goes ahead, but coordinate: tell the holder with peer_send, or "
            "leave the file until the lease ends."
        )
    return f"{head}\n{lines}\n{tail}"


def lease_dict(lease: LeaseView) -> dict[str, Any]:
    """A lease as JSON data (``--json``, tool results)."""
    return lease.model_dump()
