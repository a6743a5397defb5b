"""The rules the stores keep alike, so that ``MemoryStore`` stays ``SqliteStore``'s twin
and ``PostgresStore`` theirs.

How a batch's appends are numbered (:func:`numbered`: n, seq per recipient, duplicates
by cid); how an address names a peer (:func:`split_address`); how a text is cut into
search words (:func:`search_words`, modelled on SQLite FTS5's ``unicode61
remove_diacritics 2``); where each receipt mark of a batch starts (:func:`from_floor`);
how a proposal is kept as JSON text (:func:`encoded`, :func:`decoded`: the stores keep
the same text, so they refuse the same unserialisable data); and how a shared store
applies a batch's proposal changes to what another node stored meanwhile
(:func:`rebased`). Pure: no I/O.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ai_connect.errors import StoreError

from .base import AppendOp, AppendResult, ProposalRecord, StoredMessage, WorkRecord

__all__ = [
    "Numbered",
    "decoded",
    "encoded",
    "from_floor",
    "holds_words",
    "numbered",
    "rebased",
    "search_words",
    "split_address",
    "work_decoded",
    "work_encoded",
]

# Not identity.parse_address: that one strips the text and refuses parentheses in a name,
# while a store must file every recipient it is given. The two agree on every address the
# bridge makes from a valid name and project (tests/bridge/store/test_rules.py).
_ADDRESS = re.compile(r"(?P<name>.+?) \((?P<project>.*)\)")
# FTS5 unicode61 keeps letters and numbers and splits on everything else, "_" included.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Numbered:
    """A batch's appends, numbered (:func:`numbered`)."""

    results: list[AppendResult]
    """One per ``AppendOp``, in order: ``CommitResult.appends``."""
    new: list[tuple[int, StoredMessage, dict[str, int]]]
    """The messages to store: (n, message, recipient -> seq), n rising from ``last_n + 1``."""
    tips: dict[str, int]
    """Each recipient of a new message -> its new tip (last seq), in first-seen order."""
    first_ts: dict[str, float]
    """Each recipient of a new message -> the ts of its first one here (a recipient
    unknown to the store becomes a peer first seen then)."""


def numbered(
    ops: Iterable[AppendOp],
    last_n: int,
    tips: Mapping[str, int],
    stored: Mapping[tuple[str, str], AppendResult],
) -> Numbered:
    """The append-numbering rule every store keeps: a message whose (sender, cid) is
    ``stored`` already, or earlier in the batch, is a duplicate (the first one's message
    and seqs); each new message takes the next ``n`` after ``last_n``, and each of its
    recipients (once, in order) the next seq after its tip (``tips``: the stored tips of
    the batch's recipients; absent = 0). Pure."""
    current: dict[str, int] = {}
    first_ts: dict[str, float] = {}
    results: list[AppendResult] = []
    new: list[tuple[int, StoredMessage, dict[str, int]]] = []
    staged: dict[tuple[str, str], AppendResult] = {}
    n = last_n
    for op in ops:
        m = op.message
        key = (m.sender, m.cid)
        earlier = staged.get(key) or stored.get(key)
        if earlier is not None:
            results.append(AppendResult(earlier.message, dict(earlier.seqs), True))
            continue
        n += 1
        seqs: dict[str, int] = {}
        for recipient in dict.fromkeys(op.recipients):
            seq = current.get(recipient, tips.get(recipient, 0)) + 1
            current[recipient] = seqs[recipient] = seq
            first_ts.setdefault(recipient, m.ts)
        new.append((n, m, seqs))
        staged[key] = AppendResult(m, seqs, False)
        results.append(staged[key])
    return Numbered(results, new, current, first_ts)


def split_address(address: str) -> tuple[str, str]:
    """``"Name (Project)"`` -> ``("Name", "Project")``; anything else -> ``(address, "")``."""
    match = _ADDRESS.fullmatch(address)
    if match is None:
        return address, ""
    return match["name"], match["project"]


