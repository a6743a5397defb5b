"""The rules of file leases: which paths a pattern names, when two claims overlap, TTLs.

Pure, standard library only (the pre-edit hook's front imports it before anything else).
docs/leases.md states the same rules for people.

A lease names one **pattern**: a path relative to the repository's root, POSIX style
(``src/app.py``), or a glob:

- ``*`` matches any characters within one path segment (never ``/``), ``?`` one
  character but ``/``, ``[abc]``, ``[a-z]`` and ``[!a-z]`` one character of a set;
- ``**`` as a whole segment matches any number of segments: ``src/**/test_*.py`` matches
  ``src/test_a.py`` and ``src/x/y/test_a.py``; a trailing ``**`` (``src/**``) matches
  everything below ``src`` (at any depth, never ``src`` itself);
- a trailing ``/`` names a folder and everything below it: ``src/`` is ``src/**``;
- matching is case-sensitive and whole-path (``app.py`` is only the top-level file).

Two patterns **overlap** when some path matches both: ``src/*.py`` and ``src/a*`` do
(``src/a.py``), ``src/*.py`` and ``src/x/a.py`` do not. This is decided exactly, not
guessed: the two patterns' automata are run together over every kind of character that
either names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "DEFAULT_TTL_S",
    "MAX_PATHS",
    "MAX_PATTERN",
    "MAX_TTL_S",
    "MIN_TTL_S",
    "LeaseRuleError",
    "Pattern",
    "format_ttl",
    "matches",
    "normalise",
    "overlaps",
    "parse_ttl",
]

DEFAULT_TTL_S = 30 * 60.0
"""A claim without a TTL holds for 30 minutes (an edit of the path renews it)."""
MAX_TTL_S = 24 * 3600.0
"""No lease is granted for longer than a day: claim again to keep it."""
MIN_TTL_S = 10.0
MAX_PATTERN = 1024
MAX_PATHS = 64
"""Paths or globs in one claim, release or check."""


class LeaseRuleError(ValueError):
    """A pattern or TTL that breaks the rules; ``str()`` says what to write instead."""


def normalise(pattern: str) -> str:
    """``pattern`` in its one stored form, or :class:`LeaseRuleError`.

    Leading ``./`` dropped, a trailing ``/`` becomes ``/**``; absolute paths, ``..``,
    empty segments and backslashes are refused (a surface makes paths repo-relative
    before it asks).
    """
    text = pattern.strip()
    while text.startswith("./"):
        text = text[2:]
    if not text:
        raise LeaseRuleError("an empty path: name a file or glob relative to the repository root")
    if len(text) > MAX_PATTERN:
        raise LeaseRuleError(f"a path longer than {MAX_PATTERN} characters")
    if "\\" in text:
        raise LeaseRuleError(f"{pattern!r}: write paths with '/', not '\\'")
    if text.startswith("/"):
        raise LeaseRuleError(
            f"{pattern!r} is absolute: give it relative to the repository root (src/app.py)"
        )
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise LeaseRuleError(f"{pattern!r} holds control characters")
    if text.endswith("/"):
        text = text.rstrip("/") + "/**"
    segments = text.split("/")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise LeaseRuleError(
                f"{pattern!r}: no empty, '.' or '..' segments; name paths inside the repository"
            )
    Pattern.compile(text)  # refuses a broken [set]
    return text


# --- the automaton ----------------------------------------------------------------------

_LIT, _ANY, _SET, _STAR, _MID, _TAIL = range(6)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: int
    char: str = ""
    ranges: tuple[tuple[int, int], ...] = ()
    negated: bool = False

    def takes(self, c: str) -> bool:
        """Whether this token's one-character step accepts ``c`` (``_STAR``: its loop)."""
        if self.kind == _LIT:
            return c == self.char
        if c == "/":
            return False
        if self.kind == _SET:
            inside = any(lo <= ord(c) <= hi for lo, hi in self.ranges)
            return inside != self.negated
        return True  # _ANY, _STAR


State = tuple[int, bool]
"""(token index, inside a ``**``): ``inside`` only for ``_MID`` and ``_TAIL``."""


@dataclass(frozen=True, slots=True)
class Pattern:
    """A normalised pattern as tokens, with its automaton's steps."""

    text: str
    tokens: tuple[_Token, ...]

    @classmethod
    def compile(cls, text: str) -> Pattern:
        tokens: list[_Token] = []
        segments = text.split("/")
        for n, segment in enumerate(segments):
            last = n == len(segments) - 1
            if segment == "**":
                tokens.append(_Token(_TAIL if last else _MID))
                continue
            tokens += _segment(segment, text)
            if not last:
                tokens.append(_Token(_LIT, "/"))
        return cls(text, tuple(tokens))

    def closure(self, states: Iterable[State]) -> set[State]:
        """``states`` with every state reachable from them without reading a character."""
        todo, seen = list(states), set()
        while todo:
            state = todo.pop()
            if state in seen:
                continue
            seen.add(state)
            i, inside = state
            if i < len(self.tokens) and not inside and self.tokens[i].kind in (_STAR, _MID):
                todo.append((i + 1, False))
        return seen

    def step(self, state: State, c: str) -> list[State]:
        """The states one character ``c`` leads to from ``state`` (before closure)."""
        i, _ = state
        if i >= len(self.tokens):
            return []
        token = self.tokens[i]
        if token.kind == _MID:
            # Inside a "**/": any characters, back at a boundary after each "/".
            return [(i, False)] if c == "/" else [(i, True)]
        if token.kind == _TAIL:
            return [(i, True)]
        if token.kind == _STAR:
            return [(i, False)] if token.takes(c) else []
        return [(i + 1, False)] if token.takes(c) else []

    def accepting(self, state: State) -> bool:
        i, inside = state
        if i == len(self.tokens):
            return True
        return inside and self.tokens[i].kind == _TAIL

    def start(self) -> set[State]:
        return self.closure([(0, False)])

    def alphabet(self) -> set[str]:
        """Characters where this pattern's steps can change their answer (see overlaps)."""
        chars = {"/", chr(ord("/") + 1), "\0"}
        for token in self.tokens:
            if token.kind == _LIT:
                chars |= {token.char, chr(ord(token.char) + 1)}
            for lo, hi in token.ranges:
                chars.add(chr(lo))
                if hi + 1 <= 0x10FFFF:
                    chars.add(chr(hi + 1))
        return chars


