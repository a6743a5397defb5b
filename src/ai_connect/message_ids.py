"""Message ids as people type and read them: a short distinguishing form, and back.

The bridge's ids are a random run prefix followed by a counter
(:func:`ai_connect.bridge.views.new_message_id`), so every message of one bridge run
starts the same way; what tells two messages apart is their end. :func:`short` shows that
end (``…0e42f1a3``), :func:`match` takes a full id, such a tail (with or without the
``…``) or a unique prefix, and finds the one id it names among the ids given. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["ELLIPSIS", "MIN_FORM", "SHORT", "match", "short"]

SHORT = 8
"""Characters of the end shown: unique among the messages of one bridge run, and across
runs almost surely (they include random characters of the run's prefix)."""
MIN_FORM = 4
"""The fewest characters a short form may have."""
ELLIPSIS = "…"


def short(message_id: str) -> str:
    """The id as a person reads it: its distinguishing end, ``…0e42f1a3``."""
    if len(message_id) <= SHORT + 1:
        return message_id
    return ELLIPSIS + message_id[-SHORT:]


def _bare(given: str) -> str:
    return given.strip().lstrip(ELLIPSIS).lstrip(".").strip()


def match(given: str, known: Iterable[str]) -> list[str]:
    """The ids of ``known`` that ``given`` names: itself if it is one of them, else
    every id it ends (or starts) with, for a form of :data:`MIN_FORM` characters or more."""
    ids = set(known)
    bare = _bare(given)
    if bare in ids:
        return [bare]
    if len(bare) < MIN_FORM:
        return []
    return sorted(i for i in ids if i.endswith(bare) or i.startswith(bare))