def search_words(text: str) -> list[str]:
    """The words of ``text`` as search sees them: lower case, accents dropped."""
    lowered = text.lower()
    if lowered.isascii():  # the usual text: no accent to drop (NFD changes nothing)
        return _WORD.findall(lowered)
    decomposed = unicodedata.normalize("NFD", lowered)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _WORD.findall(bare)


def holds_words(words: Collection[str]) -> Callable[[str], bool]:
    """Whether a text holds every one of ``words`` (a query's :func:`search_words`): the
    answer of ``set(words) <= set(search_words(text))``, without splitting the whole text
    when it is ASCII once lower-cased -- each word is looked for where no letter or digit
    touches it (several times faster on a message body here)."""
    wanted = set(words)
    patterns = [re.compile(rf"(?<![^\W_]){re.escape(word)}(?![^\W_])") for word in wanted]

    def holds(text: str) -> bool:
        lowered = text.lower()
        if lowered.isascii():
            return all(pattern.search(lowered) for pattern in patterns)
        return wanted <= set(search_words(text))

    return holds


def encoded(records: Iterable[ProposalRecord]) -> dict[str, str]:
    """Id -> JSON text of each record (the last of an id wins); ``StoreError`` if one
    cannot be serialised, before anything is written."""
    out: dict[str, str] = {}
    for record in records:
        try:
            out[record.id] = json.dumps(record.data, ensure_ascii=False, separators=(",", ":"))
            out[record.id].encode()
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"Proposal {record.id!r} cannot be stored ({exc}); nothing of this batch "
                "was stored. Attach text and JSON-serialisable context only."
            ) from exc
    return out


def rebased(
    stored: Mapping[str, dict[str, Any]], records: Iterable[ProposalRecord]
) -> dict[str, dict[str, Any]]:
    """What a store shared by several nodes writes for ``records`` when ``stored`` (id ->
    data, read under its write lock) holds the proposals as they are now: each record's
    ``rebase`` applied, in order, to the stored version (another node's vote meanwhile
    counts too). Id -> data, only where it differs from the last record of that id."""
    current = dict(stored)
    last: dict[str, dict[str, Any]] = {}
    for record in records:
        if record.rebase is not None and record.id in current:
            current[record.id] = record.rebase(current[record.id])
        else:
            current[record.id] = record.data
        last[record.id] = record.data
    return {i: current[i] for i, data in last.items() if current[i] != data}


def decoded(proposal_id: str, text: str) -> ProposalRecord:
    return ProposalRecord(proposal_id, json.loads(text))


def work_encoded(records: Iterable[WorkRecord]) -> dict[str, tuple[str, float]]:
    """Address -> (JSON text, ts) of each work status (the last of an address wins);
    ``StoreError`` if one cannot be serialised, before anything is written."""
    out: dict[str, tuple[str, float]] = {}
    for record in records:
        try:
            text = json.dumps(record.data, ensure_ascii=False, separators=(",", ":"))
            text.encode()
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"The work status of {record.address!r} cannot be stored ({exc}); nothing "
                "of this batch was stored."
            ) from exc
        out[record.address] = (text, record.ts)
    return out


def work_decoded(address: str, text: str, ts: float) -> WorkRecord:
    return WorkRecord(address, json.loads(text), ts)


def from_floor(marks: Iterable[tuple[Any, ...]], at: int = 0) -> list[tuple[Any, ...]]:
    """Receipt marks in the batch's order -- tuples holding the recipient at index ``at``
    and the seq the mark reaches right after it -- each with where the earlier marks of
    its recipient stopped (the highest seq before it) appended: the store's statement
    marks only the entries above that floor, so each mailbox entry is visited by one
    mark, the first to cover it (the one a receipt keeps). A mark that covers nothing new
    is left out."""
    floors: dict[str, int] = {}
    rows: list[tuple[Any, ...]] = []
    for mark in marks:
        recipient, seq = mark[at], mark[at + 1]
        floor = floors.get(recipient, 0)
        if seq > floor:
            rows.append((*mark, floor))
            floors[recipient] = seq
    return rows
