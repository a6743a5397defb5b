"""The loop brake in the router (§3.6): agents' MCP sends counted, the pause carried on
``accepted`` and ``deliver``, both sides and the operator told, a person resumes it."""

from __future__ import annotations

from typing import Any

from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.braking import NOTICE_SENDER
from ai_connect.bridge.events import Action, Braked
from ai_connect.protocol import Accepted, Brakes, Deliver, ErrorCode

from .helpers import Bridge, delivers, errors, one

AGENT: dict[str, Any] = {"client": {"kind": "mcp"}}


def _agents(hops: int = 2, **more: object) -> tuple[Bridge, str, str]:
    bridge = Bridge(brake=BrakeLimits(hops=hops, per_minute=0), **more)  # type: ignore[arg-type]
    alice = bridge.join(1, "Alice", **AGENT)
    bob = bridge.join(2, "Bob", **AGENT)
    return bridge, alice, bob


def _exchange(bridge: Bridge, count: int, alice: str, bob: str) -> list[Action]:
    """``count`` messages, Alice and Bob in turn, each committed and acked."""
    out: list[Action] = []
    for i in range(count):
        conn, to = (1, bob) if i % 2 == 0 else (2, alice)
        bridge.send(conn, to, f"m{i}")
        done = bridge.settle()
        out += done
        for d in delivers(done):
            bridge.ack(2 if d.to == bob else 1, d.seq)
        bridge.settle()
    return out


def test_past_the_limit_messages_are_stored_but_marked_paused() -> None:
    """The third unattended message (hops=2) is accepted and delivered with the reason;
    the two before it are not paused."""
    bridge, alice, bob = _agents()
    first = _exchange(bridge, 2, alice, bob)
    assert all(d.paused is None for d in delivers(first))
    bridge.send(1, bob, "third")
    done = bridge.settle()
    accepted = one(Accepted, done, 1)
    assert accepted.paused and "no human input" in accepted.paused
    (third,) = [d for d in delivers(done, 2) if d.body == "third"]
    assert third.paused == accepted.paused


def test_both_sides_get_a_notice_that_wakes_nobody_and_the_operator_a_log() -> None:
    """The tripping send yields one Braked action and a notice to each side, itself
    marked paused."""
    bridge, alice, bob = _agents()
    _exchange(bridge, 2, alice, bob)
    sent = bridge.send(1, bob, "third")
    (braked,) = [a for a in sent if isinstance(a, Braked)]
    assert braked.parties == tuple(sorted((alice, bob)))
    done = bridge.settle()
    notices = [d for d in delivers(done) if d.from_ == NOTICE_SENDER]
    assert sorted(d.to for d in notices) == sorted((alice, bob))
    assert all(d.paused and "paused the conversation" in d.body for d in notices)
    assert not [a for a in _exchange(bridge, 1, alice, bob) if isinstance(a, Braked)]


def test_a_human_frame_from_either_side_resumes_it() -> None:
    """Bob's session reports a person's prompt: the conversation resumes, the next
    message is not paused, and the reply names what was resumed."""
    bridge, alice, bob = _agents()
    _exchange(bridge, 3, alice, bob)
    reply = one(Brakes, bridge.frame(2, type="human", rid="h1"), 2)
    assert reply.resumed == [f"pair:{alice} <-> {bob}"] and reply.paused == []
    bridge.send(1, bob, "after")
    assert one(Accepted, bridge.settle(), 1).paused is None


def test_a_cli_send_counts_as_a_person_and_library_clients_do_not_count() -> None:
    """A person's CLI send to Bob resumes Bob's conversations; a script's sends neither
    count nor reset."""
    bridge, alice, bob = _agents(hops=1)
    _exchange(bridge, 2, alice, bob)
    carol = bridge.join(4, "Carol")  # a library client (kind "unknown")
    for _ in range(5):
        bridge.send(4, bob, "script")
    done = bridge.settle()
    assert all(d.paused is None for d in delivers(done) if d.from_ == carol)
    bridge.send(1, bob, "still paused")
    assert one(Accepted, bridge.settle(), 1).paused
    bridge.join(3, "ops", client={"kind": "cli"})
    bridge.send(3, bob, "a person asks: what is going on?")
    bridge.settle()
    bridge.send(1, bob, "resumed")
    assert one(Accepted, bridge.settle(), 1).paused is None


def test_operator_commands_list_and_resume() -> None:
    """admin_brakes lists the pause; admin_resume lifts it (any client on a bridge without
    auth; admin tokens only with auth)."""
    bridge, alice, bob = _agents()
    _exchange(bridge, 3, alice, bob)
    listed = one(Brakes, bridge.frame(1, type="admin_brakes", rid="a"), 1)
    assert [p["conversation"] for p in listed.paused] == [f"pair:{alice} <-> {bob}"]
    resumed = one(Brakes, bridge.frame(1, type="admin_resume", rid="b"), 1)
    assert resumed.resumed and resumed.paused == []


def test_with_auth_only_admins_may_resume() -> None:
    """On a bridge that requires tokens a non-admin's admin_resume is refused."""
    from ai_connect.bridge.auth import new_token

    token, record = new_token("Alice", now=0.0)
    bridge = Bridge(brake=BrakeLimits(hops=1, per_minute=0), tokens=[record])
    bridge.join(1, "Alice", token=token, **AGENT)
    (error,) = errors(bridge.frame(1, type="admin_resume", rid="x"), 1)
    assert error.code == ErrorCode.FORBIDDEN
    assert not isinstance(error, Deliver)
