"""The request tracker and the outbox on their own: no bridge, no socket, one event loop
per test (their futures need one). Replies are handed in by hand, as the link would."""

from __future__ import annotations

import asyncio

import pytest

from ai_connect.client.outbox import Outbox, Receipt
from ai_connect.client.pending import Pending
from ai_connect.errors import (
    BridgeError,
    NotConnected,
    RemoteProtocolError,
    RequestRejected,
    RequestTimeout,
    UnknownPeer,
)
from ai_connect.protocol import Accepted, Error, PeerList, Peers, Send, Status, StatusReport

from .support import run


def status_report(rid: int | str) -> StatusReport:
    return StatusReport(
        rid=rid, address="A (p)", server="t", storage="memory", uptime_s=1.0,
        peers_online=1, peers_known=1, unread=0, tip=0, acked=0,
    )  # fmt: skip


def accepted(rid: int | str, cid: str) -> Accepted:
    return Accepted(rid=rid, cid=cid, id="m1", ts=1.0, to="B (p)", recipients=["B (p)"], online=[])


def test_replies_find_their_requests_by_rid_in_any_order() -> None:
    """Two requests in flight get the replies with their own rids, answered in reverse."""

    async def scenario() -> None:
        pending = Pending()
        both_sent = asyncio.Barrier(3)

        async def transmit() -> None:
            await both_sent.wait()

        first, second = Status(rid=pending.rid()), Peers(rid=pending.rid())
        calls = asyncio.gather(
            pending.call(first, StatusReport, 5, transmit),
            pending.call(second, PeerList, 5, transmit),
        )
        await asyncio.wait_for(both_sent.wait(), 5)
        assert len(pending) == 2
        assert pending.answer(PeerList(rid=second.rid, peers=[]))
        assert pending.answer(status_report(first.rid))
        report, peers = await calls
        assert isinstance(report, StatusReport) and report.rid == first.rid
        assert isinstance(peers, PeerList) and peers.rid == second.rid
        assert len(pending) == 0
        assert not pending.answer(status_report(first.rid))  # nobody waits for it now

    run(scenario())


def test_an_error_reply_raises_request_rejected_with_code_and_hint() -> None:
    """An error frame answering a request raises RequestRejected carrying its code and hint."""

    async def scenario() -> None:
        pending = Pending()
        frame = Status(rid=pending.rid())

        async def transmit() -> None:
            pending.answer(Error(rid=frame.rid, code="forbidden", message="no.", hint="ask."))

        with pytest.raises(RequestRejected) as info:
            await pending.call(frame, StatusReport, 5, transmit)
        assert info.value.code == "forbidden" and info.value.hint == "ask."
        assert not isinstance(info.value, UnknownPeer) and len(pending) == 0

    run(scenario())


def test_an_unknown_peer_error_becomes_unknown_peer_with_candidates() -> None:
    """unknown_peer and ambiguous_peer errors become UnknownPeer with the candidates."""
    for code in ("unknown_peer", "ambiguous_peer"):
        frame = Error(rid=1, code=code, message="who?", hint="pick one", candidates=["A (p)"])
        error = RequestRejected.from_frame(frame)
        assert isinstance(error, UnknownPeer) and error.candidates == ("A (p)",)
        assert error.code == code and "pick one" in str(error)
    plain = RequestRejected.from_frame(Error(rid=1, code="rate_limited", message="slow down"))
    assert type(plain) is RequestRejected and plain.hint == ""


def test_a_timeout_names_the_frame_and_the_seconds_and_forgets_it() -> None:
    """No reply within the timeout: RequestTimeout naming the frame type and the wait."""

    async def scenario() -> None:
        pending = Pending()

        async def transmit() -> None:
            pass

        with pytest.raises(RequestTimeout, match=r"status; waited 0\.01 s"):
            await pending.call(Status(rid=pending.rid()), StatusReport, 0.01, transmit)
        assert len(pending) == 0

    run(scenario())


