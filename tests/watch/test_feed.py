"""The watch over the bridge's observer feed: FeedSource and the frame mapping."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ai_connect.protocol import FeedDelivery, FeedEvent, FeedMessage, FeedPeer, FeedSnapshot
from ai_connect.watch.events import (
    DeliveryChanged,
    LinkChanged,
    MessageSeen,
    PresenceChanged,
    ProposalChanged,
    Snapshot,
    WatchEvent,
)
from ai_connect.watch.feed import FeedSource, to_event, to_snapshot
from ai_connect.watch.model import Row, WatchModel
from tests.client.support import make_client, run
from tests.support.bridge import RestartableBridge, bridge

BOB = FeedPeer(
    address="Bob (proj)",
    name="Bob",
    project="proj",
    online=True,
    last_seen=5.0,
    unread=2,
    tip=3,
    acked=1,
    connections=1,
)


def test_frames_map_to_the_watchs_events() -> None:
    """Each feed frame becomes the watch's own event, fields carried over."""
    delivery = FeedDelivery.model_validate(
        {"id": "m1", "from": "A (p)", "recipient": "Bob (proj)", "seq": 3, "state": "shown"}
        | {"path": "hook", "ts": 7.0}
    )
    snap = to_snapshot(
        FeedSnapshot(ts=1.0, peers=[BOB], proposals=[{"id": "p1"}], unshown=[delivery]), "ws://x"
    )
    assert snap.bridge == "ws://x" and snap.peers[0].unread == 2
    assert snap.unshown == (DeliveryChanged(7.0, "m1", "Bob (proj)", "shown", "hook", "A (p)"),)
    message = FeedMessage.model_validate(
        {"id": "m1", "from": "A (p)", "to": "*", "recipients": ["Bob (proj)"], "online": []}
        | {"ts": 2.0, "preview": "hi", "size": 2, "human": True, "thread": "t"}
    )
    seen = to_event(FeedEvent(kind="message", ts=2.0, message=message))
    assert isinstance(seen, MessageSeen)
    assert (seen.sender, seen.to, seen.recipients, seen.human, seen.thread) == (
        "A (p)",
        "*",
        ("Bob (proj)",),
        True,
        "t",
    )
    assert to_event(FeedEvent(kind="shown", ts=7.0, delivery=delivery)) == snap.unshown[0]
    left = to_event(FeedEvent(kind="leave", ts=3.0, peer=BOB))
    assert isinstance(left, PresenceChanged) and not left.joined
    voted = to_event(FeedEvent(kind="proposal", ts=4.0, proposal={"id": "p1"}, change="voted"))
    assert voted == ProposalChanged(4.0, "voted", {"id": "p1"})
    assert to_event(FeedEvent(kind="message", ts=1.0)) is None


async def _rows_until(
    events: AsyncIterator[WatchEvent], model: WatchModel, kind: str, text: str = ""
) -> list[Row]:
    """Applies events until a row of ``kind`` (containing ``text``) comes; all rows."""
    rows: list[Row] = []
    async with asyncio.timeout(5):
        async for event in events:
            rows += model.apply(event)
            if any(r.kind == kind and text in f"{r.who} {r.text}" for r in rows):
                return rows
    raise AssertionError(f"the feed ended before a {kind} row")


def test_a_message_its_delivery_and_its_showing_reach_the_watch() -> None:
    """Through a real bridge: message, delivered and shown (by hook) rows, in order; the
    watch is no peer."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Alice") as alice,
            make_client(srv, "Bob") as bob,
            make_client(srv, "Ops", mode="observe") as ops,
        ):
            model = WatchModel()
            events = FeedSource(ops).events()
            await _rows_until(events, model, "link")
            receipt = await alice.send("Bob", "hello bob", thread="t1")
            rows = await _rows_until(events, model, "delivered")
            (got,) = await bob.wait(5)
            await bob.ack([got], path="hook")
            rows += await _rows_until(events, model, "shown")
            assert [(r.kind, r.key) for r in rows] == [
                ("message", receipt.id),
                ("delivered", receipt.id),
                ("shown", receipt.id),
            ]
            assert rows[0].who == "Alice (proj) -> Bob (proj)" and rows[0].thread == "t1"
            assert rows[-1].text == "by hook"
            assert model.state_text(str(receipt.id)) == "shown (hook)"
            assert "Ops (proj)" not in [p.address for p in await alice.peers()]
            await events.aclose()

    run(scenario())


def test_sending_as_a_human_reaches_the_agent_marked_human() -> None:
    """FeedSource.send goes out as the named person; the agent gets it flagged human and
    the watch shows it marked [human]."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Bob") as bob,
            make_client(srv, "Ops", mode="observe") as ops,
        ):
            source = FeedSource(ops)
            model = WatchModel()
            events = source.events()
            await _rows_until(events, model, "link")
            message_id = await source.send("Ada", "Bob", "stop for today")
            (got,) = await bob.wait(5)
            assert (got.id, got.sender, got.human) == (message_id, "Ada (proj)", True)
            rows = await _rows_until(events, model, "message")
            assert rows[-1].who == "Ada (proj) [human] -> Bob (proj)" and rows[-1].human
            await events.aclose()

    run(scenario())


