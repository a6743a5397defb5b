"""Router: the hot frames leave encoded, a broadcast's deliver encoded once (issue 13)."""

from __future__ import annotations

import pytest

from ai_connect.bridge import views
from ai_connect.bridge.events import Send
from ai_connect.protocol import Accepted, Deliver, encode

from .helpers import Bridge, addr, delivers, one


def test_a_broadcast_is_encoded_once_for_all_its_recipients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twenty online recipients: one deliver tail encoded, twenty frames sent as bytes."""
    bridge = Bridge()
    for conn in range(1, 22):
        bridge.join(conn, f"P{conn}")
    made: list[str] = []
    real = views.deliver_tail

    def counted(message: object, paused: str | None = None) -> bytes:
        made.append(getattr(message, "id", ""))
        return real(message, paused)  # type: ignore[arg-type]

    monkeypatch.setattr(views, "deliver_tail", counted)
    bridge.send(1, "*", "to all")
    out = bridge.commit()
    sent = [a for a in out if isinstance(a, Send) and isinstance(a.frame, Deliver)]
    assert len(sent) == 20 and len(made) == 1
    assert all(a.data is not None for a in sent)
    assert {f.body for f in delivers(out)} == {"to all"}
    assert sorted(a.conn for a in sent) == list(range(2, 22))


def test_the_encoded_deliver_and_accepted_are_the_frames_views_and_the_models_give() -> None:
    """What leaves as bytes decodes to the frame the pydantic models describe."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    bridge.send(1, "Bob", "hi ça 😀", thread="t", context={"file": "a.py", "n": [1, 2.5]})
    out = bridge.commit()
    deliver = one(Deliver, out, 2)
    accepted = one(Accepted, out, 1)
    (entry,) = bridge.store.pending(addr("Bob"), 0, 10, 1 << 20)
    assert deliver == views.deliver(entry)
    assert accepted.recipients == [addr("Bob")] and accepted.online == [addr("Bob")]
    data = {a.conn: a.data for a in out if isinstance(a, Send)}
    assert data[2] == encode(deliver).encode()
    assert data[1] == encode(accepted).encode()
    assert [d.seq for d in delivers(out, 2)] == [1]
