"""Fuzzing the pure router: random and mutated frames in random sequences on several links.

Whatever arrives, the router never raises, answers every undecodable frame with an error
frame of the decoder's code, answers every request that carries a ``rid`` (a reply, an
error, or a store query for it), only ever emits frames that encode, and each link that
was not closed still answers a ping at the end.
"""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ai_connect.bridge.events import Action, Close, QueryHistory, QuerySearch, Send
from ai_connect.errors import FrameError
from ai_connect.protocol import Error, Limits, Pong, decode_client

from ..bridge.helpers import Bridge
from .strategies import EXAMPLES, raw_frames

LIMITS = Limits(max_frame_bytes=64_000, max_errors=1_000)
_FRAME = st.tuples(st.just("frame"), st.integers(1, 3), raw_frames())
_OTHER = st.tuples(
    st.sampled_from(["commit", "load", "drop", "tick"]), st.integers(1, 3), st.none()
)
OPS = st.lists(st.one_of(_FRAME, _FRAME, _FRAME, _OTHER), min_size=12, max_size=60)
"""Mostly frames (three in four), with commits, loads, dropped links and clock ticks."""


class Fuzz:
    """Feeds ops to a Bridge and checks each step's actions."""

    def __init__(self) -> None:
        self.bridge = Bridge(limits=LIMITS)
        self.live: set[int] = set()
        self.pending: dict[int, list[object]] = defaultdict(list)
        self.answered: dict[int, set[object]] = defaultdict(set)
        self.frames_tried = 0

    def observe(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                rid = getattr(action.frame, "rid", None)
                if rid is not None:
                    self.answered[action.conn].add(rid)
            elif isinstance(action, QueryHistory | QuerySearch):
                self.answered[action.conn].add(action.rid)
            elif isinstance(action, Close):
                self.drop(action.conn)  # the server closes it; the client sees the close

    def drop(self, conn: int) -> None:
        if conn in self.live:
            self.live.discard(conn)
            self.pending.pop(conn, None)
            self.answered.pop(conn, None)
            self.observe(self.bridge.disconnect(conn))

    def frame(self, conn: int, raw: str | bytes) -> None:
        if conn not in self.live:
            self.live.add(conn)
            self.observe(self.bridge.connect(conn))
        self.frames_tried += 1
        try:
            decoded = decode_client(raw, LIMITS.max_frame_bytes)
        except FrameError as exc:
            actions = self.bridge.raw(conn, raw)
            codes = [a.frame.code for a in actions if isinstance(a, Send) and a.conn == conn
                     and isinstance(a.frame, Error)]  # fmt: skip
            assert exc.code in codes, f"no {exc.code} error for {raw!r}: {actions}"
            self.observe(actions)
            return
        rid = getattr(decoded, "rid", None)
        if rid is not None:
            self.pending[conn].append(rid)
        self.observe(self.bridge.raw(conn, raw))

    def step(self, op: tuple[str, int, str | bytes | None]) -> None:
        kind, conn, raw = op
        if kind == "frame":
            assert raw is not None
            self.frame(conn, raw)
        elif kind == "commit":
            self.observe(self.bridge.commit())
        elif kind == "load":
            self.observe(self.bridge.load())
        elif kind == "drop":
            self.drop(conn)
        else:
            self.bridge.now += 1.0
            self.observe(self.bridge.tick())

    def finish(self) -> None:
        self.observe(self.bridge.settle())
        for conn in sorted(self.live):
            missing = [r for r in self.pending[conn] if r not in self.answered[conn]]
            assert not missing, f"conn {conn}: no answer to rid {missing}"
        for conn in sorted(self.live):
            pongs = [a.frame for a in self.bridge.frame(conn, type="ping", rid="last")
                     if isinstance(a, Send) and isinstance(a.frame, Pong)]  # fmt: skip
            assert [p.rid for p in pongs] == ["last"], f"conn {conn} is no longer usable"


TRIED = [0]


@settings(
    max_examples=EXAMPLES or 150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=OPS)
def test_no_sequence_of_frames_breaks_the_router(
    ops: list[tuple[str, int, str | bytes | None]],
) -> None:
    """Random, mutated and broken frames in any order: errors for bad ones, answers for all."""
    fuzz = Fuzz()
    for op in ops:
        fuzz.step(op)
    fuzz.finish()
    TRIED[0] += fuzz.frames_tried