def test_a_lost_link_is_a_row_and_the_next_snapshot_starts_over() -> None:
    """The bridge restarts: a link-down row, then a fresh snapshot (link up)."""

    async def scenario() -> None:
        async with (
            RestartableBridge() as srv,
            make_client(srv, "Ops", mode="observe") as ops,
        ):
            events = FeedSource(ops).events()
            model = WatchModel()
            first = await anext(events)
            assert isinstance(first, Snapshot)
            model.apply(first)
            await srv.restart()
            seen: list[WatchEvent] = []
            async with asyncio.timeout(5):
                while not (seen and isinstance(seen[-1], Snapshot)):
                    seen.append(await anext(events))
            downs = [e for e in seen if isinstance(e, LinkChanged)]
            assert downs and not downs[0].up and "reconnecting" in downs[0].reason
            assert model.apply(downs[0])[0].key == "down"
            assert model.apply(seen[-1])[0].key == "up" and model.connected
            await events.aclose()

    run(scenario())


def test_last_shows_the_messages_stored_before_with_their_states() -> None:
    """--last 2: the two newest messages stored before the watch came, oldest first, with
    each recipient's state (shown by its path, or waiting), then live events."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Alice") as alice,
            make_client(srv, "Bob") as bob,
        ):
            for text in ("one", "two"):
                second = await alice.send("Bob", text, thread="t")
                (got,) = await bob.wait(5)
                await bob.ack([got], path="channel")
            third = await alice.send("*", "three")
            async with make_client(srv, "Ops", mode="observe") as ops:
                model = WatchModel()
                events = FeedSource(ops, last=2).events()
                rows = await _rows_until(events, model, "message", "three")
                assert [(r.kind, r.key) for r in rows if r.kind != "link"] == [
                    ("message", second.id),
                    ("delivered", second.id),
                    ("shown", second.id),
                    ("message", third.id),
                ]
                assert model.state_text(str(second.id)) == "shown (channel)"
                assert rows[-1].who == "Alice (proj) -> * (1)"
                live = await alice.send("Bob", "four")
                rows = await _rows_until(events, model, "message", "four")
                assert rows[-1].key == live.id
                await events.aclose()

    run(scenario())


class _BrokenClient:
    """Just enough of an observing BridgeClient whose feed fails."""

    url = "ws://broken.invalid:1"
    connected = True
    last_error = None

    async def observe(self) -> AsyncIterator[FeedSnapshot]:
        yield FeedSnapshot(ts=1.0, peers=[], proposals=[], unshown=[])
        raise RuntimeError("a bug in the feed")

    async def wait_disconnected(self) -> None:
        await asyncio.Event().wait()


def test_a_failing_feed_ends_the_events_with_its_error() -> None:
    """A feed that fails raises out of events() instead of leaving the watch silent."""

    async def scenario() -> None:
        events = FeedSource(_BrokenClient()).events()  # type: ignore[arg-type]
        assert isinstance(await anext(events), Snapshot)
        with pytest.raises(RuntimeError, match="a bug in the feed"):
            await anext(events)

    run(scenario())


def test_a_work_event_becomes_a_work_change_with_its_line() -> None:
    """kind work: the peer with its status as one line; a snapshot carries it too."""
    from ai_connect.protocol import WorkView
    from ai_connect.watch.events import WorkChanged

    view = WorkView(repo="github.com/org/app", branch="main", files=["a.py"], ts=5.0)
    working = BOB.model_copy(update={"work": view})
    changed = to_event(FeedEvent(kind="work", ts=5.0, peer=working))
    assert isinstance(changed, WorkChanged)
    assert changed.peer.work == "working · github.com/org/app main · edited a.py"
    snap = to_snapshot(FeedSnapshot(ts=6.0, peers=[working, BOB], proposals=[], unshown=[]))
    assert [p.work for p in snap.peers] == [changed.peer.work, None]