def test_a_reply_of_the_wrong_type_is_an_error() -> None:
    """A reply with the right rid but the wrong frame type raises BridgeError naming both."""

    async def scenario() -> None:
        pending = Pending()
        frame = Status(rid=pending.rid())

        async def transmit() -> None:
            pending.answer(PeerList(rid=frame.rid, peers=[]))

        with pytest.raises(BridgeError, match="peer_list to status"):
            await pending.call(frame, StatusReport, 5, transmit)

    run(scenario())


def test_fail_fails_every_waiting_request_at_once() -> None:
    """fail() (the link dropped) fails each request in flight with the error given."""

    async def scenario() -> None:
        pending = Pending()
        transmitted = asyncio.Event()

        async def transmit() -> None:
            transmitted.set()

        call = asyncio.create_task(
            pending.call(Status(rid=pending.rid()), StatusReport, 30, transmit)
        )
        await asyncio.wait_for(transmitted.wait(), 5)
        pending.fail(NotConnected("gone"))
        with pytest.raises(NotConnected, match="gone"):
            await call
        assert len(pending) == 0

    run(scenario())


def test_send_replies_are_found_by_rid_not_by_its_shape() -> None:
    """A send's rid maps to its cid once; request rids and send rids never collide."""
    pending = Pending()
    rid = pending.send_rid("c-1")
    other = pending.rid()
    assert rid != other
    assert pending.sent(Error(rid=other, code="x", message="y")) is None
    assert pending.sent(accepted(rid, "c-1")) == "c-1"
    assert pending.sent(accepted(rid, "c-1")) is None  # answered once
    forgotten = pending.send_rid("c-2")
    pending.forget_send(forgotten)
    assert pending.sent(accepted(forgotten, "c-2")) is None
    assert pending.sent(accepted("s-c-3", "c-3")) is None  # no prefix magic


def test_the_outbox_keeps_sends_in_order_until_answered() -> None:
    """Sends wait by cid in order; the same cid shares one future; replies settle them."""

    async def scenario() -> None:
        outbox = Outbox()
        one = outbox.add(Send(rid=1, cid="c-1", to="B", body="one"))
        two = outbox.add(Send(rid=2, cid="c-2", to="B", body="two"))
        assert outbox.add(Send(rid=3, cid="c-1", to="B", body="one")) is one
        assert [f.cid for f in outbox.frames()] == ["c-1", "c-2"] and "c-1" in outbox
        assert outbox.settle("c-1", accepted(1, "c-1")) is None
        receipt = await one
        assert receipt == Receipt("c-1", "accepted", "m1", "B (p)", ("B (p)",), (), 1.0)
        assert receipt.offline == ("B (p)",)
        refusal = Error(rid=2, code="body_too_large", message="too big", hint="shorten it")
        assert outbox.settle("c-2", refusal) is refusal
        with pytest.raises(RequestRejected, match="shorten it"):
            await two
        assert len(outbox) == 0 and outbox.settle("c-2", refusal) is None

    run(scenario())


def test_the_outbox_fails_its_waiters_but_keeps_the_frames() -> None:
    """fail() fails each waiting send, and its frame stays to go out after reconnect."""

    async def scenario() -> None:
        outbox = Outbox()
        waiting = outbox.add(Send(rid=1, cid="c-1", to="B", body="one"))
        outbox.fail(NotConnected("closed"))
        with pytest.raises(NotConnected):
            await waiting
        assert [f.cid for f in outbox.frames()] == ["c-1"]
        assert outbox.forget("c-1") is not None and outbox.forget("c-1") is None
        odd = outbox.add(Send(rid=2, cid="c-2", to="B", body="two"))
        outbox.settle("c-2", status_report(2))
        with pytest.raises(RemoteProtocolError, match="send c-2 with status_report"):
            await odd

    run(scenario())
