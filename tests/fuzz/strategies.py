"""Hypothesis strategies for protocol fuzzing: raw text, random JSON, and mutated frames.

Three families, mixed: text that is not JSON at all (or not UTF-8, or truncated); JSON
values of every shape; and valid frames of every client type with one or more mutations
(a field dropped, retyped, oversized, a lone surrogate, deep nesting, an unknown type).
``EXAMPLES`` scales every fuzz test: ``AI_CONNECT_FUZZ_EXAMPLES=20000 pytest tests/fuzz``.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import strategies as st

__all__ = ["EXAMPLES", "VALID_FRAMES", "frames", "raw_frames"]

EXAMPLES = int(os.environ.get("AI_CONNECT_FUZZ_EXAMPLES", "0")) or None
"""Examples per fuzz test when set (a long run); each test has a modest default."""

NAMES = ["alice", "bob", "carol", "alice#2", "*", "", "x" * 80, "a (b)", "é"]

VALID_FRAMES: list[dict[str, Any]] = [
    {"type": "hello", "rid": "h", "protocol": 1, "name": "alice", "project": "p"},
    {"type": "hello", "rid": 2, "protocol": 1, "name": "bob", "project": "p", "presence": True},
    {"type": "hello", "rid": 3, "protocol": 1, "name": "alice", "project": "p", "attach": True,
     "session": "s"},
    {"type": "send", "rid": "s", "cid": "c1", "to": "bob", "body": "hi"},
    {"type": "send", "rid": 5, "cid": "c2", "to": "*", "body": "all", "thread": "t",
     "context": {"file": "a.py", "content": "x"}},
    {"type": "ack", "seq": 1},
    {"type": "ack", "seq": 0, "rid": "a"},
    {"type": "peers", "rid": "p"},
    {"type": "history", "rid": "hi", "peer": "bob", "limit": 3},
    {"type": "history", "rid": "hb", "before": 7},
    {"type": "hello", "rid": 4, "protocol": 1, "name": "carol", "project": "p", "resume": 3,
     "address": "carol (p)"},
    {"type": "search", "rid": "q", "query": "hi there"},
    {"type": "status", "rid": "st"},
    {"type": "ping", "rid": "pi"},
    {"type": "ping"},
    {"type": "admin_status", "rid": "as"},
    {"type": "admin_history", "rid": "ah", "viewer": "bob", "before": 2},
]  # fmt: skip

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(NAMES),
)
json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _dump(value: Any) -> str:
    return json.dumps(value, allow_nan=True)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """A valid frame with one to three mutations, as JSON text."""
    frame = dict(draw(st.sampled_from(VALID_FRAMES)))
    depth = 0
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*sorted(frame), "rid", "type", "token", "extra"]))
        how = draw(
            st.sampled_from(["drop", "retype", "number", "big", "surrogate", "deep", "type"])
        )
        if how == "drop":
            frame.pop(key, None)
        elif how == "number":  # a numeric field at the edges of 64-bit integers
            key = draw(st.sampled_from(["seq", "before", "limit", "resume", "protocol", "rid"]))
            frame[key] = draw(st.sampled_from([2**63, 2**64, 2**63 - 1, -1, 10**30, 1.5, True]))
        elif how == "retype":
            frame[key] = draw(json_values)
        elif how == "big":
            frame[key] = "x" * draw(st.sampled_from([65, 129, 513, 5_000, 300_000]))
        elif how == "surrogate":
            frame[key] = "\ud800" + draw(st.text(max_size=3))
        elif how == "deep":
            frame[key], depth = _DEEP, draw(st.sampled_from([63, 65, 200, 3_000]))
        else:
            frame["type"] = draw(st.sampled_from(["", "HELLO", "hello ", "welcome", "x", None, 1]))
    text = _dump(frame)
    # Nesting too deep to build as Python objects is spliced in as text.
    return text.replace(f'"{_DEEP}"', "[" * depth + "]" * depth) if depth else text


_DEEP = "__deep__"


@st.composite
def broken_text(draw: st.DrawFn) -> str | bytes:
    """Text that is not a JSON object: truncated, random, binary, or a non-object."""
    kind = draw(st.sampled_from(["truncated", "random", "bytes", "value", "nested", "huge"]))
    if kind == "truncated":
        text = _dump(draw(st.sampled_from(VALID_FRAMES)))
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if kind == "random":
        return draw(st.text(max_size=60))
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "value":
        return _dump(draw(json_values))
    if kind == "nested":
        depth = draw(st.integers(1, 20_000))
        return "[" * depth + "]" * depth
    return '{"type": "send", "body": "' + "y" * draw(st.sampled_from([5_000, 70_000])) + '"}'


def raw_frames() -> st.SearchStrategy[str | bytes]:
    """Any one frame a fuzzer sends: valid, mutated, or broken."""
    return st.one_of(
        st.sampled_from(VALID_FRAMES).map(_dump),
        mutated(),
        broken_text(),
        st.dictionaries(
            st.sampled_from(
                ["type", "rid", "seq", "name", "to", "body", "query", "viewer", "before", "limit"]
            ),
            json_values,
            max_size=5,
        ).map(_dump),
    )


def frames(max_size: int = 25) -> st.SearchStrategy[list[str | bytes]]:
    """A sequence of frames on one connection, most of them after a valid hello."""
    hello = _dump(VALID_FRAMES[0])
    return st.tuples(st.booleans(), st.lists(raw_frames(), min_size=1, max_size=max_size)).map(
        lambda pair: [hello, *pair[1]] if pair[0] else pair[1]
    )
