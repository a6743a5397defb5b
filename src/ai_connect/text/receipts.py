"""Receipts as people and agents read them (docs/protocol.md §3.7).

Pure: a :class:`~ai_connect.protocol.ReceiptReport` (the answer to ``receipts``) or the
:class:`~ai_connect.protocol.ReceiptNotice` frames a sender got, in, text or JSON-ready
dicts out. Addresses and threads are peer input: cleaned with
:func:`ai_connect.text.terminal.clean`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ai_connect.protocol import ReceiptNotice, ReceiptReport, RecipientState
from ai_connect.text.terminal import clean, short_id, stamp

__all__ = ["notices_text", "report_dict", "report_text", "state_text"]

_STATES = {
    "waiting": "waiting (stored; not delivered yet)",
    "delivered": "delivered (not shown to the agent yet)",
    "shown": "shown",
}


def report_dict(report: ReceiptReport) -> dict[str, Any]:
    """The ``--json`` form: the message and one entry per recipient."""
    data: dict[str, Any] = {
        "id": report.id,
        "from": report.from_,
        "to": report.to,
        "accepted": report.ts,
        "thread": report.thread,
    }
    data["recipients"] = [s.model_dump(exclude_none=True) for s in report.recipients]
    counts = {k: sum(1 for s in report.recipients if s.state == k) for k in _STATES}
    return data | {"summary": counts}


def state_text(s: RecipientState, now: float) -> str:
    """``Bob (proj): shown 12:03:04 via hook (delivered 12:03:01)``."""
    text = f"{clean(s.recipient)}: {_STATES[s.state]}"
    if s.state == "shown":
        text += f" {stamp(s.shown, now)}" if s.shown is not None else " (time not recorded)"
        text += f" via {clean(s.path)}" if s.path else ""
        if s.delivered is not None:
            text += f" (delivered {stamp(s.delivered, now)})"
    elif s.state == "delivered" and s.delivered is not None:
        text += f" since {stamp(s.delivered, now)}"
    elif s.state == "waiting":
        text += "; online" if s.online else "; offline: it gets it when it connects"
    return text


def report_text(report: ReceiptReport, now: float) -> str:
    """A message's receipts for a person (also what the agents' status tool shows)."""
    to = "everyone (*)" if report.to == "*" else clean(report.to)
    head = f"message {clean(report.id)} to {to}, accepted {stamp(report.ts, now)}"
    if report.thread:
        head += f", thread {clean(report.thread)}"
    lines = [head]
    lines += ["  " + state_text(s, now) for s in report.recipients]
    if not report.recipients:
        lines.append("  no recipient holds it any more (forgotten)")
    elif len(report.recipients) > 1:
        counts = {k: sum(1 for s in report.recipients if s.state == k) for k in _STATES}
        lines.append("  " + ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return "\n".join(lines)


def notices_text(notices: Sequence[ReceiptNotice], now: float) -> str:
    """Receipts a sender got, one line each (appended to an agent's next tool result)."""
    return "\n".join(
        f"[receipt] your message {short_id(clean(n.id))} was shown to "
        f"{clean(n.recipient)} {stamp(n.ts, now)}" + (f" via {clean(n.path)}" if n.path else "")
        for n in notices
    )
