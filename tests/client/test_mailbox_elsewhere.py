"""Inbox: messages acked through another connection of the same address (§2.2)."""

from __future__ import annotations

from ai_connect.client.mailbox import Inbox, Message


def message(seq: int) -> Message:
    return Message(seq, f"m{seq}", "Bob (p)", "Alice (p)", f"body {seq}", None, None, None, 1.0)


def test_acked_elsewhere_handles_what_it_covers() -> None:
    """Messages up to the announced seq leave the unhandled list; later ones stay."""
    inbox = Inbox()
    for seq in (1, 2, 3):
        inbox.add(message(seq))
    gone = inbox.acked_elsewhere(2)
    assert [m.seq for m in gone] == [1, 2]
    assert [m.seq for m in inbox.unhandled()] == [3]
    assert (inbox.acked, inbox.ack_target()) == (2, 2)


def test_acked_elsewhere_drops_later_redeliveries() -> None:
    """A message announced as acked is refused if it arrives afterwards."""
    inbox = Inbox()
    inbox.acked_elsewhere(5)
    assert not inbox.add(message(4))
    assert inbox.add(message(6))
    assert inbox.received == 6
