"""The client inbox: exactly-once hand-over by message id and the cumulative ack cursor."""

from __future__ import annotations

from ai_connect.client.mailbox import Inbox, Message
from ai_connect.protocol import Deliver


def msg(seq: int, mid: str | None = None, sender: str = "A (p)") -> Message:
    return Message(seq, mid or f"m{seq}", sender, "B (p)", f"body {seq}", None, None, None, 1.0)


def test_message_from_deliver_frame() -> None:
    """Message.from_frame copies every field of a deliver frame."""
    frame = Deliver(
        seq=3,
        id="m3",
        from_="A (p)",
        to="*",
        body="hi",
        context={"f": 1},
        thread="t",
        reply_to="m1",
        ts=9.5,
    )
    message = Message.from_frame(frame)
    assert message == Message(3, "m3", "A (p)", "*", "hi", {"f": 1}, "t", "m1", 9.5)


def test_message_as_dict_has_the_machine_readable_keys() -> None:
    """as_dict uses the --json keys: id, from, to, content, context, thread, timestamp."""
    data = msg(2).as_dict()
    assert data == {
        "id": "m2",
        "seq": 2,
        "from": "A (p)",
        "to": "B (p)",
        "content": "body 2",
        "context": None,
        "thread": None,
        "reply_to": None,
        "timestamp": 1.0,
    }


def test_add_drops_duplicates_by_id() -> None:
    """The same message id is taken once, whether still unhandled or already handled."""
    inbox = Inbox()
    assert inbox.add(msg(1))
    assert not inbox.add(msg(1))
    assert len(inbox) == 1
    inbox.mark_handled(inbox.unhandled())
    assert not inbox.add(msg(1))
    assert len(inbox) == 0


def test_add_drops_what_is_already_acked() -> None:
    """A redelivery at or below the acked cursor is dropped even with a fresh id cache."""
    inbox = Inbox(acked=5)
    assert not inbox.add(msg(5))
    assert not inbox.add(msg(3))
    assert inbox.add(msg(6))
    assert [m.seq for m in inbox.unhandled()] == [6]


def test_unhandled_keeps_arrival_order_and_filters_by_sender() -> None:
    """unhandled lists messages in arrival order, optionally from one sender."""
    inbox = Inbox()
    inbox.add(msg(1, sender="A (p)"))
    inbox.add(msg(2, sender="C (p)"))
    inbox.add(msg(3, sender="A (p)"))
    assert [m.seq for m in inbox.unhandled()] == [1, 2, 3]
    assert [m.seq for m in inbox.unhandled("A (p)")] == [1, 3]
    assert inbox.unhandled("Nobody (p)") == []


def test_ack_target_covers_everything_received_when_all_is_handled() -> None:
    """With nothing unhandled the ack target is the highest seq received."""
    inbox = Inbox()
    assert inbox.ack_target() == 0
    for seq in (1, 2, 3):
        inbox.add(msg(seq))
    inbox.mark_handled(inbox.unhandled())
    assert inbox.ack_target() == 3
    assert inbox.received == 3


def test_ack_target_stops_before_the_oldest_unhandled_message() -> None:
    """Handling out of order never acks past a message the agent has not seen."""
    inbox = Inbox()
    for seq in (1, 2, 3, 4):
        inbox.add(msg(seq))
    assert inbox.ack_target() == 0
    inbox.mark_handled([msg(2), msg(4)])
    assert inbox.ack_target() == 0
    inbox.mark_handled([msg(1)])
    assert inbox.ack_target() == 2
    inbox.mark_handled([msg(3)])
    assert inbox.ack_target() == 4


def test_duplicates_still_advance_the_received_cursor() -> None:
    """A dropped redelivery still counts as received, so it can be acked."""
    inbox = Inbox()
    inbox.add(msg(1))
    inbox.mark_handled(inbox.unhandled())
    # The bridge lost our ack and sends seq 1 again under the same id, then seq 2.
    assert not inbox.add(msg(1))
    assert inbox.add(msg(2))
    inbox.mark_handled(inbox.unhandled())
    assert inbox.ack_target() == 2


def test_mark_handled_ignores_unknown_messages() -> None:
    """Marking a message the inbox does not hold changes nothing."""
    inbox = Inbox()
    inbox.add(msg(1))
    inbox.mark_handled([msg(7)])
    assert [m.seq for m in inbox.unhandled()] == [1]
    assert inbox.add(msg(7))


def test_reset_moves_cursors_forward_only() -> None:
    """reset takes the bridge's acked cursor but never moves a cursor backwards."""
    inbox = Inbox()
    for seq in (1, 2, 3):
        inbox.add(msg(seq))
    inbox.mark_handled(inbox.unhandled())
    inbox.acked = 3
    inbox.reset(1)
    assert (inbox.acked, inbox.received) == (3, 3)
    inbox.reset(10)
    assert (inbox.acked, inbox.received) == (10, 10)
    assert inbox.ack_target() == 10
    assert not inbox.add(msg(9, "fresh"))


def test_reset_keeps_unhandled_messages() -> None:
    """A reconnect keeps what the agent has not seen yet; redeliveries of it are dropped."""
    inbox = Inbox()
    inbox.add(msg(1))
    inbox.add(msg(2))
    inbox.reset(0)
    assert not inbox.add(msg(1))
    assert not inbox.add(msg(2))
    assert [m.seq for m in inbox.unhandled()] == [1, 2]
    assert inbox.ack_target() == 0


def test_remember_bounds_the_handled_ids() -> None:
    """Only the newest ``remember`` handled ids are kept for dedup."""
    inbox = Inbox(remember=2)
    for seq in (1, 2, 3):
        inbox.add(msg(seq))
        inbox.mark_handled(inbox.unhandled())
    assert not inbox.add(msg(2))
    assert not inbox.add(msg(3))
    # The oldest id is forgotten: without an acked cursor it would be taken again.
    assert inbox.add(msg(1))
