"""Fuzzing a real bridge over a socket: random and mutated frames on live connections.

The bridge runs in a thread (``ThreadedBridge``, tests/support/bridge.py); a synchronous
websockets client sends each frame followed by a ``ping`` probe and reads up to the
probe's ``pong``. Every undecodable frame must have been answered by an error frame of
the decoder's code before the pong, the connection must stay open, and the bridge's log
(captured at DEBUG) must hold no ERROR and no traceback.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from websockets.sync.client import ClientConnection, connect

from ai_connect.errors import FrameError
from ai_connect.protocol import decode_client
from tests.support.bridge import ThreadedBridge

from ..security.support import LogRecorder
from .conftest import LIMITS
from .strategies import EXAMPLES, frames


def probe(ws: ClientConnection, raw: str | bytes, n: int) -> list[dict[str, Any]]:
    """Sends ``raw`` then a ping; returns the frames that came before its pong."""
    ws.send(raw)
    ws.send(json.dumps({"type": "ping", "rid": f"probe-{n}"}))
    seen: list[dict[str, Any]] = []
    while True:
        frame = json.loads(ws.recv(timeout=10))
        if frame.get("type") == "pong" and frame.get("rid") == f"probe-{n}":
            return seen
        seen.append(frame)


def expected_codes(raw: str | bytes) -> set[str]:
    """The error codes a frame may get: none if it decodes.

    JSON nesting near the interpreter's recursion limit decodes or not depending on how
    deep the decoding thread's stack already is (json's C decoder counts it), so such a
    frame may be ``bad_json`` here and ``bad_frame`` (a list, not an object) in the
    bridge's thread: either is the right answer (corpus: deep-nesting.json).
    """
    try:
        decode_client(raw, LIMITS.max_frame_bytes)
    except FrameError as exc:
        if "recursion" in exc.message:
            return {"bad_json", "bad_frame"}
        return {exc.code}
    return set()


def replay(url: str, sequence: list[str | bytes]) -> int:
    """Sends a sequence on one connection, checking each answer; returns frames sent."""
    with connect(url, compression=None, max_size=None) as ws:
        for n, raw in enumerate(sequence):
            expected = expected_codes(raw)
            seen = probe(ws, raw, n)
            if expected:
                codes = {f.get("code") for f in seen if f.get("type") == "error"}
                assert codes & expected, f"{raw!r:.200}: expected {expected}, got {seen}"
        # The store worker runs queries in order: once this one is answered, every earlier
        # query of the connection has finished (and logged, had it failed).
        ws.send(json.dumps({"type": "history", "rid": "drain", "limit": 1}))
        while json.loads(ws.recv(timeout=10)).get("rid") != "drain":
            pass
    return len(sequence)


@settings(
    max_examples=EXAMPLES or 40,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(sequence=frames(max_size=12))
def test_no_frame_breaks_a_live_bridge(
    bridge: tuple[ThreadedBridge, LogRecorder], sequence: list[str | bytes]
) -> None:
    """Over a real socket: bad frames get their error, the link survives, no traceback."""
    running, logs = bridge
    replay(running.url, sequence)
    # A store query may fail after its connection closed: the check sees the records of
    # this example and the one before, then forgets the older ones (memory stays small).
    assert logs.problems() == [], logs.report()
    del logs.records[: logs.mark]
    logs.mark = len(logs.records)
