"""Peer text made short for one row: first lines, a context summary, a tally. Pure.

Every result is cleaned for a terminal (:func:`ai_connect.text.terminal.clean`).
"""

from __future__ import annotations

from typing import Any

from ai_connect.text.terminal import clean

__all__ = ["context_summary", "one_line", "tally_text"]


def one_line(text: str, width: int = 120, lines: int = 2) -> str:
    """The first ``lines`` non-blank lines of ``text`` joined by `` / ``, cut to ``width``
    characters, cleaned for a terminal."""
    parts = [line.strip() for line in text.splitlines() if line.strip()][:lines]
    joined = " / ".join(parts)
    if len(joined) > width:
        joined = joined[: width - 1].rstrip() + "…"
    return clean(joined)


def context_summary(context: dict[str, Any] | None) -> str:
    """``file src/x.py:10-20 · web@main · 2400 bytes`` from the feed's context summary
    (``file``, ``lines``, ``repo``, ``branch``, ``bytes``, ``keys``...), cleaned."""
    if not context:
        return ""
    parts = []
    if context.get("file"):
        where = str(context["file"])
        lines = context.get("lines")
        if isinstance(lines, list | tuple) and len(lines) == 2:
            where += f":{lines[0]}-{lines[1]}"
        elif lines is not None:
            where += f":{lines}"
        parts.append(f"file {where}")
    if context.get("repo") or context.get("branch"):
        repo = str(context.get("repo") or "")
        parts.append(repo + (f"@{context['branch']}" if context.get("branch") else ""))
    if not parts:
        keys = context.get("keys")
        named = [str(k) for k in keys] if isinstance(keys, list) else sorted(context)
        parts.append(str(context.get("kind") or ", ".join(named[:4])))
    if context.get("bytes"):
        parts.append(f"{context['bytes']} bytes")
    return clean(" · ".join(parts))


def tally_text(p: dict[str, Any]) -> str:
    """``1 approve, 0 reject, 0 abstain, 1 pending`` from a proposal's tally."""
    t = p.get("tally") or {}
    return (
        f"{t.get('approve', 0)} approve, {t.get('reject', 0)} reject, "
        f"{t.get('abstain', 0)} abstain, {t.get('pending', 0)} pending"
    )
