"""Three ``ai-connect bridge`` node processes on one PostgreSQL database (issue 14)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Agents, accepted, shown
from tests.e2e.test_durability import assert_shown_once, link_events, receipts_of
from tests.pg import PgServer
from tests.support.process import BridgeProcess


def test_a_node_killed_mid_stream_loses_nothing_across_nodes(
    pg_url: str, agents: Agents, tmp_path: Path
) -> None:
    """Sender on node A, receiver on node C, node B beside them: kill -9 of A mid-stream of
    1,500, then A again: every accepted message shown once, in order, live across nodes."""
    total = 1500
    folders = [tmp_path / n for n in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir()
    nodes = [BridgeProcess(folder, db=pg_url) for folder in folders]
    try:
        a, _b, c = (node.__enter__() for node in nodes)
        out = tmp_path / "bob.jsonl"
        receiver = agents.receive(c.url, "bob", out, "--expect", str(total))
        sender = agents.send(a.url, "alice", receiver.address, total, "--window", "64")
        sender.expect(
            lambda _: sum(s.startswith("accepted ") for s in sender.lines) >= 300, "300 receipts"
        )
        a.kill9()
        a.restart()
        sender.finish(timeout=60)
        receiver.finish(timeout=60)
    finally:
        for node in nodes:
            node.stop()
    assert link_events(sender.lines) == ["welcome", "down", "welcome"]
    assert link_events(receiver.lines) == ["welcome"], "the receiver's node never went down"
    ids = set(receipts_of(sender.lines, total).values())
    messages = shown(out)
    assert_shown_once(messages, ids, "alice (proj)")
    assert [m["seq"] for m in messages] == list(range(1, total + 1))
    resent = sum(r["dup"] for r in accepted(sender.lines))
    print(f"3 nodes, kill -9 of the sender's: {total} accepted, {resent} on a resend, 0 lost")


def test_clients_of_a_killed_node_fail_over_and_lose_nothing(
    pg_url: str, agents: Agents, tmp_path: Path
) -> None:
    """Sender and receiver both on node A, each also given node B's URL: kill -9 of A
    mid-stream of 1,500, A stays dead: both move to B; every accepted message is shown
    once, in order."""
    total = 1500
    folders = [tmp_path / n for n in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir()
    nodes = [BridgeProcess(folder, db=pg_url) for folder in folders]
    try:
        a, b, _c = (node.__enter__() for node in nodes)
        urls = f"{a.url},{b.url}"
        out = tmp_path / "bob.jsonl"
        receiver = agents.receive(urls, "bob", out, "--expect", str(total))
        sender = agents.send(urls, "alice", receiver.address, total, "--window", "64")
        sender.expect(
            lambda _: sum(s.startswith("accepted ") for s in sender.lines) >= 300, "300 receipts"
        )
        a.kill9()
        sender.finish(timeout=60)
        receiver.finish(timeout=60)
    finally:
        for node in nodes:
            node.stop()
    assert link_events(sender.lines) == ["welcome", "down", "welcome"]
    assert link_events(receiver.lines) == ["welcome", "down", "welcome"]
    ids = set(receipts_of(sender.lines, total).values())
    messages = shown(out)
    assert_shown_once(messages, ids, "alice (proj)")
    assert [m["seq"] for m in messages] == list(range(1, total + 1))
    print(f"3 nodes, clients of a killed node moved on: {total} accepted, 0 lost, 0 twice")


def test_a_database_restart_mid_stream_refuses_then_resumes(
    own_pg_server: PgServer, agents: Agents, tmp_path: Path
) -> None:
    """Two nodes; PostgreSQL stops mid-stream of 600 (sender on A, receiver on B) and
    starts again: sends in between are refused (never accepted), the links stay up, the
    sender resends them (same cid), and every message is shown once, in order."""
    total = 600
    url = own_pg_server.new_database()
    folders = [tmp_path / n for n in ("a", "b")]
    for folder in folders:
        folder.mkdir()
    nodes = [BridgeProcess(folder, db=url) for folder in folders]
    try:
        a, b = (node.__enter__() for node in nodes)
        out = tmp_path / "bob.jsonl"
        receiver = agents.receive(b.url, "bob", out, "--expect", str(total))
        sender = agents.send(a.url, "alice", receiver.address, total, "--window", "1")
        sender.expect(
            lambda _: sum(s.startswith("accepted ") for s in sender.lines) >= 150, "150 receipts"
        )
        own_pg_server.stop()
        sender.expect(lambda s: s.startswith("refused "), "a refused send")
        own_pg_server.start()
        sender.finish(timeout=60)
        receiver.finish(timeout=60)
    finally:
        for node in nodes:
            node.stop()
    assert link_events(sender.lines) == ["welcome"] and link_events(receiver.lines) == ["welcome"]
    refused = [s for s in sender.lines if s.startswith("refused ")]
    assert refused and "PostgreSQL" in refused[0]
    ids = set(receipts_of(sender.lines, total).values())
    messages = shown(out)
    assert_shown_once(messages, ids, "alice (proj)")
    assert [m["seq"] for m in messages] == list(range(1, total + 1))
    print(f"database restart mid-stream: {len(refused)} refusals, {total} accepted, 0 lost")


def test_the_sessions_of_a_killed_node_go_offline_on_the_others(
    pg_url: str, agents: Agents, tmp_path: Path
) -> None:
    """bob on node A shows online on node B (a watcher there hears him join); kill -9 of A:
    B's watcher hears him leave once A's heartbeat is older than the presence timeout."""
    folders = [tmp_path / n for n in ("a", "b")]
    for folder in folders:
        folder.mkdir()
    nodes = [BridgeProcess(f, "--presence-timeout", "2", db=pg_url) for f in folders]
    try:
        a, b = (node.__enter__() for node in nodes)
        watcher = agents.start("watch", b.url, "watcher", "--heartbeat", "0.5")
        watcher.expect_word("welcome")
        agents.receive(a.url, "bob", tmp_path / "bob.jsonl", "--heartbeat", "0.5")
        watcher.expect(lambda s: s == "join bob (proj)", "bob to join, seen from node B")
        a.kill9()
        watcher.expect(lambda s: s == "leave bob (proj)", "bob to leave once A is silent")
    finally:
        for node in nodes:
            node.stop()
