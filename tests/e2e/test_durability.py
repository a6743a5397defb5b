"""Crashes and stalls with real processes: 0 lost, 0 duplicates shown, per-sender order.

What the product guarantees (docs/protocol.md, DESIGN.md "Delivery guarantees"):

- ``accepted`` = durably stored: a kill -9 of the bridge after it loses nothing, and a
  send the sender had in flight is resent from its outbox with the same cid and stored
  once.
- Delivery is at-least-once with acks; each client process shows a message to its agent
  exactly once (dedup by message id, in memory). When the *receiving process* dies, its
  memory goes with it: the messages it had shown but whose ack had not reached the
  bridge are delivered again to the next process. Those are exactly the tail of what
  the dead process showed, at most one flow-control window (256 messages); nothing else
  repeats and nothing is lost.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from tests.e2e.conftest import (
    PROJECT,
    Agents,
    accepted,
    assert_in_order,
    numbers,
    shown,
)
from tests.support.process import BridgeProcess

WINDOW = 256
"""The bridge's flow-control window (Limits.window_messages): deliveries in flight."""


def receipts_of(lines: list[str], total: int) -> dict[str, str]:
    """cid -> message id of a sender's receipts; asserts one distinct id per message sent."""
    receipts = accepted(lines)
    by_cid = {r["cid"]: r["id"] for r in receipts}
    assert len(receipts) == total, f"{len(receipts)} receipts for {total} messages"
    assert len(by_cid) == total, "a message was acknowledged twice"
    assert len(set(by_cid.values())) == total, "two messages were stored under one id"
    return by_cid


def assert_shown_once(messages: list[dict[str, Any]], ids: set[str], sender: str) -> None:
    """``messages`` shows every id of ``ids`` exactly once, in the order they were sent."""
    shown_ids = [m["id"] for m in messages]
    assert len(shown_ids) == len(set(shown_ids)), "a message was shown twice"
    assert set(shown_ids) == ids, (
        f"{len(ids - set(shown_ids))} lost, {len(set(shown_ids) - ids)} unknown"
    )
    assert numbers(messages, sender) == list(range(len(ids))), "per-sender order broken"


def assert_handover(
    first: list[dict[str, Any]], second: list[dict[str, Any]], ids: set[str], sender: str
) -> int:
    """A receiver was killed and replaced: returns the number of messages shown twice.

    Each process shows each message once and in order; together they show every accepted
    message; what both showed is the tail of the first (shown, never acked), at most one
    window, and the second starts with exactly that tail.
    """
    for part, name in ((first, "first receiver"), (second, "second receiver")):
        part_ids = [m["id"] for m in part]
        assert len(part_ids) == len(set(part_ids)), f"{name} showed a message twice"
        assert_in_order(numbers(part, sender), name)
    first_ids = [m["id"] for m in first]
    second_ids = [m["id"] for m in second]
    twice = len(set(first_ids) & set(second_ids))
    assert set(first_ids) | set(second_ids) == ids, "messages lost across the handover"
    assert twice <= WINDOW, f"{twice} shown twice: more than the window of {WINDOW}"
    if twice:
        assert first_ids[-twice:] == second_ids[:twice], "repeats are not the unacked tail"
    assert numbers(first + second[twice:], sender) == list(range(len(ids))), "order broken"
    assert len(first) + len(second) - twice == len(ids)
    seqs = {m["seq"] for m in first + second}
    assert seqs == set(range(1, len(ids) + 1)), "the mailbox holds a message twice"
    return twice


def link_events(lines: list[str]) -> list[str]:
    return [s.split(" ", 1)[0] for s in lines if s.split(" ", 1)[0] in ("welcome", "down")]


