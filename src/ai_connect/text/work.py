"""A peer's work status (docs/protocol.md §11) as one short line, for a person and a model.

``working · github.com/org/app main@3f2a1bc, 2 dirty · edited src/app.py, README.md +1 ·
task "fix the login test"``: what ``peer_list`` and ``ai-connect peers`` add to a peer's
line, kept short because a model pays for every token (at most :data:`SHOWN_FILES` files;
``--json`` and the tool's structured data carry them all). Every field is peer-chosen text
and passes :func:`~ai_connect.text.neutral.neutralise`. Pure.
"""

from __future__ import annotations

from typing import Any

from ai_connect.protocol import WorkView
from ai_connect.text.neutral import neutralise

__all__ = ["SHOWN_FILES", "STALE_S", "work_dict", "work_line"]

SHOWN_FILES = 3
"""Recently edited files named in the line (newest first); the rest are counted."""
STALE_S = 600.0
"""A status older than this says how old it is (``idle (2 h ago)``)."""


def work_line(work: WorkView, age: str | None = None) -> str:
    """``activity · repo branch@head, N dirty · edited a, b +n · task "…"``; ``age``
    (``2 h ago``) follows the activity when the status is old (the caller decides)."""
    parts: list[str] = [f"{work.activity} ({age})" if age else work.activity]
    if work.repo:
        where = neutralise(work.repo)
        if work.branch or work.head:
            where += " " + "@".join(neutralise(x) for x in (work.branch, work.head) if x)
        if work.dirty:
            where += f", {work.dirty} dirty"
        parts.append(where)
    if work.files:
        shown = ", ".join(neutralise(f) for f in work.files[:SHOWN_FILES])
        more = len(work.files) - SHOWN_FILES
        parts.append(f"edited {shown}" + (f" +{more}" if more > 0 else ""))
    if work.task:
        parts.append(f'task "{neutralise(work.task)}"')
    return " · ".join(parts)


def work_dict(work: WorkView | None) -> dict[str, Any] | None:
    """The ``--json`` and tool-data form: every field that is set, ``ts`` (when the bridge
    got it) in whole seconds. Claude Code and Codex hand a model this data rather than the
    text line, so it stays as short as the line's facts allow."""
    if work is None:
        return None
    return work.model_dump(exclude_none=True) | {"ts": round(work.ts)}
