"""The stored message in its wire shapes (bridge/views.py): one mapping, by field name."""

from __future__ import annotations

import itertools
import json

from ai_connect.bridge.state import Peer
from ai_connect.bridge.store.base import MailboxEntry, StoredMessage
from ai_connect.bridge.views import deliver, message_view, new_message_id, peer_view
from ai_connect.protocol import encode

MESSAGE = StoredMessage(
    id="m1",
    sender="Alice (p)",
    to="Bob (p)",
    body="hi",
    context={"file": "a.py"},
    thread="t1",
    reply_to="m0",
    ts=1234.5,
    cid="c-secret",
)
WIRE = {
    "id": "m1",
    "from": "Alice (p)",
    "to": "Bob (p)",
    "body": "hi",
    "context": {"file": "a.py"},
    "thread": "t1",
    "reply_to": "m0",
    "ts": 1234.5,
}


def test_a_message_view_carries_the_eight_fields_under_their_wire_names() -> None:
    """sender is "from" on the wire; the sender's cid stays in the bridge."""
    assert json.loads(encode(message_view(MESSAGE))) == WIRE


def test_a_deliver_frame_is_the_same_message_with_its_mailbox_seq() -> None:
    """deliver adds type and seq to exactly the fields a message view has."""
    sent = json.loads(encode(deliver(MailboxEntry("Bob (p)", 7, MESSAGE))))
    assert sent == {"type": "deliver", "seq": 7, **WIRE}


def test_absent_optional_fields_are_left_out_of_both_shapes() -> None:
    """A plain message has no context, thread or reply_to on the wire."""
    plain = StoredMessage("m2", "A (p)", "*", "x", None, None, None, 1.0, "c")
    for frame in (message_view(plain), deliver(MailboxEntry("B (p)", 1, plain))):
        assert not {"context", "thread", "reply_to"} & set(json.loads(encode(frame)))


def test_an_online_peer_is_seen_now_an_offline_one_when_it_left() -> None:
    """peer_view shows last_seen = now while a connection holds the address."""
    peer = Peer("Bob (p)", "Bob", "p", first_seen=1.0, last_seen=5.0)
    assert (peer_view(peer, 9.0).online, peer_view(peer, 9.0).last_seen) == (False, 5.0)
    peer.conn = 3
    assert (peer_view(peer, 9.0).online, peer_view(peer, 9.0).last_seen) == (True, 9.0)


def test_message_ids_are_unique_within_a_run_and_across_runs() -> None:
    """Each run draws a random prefix; a counter follows it."""
    first = list(itertools.islice(new_message_id(), 1000))
    second = list(itertools.islice(new_message_id(), 1000))
    assert len(set(first) | set(second)) == 2000
    assert first[0][:12] != second[0][:12] and first[1].startswith(first[0][:12])