def _segment(segment: str, text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(segment):
        c = segment[i]
        if c == "*":
            while i + 1 < len(segment) and segment[i + 1] == "*":
                i += 1  # "a**b" inside a segment is "a*b"
            tokens.append(_Token(_STAR))
        elif c == "?":
            tokens.append(_Token(_ANY))
        elif c == "[":
            end, token = _set(segment, i, text)
            tokens.append(token)
            i = end
        else:
            tokens.append(_Token(_LIT, c))
        i += 1
    return tokens


def _set(segment: str, start: int, text: str) -> tuple[int, _Token]:
    """The ``[...]`` set opening at ``start``: (index of its ``]``, its token)."""
    i = start + 1
    negated = i < len(segment) and segment[i] in "!^"
    if negated:
        i += 1
    ranges: list[tuple[int, int]] = []
    first = True
    while i < len(segment) and (segment[i] != "]" or first):
        lo = segment[i]
        if i + 2 < len(segment) and segment[i + 1] == "-" and segment[i + 2] != "]":
            hi = segment[i + 2]
            if ord(hi) < ord(lo):
                raise LeaseRuleError(f"{text!r}: the range [{lo}-{hi}] runs backwards")
            ranges.append((ord(lo), ord(hi)))
            i += 3
        else:
            ranges.append((ord(lo), ord(lo)))
            i += 1
        first = False
    if i >= len(segment):
        raise LeaseRuleError(f"{text!r}: a '[' set without its ']'")
    return i, _Token(_SET, ranges=tuple(ranges), negated=negated)


# --- questions --------------------------------------------------------------------------

_cache: dict[str, Pattern] = {}


def _compiled(pattern: str) -> Pattern:
    found = _cache.get(pattern)
    if found is None:
        if len(_cache) > 4096:
            _cache.clear()
        found = _cache[pattern] = Pattern.compile(pattern)
    return found


def matches(pattern: str, path: str) -> bool:
    """Whether the normalised ``pattern`` names the repo-relative ``path``."""
    p = _compiled(pattern)
    states = p.start()
    for c in path:
        states = p.closure(s for state in states for s in p.step(state, c))
        if not states:
            return False
    return any(p.accepting(s) for s in states)


def overlaps(a: str, b: str) -> bool:
    """Whether some path matches both normalised patterns (exact: a product search)."""
    if a == b:
        return True
    pa, pb = _compiled(a), _compiled(b)
    # Every token's answer is constant between consecutive characters of the alphabet,
    # so trying those characters tries every kind of character there is.
    alphabet = sorted(pa.alphabet() | pb.alphabet())
    start = [(x, y) for x in pa.start() for y in pb.start()]
    seen = set(start)
    todo = list(start)
    while todo:
        x, y = todo.pop()
        if pa.accepting(x) and pb.accepting(y):
            return True
        for c in alphabet:
            xs = pa.closure(pa.step(x, c))
            if not xs:
                continue
            for pair in ((nx, ny) for ny in pb.closure(pb.step(y, c)) for nx in xs):
                if pair not in seen:
                    seen.add(pair)
                    todo.append(pair)
    return False


_TTL_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*"
                     r"(?:(\d+(?:\.\d+)?)\s*m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)\s*s)?\s*$")  # fmt: skip


def parse_ttl(value: str | float | None) -> float:
    """Seconds for a TTL: ``None`` is the default (30 minutes); a number is seconds; text
    is ``90s``, ``30m``, ``2h``, ``1h30m`` or ``1d``. Over the maximum (a day), under 10 s,
    or unreadable: :class:`LeaseRuleError`."""
    if value is None:
        return DEFAULT_TTL_S
    if isinstance(value, bool):
        raise LeaseRuleError("a TTL is a duration such as 30m, 2h or 90s")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip().lower()
        found = _TTL_RE.match(text) if text else None
        if found is None or not any(found.groups()):
            raise LeaseRuleError(
                f"{value!r} is not a duration: write it with a unit, such as 30m, 2h or 90s"
            )
        d, h, m, s = (float(g) if g else 0.0 for g in found.groups())
        seconds = d * 86400 + h * 3600 + m * 60 + s
    if seconds < MIN_TTL_S:
        raise LeaseRuleError(f"a lease lasts at least {MIN_TTL_S:g} s; ask for longer")
    if seconds > MAX_TTL_S:
        raise LeaseRuleError(
            f"a lease lasts at most {format_ttl(MAX_TTL_S)}; claim again later to keep it"
        )
    return seconds


def format_ttl(seconds: float) -> str:
    """``1h30m``, ``45m``, ``20s``: a duration as people write it."""
    total = round(seconds)
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    parts = [f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s" if s and not h else ""]
    return "".join(parts) or "0s"
