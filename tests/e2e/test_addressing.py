"""Addressing with real processes: offline peers, short names, one address, two sessions.

Each test counts: messages accepted, shown to each receiving agent, duplicates (0), and
per-sender order; a peer's mailbox sequence numbers show that nothing else was put in it.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import PROJECT, Agents, accepted, numbers, payloads, shown
from tests.support.process import BridgeProcess


def test_broadcast_reaches_offline_peer_once(
    bridge: BridgeProcess, agents: Agents, tmp_path: Path
) -> None:
    """A broadcast while bob is offline: bob gets all 10 on return, carol 10, the sender none."""
    count = 10
    bob_out, carol_out = tmp_path / "bob.jsonl", tmp_path / "carol.jsonl"
    alice = agents.register(bridge.url, "alice")
    bob = agents.register(bridge.url, "bob")  # known, now offline
    carol = agents.receive(bridge.url, "carol", carol_out, "--expect", str(count))
    sender = agents.send(bridge.url, "alice", "*", count, "--status")
    sender.finish()
    carol.finish()

    receipts = accepted(sender.lines)
    assert len(receipts) == count and len({r["id"] for r in receipts}) == count
    for r in receipts:
        assert r["to"] == "*"
        assert r["recipients"] == sorted([bob, carol.address]), "not every known peer, or self"
        assert r["online"] == [carol.address]
    (status,) = [json.loads(p) for p in payloads(sender.lines, "status")]
    assert status["address"] == alice
    assert status["tip"] == 0, "the sender's own mailbox got its broadcast"

    returning = agents.receive(bridge.url, "bob", bob_out, "--expect", str(count))
    assert returning.address == bob
    returning.finish()
    ids = {r["id"] for r in receipts}
    for out in (bob_out, carol_out):
        messages = shown(out)
        assert [m["id"] for m in messages if m["id"] in ids] == [m["id"] for m in messages]
        assert len(messages) == count and {m["id"] for m in messages} == ids
        assert numbers(messages, alice) == list(range(count))
        assert [m["seq"] for m in messages] == list(range(1, count + 1)), "mailbox has extras"
    print(
        f"broadcast: {count} accepted for 2 peers (1 offline); bob shown {count}, carol "
        f"{count}, sender 0; 0 duplicates, order kept"
    )


def test_short_name_to_offline_peer(bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    """'mini' resolves to the offline 'mini (proj)'; the messages wait and arrive on return."""
    count = 3
    out = tmp_path / "mini.jsonl"
    mini = agents.register(bridge.url, "mini")
    assert mini == f"mini ({PROJECT})"
    sender = agents.send(bridge.url, "alice", "mini", count)
    sender.finish()
    receipts = accepted(sender.lines)
    assert len(receipts) == count
    assert all(r["to"] == mini and r["recipients"] == [mini] for r in receipts)
    assert all(r["online"] == [] for r in receipts), "mini was not offline"

    receiver = agents.receive(bridge.url, "mini", out, "--expect", str(count))
    assert receiver.address == mini
    receiver.finish()
    messages = shown(out)
    assert [m["id"] for m in messages] == [r["id"] for r in sorted(receipts, key=lambda r: r["i"])]
    assert numbers(messages, f"alice ({PROJECT})") == list(range(count))
    assert [m["seq"] for m in messages] == list(range(1, count + 1))
    print(f"short name: {count} sent to 'mini' while offline, {count} accepted, {count} shown")


def test_two_sessions_one_address(bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    """A second 'bob' is 'bob#2'; bob's mail reaches only the first; no flap, even on restart."""
    count, short = 400, 50
    first_out, second_out = tmp_path / "bob1.jsonl", tmp_path / "bob2.jsonl"
    first = agents.receive(bridge.url, "bob", first_out, "--expect", str(count + short))
    second = agents.receive(bridge.url, "bob", second_out, "--expect", "1")
    assert first.address == f"bob ({PROJECT})"
    assert second.address == f"bob#2 ({PROJECT})"

    to_full = agents.send(bridge.url, "alice", first.address, count, "--window", "8")
    to_full.expect(lambda _: len(payloads(to_full.lines, "accepted")) >= 100, "100 receipts")
    bridge.kill9()  # both sessions reconnect at once: each must get its own address back
    bridge.restart()
    to_bare = agents.send(bridge.url, "dave", "bob", short, "--window", "8")
    to_full.finish()
    to_bare.finish()
    receipts = accepted(to_full.lines) + accepted(to_bare.lines)
    assert len(receipts) == count + short
    assert all(r["to"] == first.address and r["recipients"] == [first.address] for r in receipts)
    first.finish()

    # A marker to bob#2 is the first entry of its mailbox: nothing else ever went there.
    marker = agents.send(bridge.url, "erin", second.address, 1)
    marker.finish()
    second.finish()
    (only,) = shown(second_out)
    assert only["from"] == f"erin ({PROJECT})" and only["seq"] == 1

    messages = shown(first_out)
    ids = {r["id"] for r in receipts}
    assert len(messages) == count + short and {m["id"] for m in messages} == ids
    assert numbers(messages, f"alice ({PROJECT})") == list(range(count))
    assert numbers(messages, f"dave ({PROJECT})") == list(range(short))
    for proc in (first, second):
        welcomes = payloads(proc.lines, "welcome")
        assert welcomes == [proc.address] * 2, f"{proc.name} flapped: {welcomes}"
        assert len(payloads(proc.lines, "down")) == 1, "a link dropped besides the restart"
    print(
        f"two sessions: {count + short} accepted for bob (proj), {len(messages)} shown to the "
        "first, 0 to bob#2 before its marker, 0 duplicates, addresses kept across a bridge "
        "restart, order kept"
    )