def test_bridge_kill9_mid_stream(any_bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    """kill -9 of the bridge mid-stream of 2,000: each accepted message shown once, in order
    (on SQLite and on PostgreSQL)."""
    bridge = any_bridge
    total = 2000
    out = tmp_path / "bob.jsonl"
    receiver = agents.receive(bridge.url, "bob", out, "--expect", str(total))
    sender = agents.send(bridge.url, "alice", receiver.address, total, "--window", "64")
    sender.expect(
        lambda _: sum(s.startswith("accepted ") for s in sender.lines) >= 500, "500 receipts"
    )
    bridge.kill9()
    bridge.restart()
    sender.finish(timeout=30)
    receiver.finish(timeout=30)

    # The kill landed mid-stream: the sender lost its link with messages still to send,
    # rode the outage on its outbox and reconnected; so did the receiver.
    events = link_events(sender.lines)
    assert events == ["welcome", "down", "welcome"], events
    cut = sender.lines.index(next(s for s in sender.lines if s.startswith("down")))
    before = sum(s.startswith("accepted ") for s in sender.lines[:cut])
    assert 500 <= before < total, f"{before} receipts before the kill"
    assert link_events(receiver.lines) == ["welcome", "down", "welcome"]

    ids = set(receipts_of(sender.lines, total).values())
    messages = shown(out)
    assert len(messages) == total
    assert_shown_once(messages, ids, "alice (proj)")
    # Stored once each: the mailbox is numbered 1..total with no gap and no extra entry.
    assert [m["seq"] for m in messages] == list(range(1, total + 1))
    resent = sum(r["dup"] for r in accepted(sender.lines))
    print(
        f"kill -9 bridge: {total} sent, {len(ids)} accepted ({before} before the kill, "
        f"{resent} confirmed on a resend), {len(messages)} shown, 0 duplicates, order kept"
    )


def test_receiver_kill9_mid_stream(
    any_bridge: BridgeProcess, agents: Agents, tmp_path: Path
) -> None:
    """kill -9 of a receiver: its successor shows the rest; only its unacked tail repeats
    (on SQLite and on PostgreSQL)."""
    bridge = any_bridge
    total = 1500
    first_out, second_out = tmp_path / "bob1.jsonl", tmp_path / "bob2.jsonl"
    watcher = agents.start("watch", bridge.url, "watcher")
    watcher.expect_word("welcome")
    # It waits 5 ms between showing a batch and acking it, as an agent at work would.
    first = agents.receive(bridge.url, "bob", first_out, "--ack-delay", "0.005")
    sender = agents.send(bridge.url, "alice", first.address, total, "--window", "8")
    first.expect(lambda s: s.startswith("seen ") and int(s.split()[1]) >= 300, "300 seen")
    first.kill9()
    watcher.expect(lambda s: s == f"leave {first.address}", "the bridge to see it gone")
    second = agents.receive(bridge.url, "bob", second_out, "--last-seq", str(total))
    assert second.address == first.address, "the returning agent did not get its address back"
    sender.finish(timeout=30)
    second.finish(timeout=30)

    ids = set(receipts_of(sender.lines, total).values())
    before, after = shown(first_out), shown(second_out)
    assert len(before) < total, "the receiver was killed after the stream ended"
    twice = assert_handover(before, after, ids, "alice (proj)")
    print(
        f"kill -9 receiver: {total} accepted, first showed {len(before)}, second "
        f"{len(after)}, {twice} shown twice (unacked at the kill), 0 lost, order kept"
    )


def test_frozen_receiver_then_killed(bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    """A receiver frozen by SIGSTOP: the bridge keeps serving others; killed, nothing is lost."""
    total = 1500
    first_out, second_out = tmp_path / "bob1.jsonl", tmp_path / "bob2.jsonl"
    watcher = agents.start("watch", bridge.url, "watcher")
    watcher.expect_word("welcome")
    first = agents.receive(bridge.url, "bob", first_out)
    sender = agents.send(bridge.url, "alice", first.address, total, "--window", "8")
    first.expect(lambda s: s.startswith("seen ") and int(s.split()[1]) >= 200, "200 seen")
    os.kill(first.pid, signal.SIGSTOP)
    try:
        # The bridge goes on accepting for the frozen peer and answering everyone else.
        sender.finish(timeout=30)
        probe = agents.start("probe", bridge.url, "carol")
        status = json.loads(probe.expect_word("status"))
        peers = {p["address"]: p for p in json.loads(probe.expect_word("peers"))}
        probe.finish(timeout=10)
    finally:
        first.kill9()  # SIGKILL ends a stopped process too
    assert status["address"] == f"carol ({PROJECT})"
    assert peers[first.address]["online"], "the frozen peer's link was dropped early"
    watcher.expect(lambda s: s == f"leave {first.address}", "the bridge to see it gone")
    second = agents.receive(bridge.url, "bob", second_out, "--last-seq", str(total))
    assert second.address == first.address
    second.finish(timeout=30)

    ids = set(receipts_of(sender.lines, total).values())
    before, after = shown(first_out), shown(second_out)
    assert len(before) < total, "the receiver showed everything before it froze"
    twice = assert_handover(before, after, ids, "alice (proj)")
    print(
        f"SIGSTOP then SIGKILL: {total} accepted while frozen after {len(before)} shown; "
        f"successor showed {len(after)}, {twice} twice, 0 lost, order kept"
    )


def test_offline_backlog_over_5_mib(bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    """A 6.4 MiB offline backlog arrives whole and in order through 1 MiB frames, once each."""
    count, size = 100, 64 * 1024
    out = tmp_path / "bob.jsonl"
    address = agents.register(bridge.url, "bob")
    sender = agents.send(bridge.url, "alice", address, count, "--size", str(size))
    sender.finish(timeout=30)
    receipts = accepted(sender.lines)
    assert all(r["online"] == [] for r in receipts), "bob was not offline"
    ids = set(receipts_of(sender.lines, count).values())

    # websockets' default 1 MiB frame limit: a larger frame would close the link (1009).
    receiver = agents.receive(
        bridge.url, "bob", out, "--expect", str(count), "--max-size", str(1 << 20)
    )
    receiver.finish(timeout=30)
    assert link_events(receiver.lines) == ["welcome"], "the receiver lost its link"
    messages = shown(out)
    assert len(messages) == count
    assert sum(len(m["body"].encode()) for m in messages) == count * size > 5 * 1024 * 1024
    assert_shown_once(messages, ids, "alice (proj)")
    assert [m["seq"] for m in messages] == list(range(1, count + 1))
    print(
        f"offline backlog: {count} x {size // 1024} KiB = {count * size / 2**20:.2f} MiB "
        f"accepted, {len(messages)} shown, 0 duplicates, order kept, frames <= 1 MiB"
    )


def test_a_second_bridge_on_the_database_refuses_naming_the_first(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    """Two bridges on one file would disagree: the second exits 1 naming the first's pid
    and URL; `ai-connect token` still writes the file meanwhile; after a kill -9 of the
    first, the lock is gone and a bridge starts on it again."""
    import subprocess
    import sys

    from tests.support.process import ROOT

    second = [sys.executable, "-m", "ai_connect", "bridge", "--port", "0", "--db", str(bridge.db)]
    refused = subprocess.run(second, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 1, refused.stderr
    assert f"pid {bridge.pid}" in refused.stderr and bridge.url in refused.stderr
    assert "another --db" in refused.stderr and "Traceback" not in refused.stderr
    token = [sys.executable, "-m", "ai_connect", "token", "create", "ops", "--db", str(bridge.db)]
    made = subprocess.run(token, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and made.stdout.startswith("aic_"), made.stderr
    bridge.kill9()
    bridge.restart()  # the kernel dropped the dead bridge's lock


def store_process_of(bridge: BridgeProcess) -> int:
    """The pid of the bridge's store process (SQLite's writer, issue 13 item 5)."""
    children: list[int] = []
    for task in os.listdir(f"/proc/{bridge.pid}/task"):
        with open(f"/proc/{bridge.pid}/task/{task}/children", encoding="ascii") as f:
            children += [int(p) for p in f.read().split()]
    assert len(children) == 1, f"the bridge has {len(children)} child processes"
    return children[0]


def test_store_process_kill9_mid_stream(agents: Agents, tmp_path: Path) -> None:
    """kill -9 of the bridge's store process (--store-process) mid-stream of 1,000: the
    bridge says why and exits non-zero by itself; after a restart each accepted message is
    shown once."""
    with BridgeProcess(tmp_path, "--store-process") as bridge:
        store_process_kill9(bridge, agents, tmp_path)


def store_process_kill9(bridge: BridgeProcess, agents: Agents, tmp_path: Path) -> None:
    total = 1000
    out = tmp_path / "bob.jsonl"
    receiver = agents.receive(bridge.url, "bob", out, "--expect", str(total))
    sender = agents.send(bridge.url, "alice", receiver.address, total, "--window", "64")
    sender.expect(
        lambda _: sum(s.startswith("accepted ") for s in sender.lines) >= 300, "300 receipts"
    )
    child = store_process_of(bridge)
    os.kill(child, signal.SIGKILL)
    assert bridge.proc is not None
    code = bridge.proc.popen.wait(timeout=30)
    bridge.proc.stop()
    log = bridge.proc.tail(40)
    assert code != 0, f"the bridge exited with {code} after its store process was killed"
    assert f"store process (pid {child}) was killed by SIGKILL" in log, log
    bridge.restart()
    sender.finish(timeout=30)
    receiver.finish(timeout=30)

    ids = set(receipts_of(sender.lines, total).values())
    messages = shown(out)
    shown_ids = [m["id"] for m in messages]
    assert len(shown_ids) == len(set(shown_ids)) == total, "a message was shown twice or lost"
    assert set(shown_ids) == ids
    assert sorted(m["seq"] for m in messages) == list(range(1, total + 1)), "stored twice"
    refused = sum(s.startswith("refused ") for s in sender.lines)
    print(f"kill -9 store process: {total} accepted, {refused} refused and resent, 0 lost")
