"""Three bridge nodes on one PostgreSQL database (issue 14, item 3): mail sent through one
node reaches peers held by the others, live (LISTEN/NOTIFY wakes them, nothing polls);
broadcasts reach every node's peers; a peer that moves to another node finds its mailbox
there and resumes where it was."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterable
from typing import Any

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.client import BridgeClient, LinkState
from ai_connect.errors import StoreError
from ai_connect.protocol import (
    CLOSE_AUTH,
    CLOSE_FORGOTTEN_BY_OPERATOR,
    CLOSE_SESSION_MOVED,
    Presence,
)
from tests.client.support import listen, run, take
from tests.client.support import make_client as client_of
from tests.support.bridge import bridge

WAIT_S = 20.0
"""Upper bound of one wait: a loaded machine runs 3 nodes and PostgreSQL on 2 cores."""


def make_client(target: BridgeServer, name: str, **options: Any) -> BridgeClient:
    """A client of one node, waiting up to ``WAIT_S`` for each reply."""
    return client_of(target, name, request_timeout=WAIT_S, **options)


@contextlib.asynccontextmanager
async def nodes(url: str, count: int = 3) -> AsyncIterator[list[BridgeServer]]:
    """``count`` bridges (listen=False), each with its own store on the database ``url``."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(bridge(PostgresStore(url), listen=False))
            for _ in range(count)
        ]


async def registered(clients: Iterable[BridgeClient], inboxes: dict[BridgeClient, Any]) -> None:
    """Each client is registered and its record committed: a note to itself came back."""
    for c in clients:
        assert c.address is not None
        await c.send(c.address, "here")
        await take(inboxes[c], 1, WAIT_S)


def test_a_message_crosses_nodes_live_both_ways(pg_url: str) -> None:
    """alice on node A and bob on node C: each one's send reaches the other at once."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, _b, c):
            alice, bob = make_client(a, "alice"), make_client(c, "bob")
            async with alice, bob:
                assert alice.address is not None and bob.address is not None
                to_bob, to_alice = listen(bob), listen(alice)
                for i in range(5):
                    await alice.send(bob.address, f"hello {i}")
                got = await take(to_bob, 5, WAIT_S)
                assert [m.body for m in got] == [f"hello {i}" for i in range(5)]
                assert [m.seq for m in got] == [1, 2, 3, 4, 5]
                await bob.send(alice.address, "hi back")
                assert [m.body for m in await take(to_alice, 1, WAIT_S)] == ["hi back"]

    run(scenario(), timeout=100)


def test_a_broadcast_reaches_the_peers_of_every_node(pg_url: str) -> None:
    """A broadcast sent through node A reaches peers held by A, B and C, once each."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, b, c):
            sender = make_client(a, "sender")
            readers = [make_client(n, f"r{i}") for i, n in enumerate((a, b, c))]
            async with sender, readers[0], readers[1], readers[2]:
                inboxes = [listen(r) for r in readers]
                for reader in readers:  # registered, and its record committed (durable)
                    assert reader.address is not None
                    await reader.send(reader.address, "note to self")
                for inbox in inboxes:
                    assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["note to self"]
                await sender.send("*", "to everyone")
                for inbox in inboxes:
                    assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["to everyone"]
                assert all(inbox.empty() for inbox in inboxes)

    run(scenario(), timeout=100)


def test_a_peer_moving_to_another_node_resumes_its_mailbox(pg_url: str) -> None:
    """bob's session leaves node B; mail sent to him through A meanwhile is waiting for
    him when the session comes back on C, after the last message he acked, nothing twice."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, b, c):
            alice = make_client(a, "alice")
            async with alice:
                bob = make_client(b, "bob", session="bob-s")
                async with bob:
                    inbox = listen(bob)
                    assert bob.address is not None
                    address = bob.address
                    await alice.send(address, "first")
                    (first,) = await take(inbox, 1, WAIT_S)
                    await bob.ack([first])
                for i in range(3):
                    await alice.send(address, f"while away {i}")
                again = make_client(c, "bob", session="bob-s")  # the same agent
                async with again:
                    assert again.address == address
                    inbox = listen(again)
                    got = await take(inbox, 3, WAIT_S)
                    assert [m.body for m in got] == [f"while away {i}" for i in range(3)]
                    assert [m.seq for m in got] == [2, 3, 4]

    run(scenario(), timeout=100)


def test_presence_and_names_are_cluster_wide(pg_url: str) -> None:
    """bob on node A: a watcher on node C hears him join and shows him online; another
    session named bob on C gets bob#2; the same session moving to C keeps its address;
    bob leaving A is heard on C."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, _b, c):
            watcher = make_client(c, "watcher", presence=True)
            events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
            watcher.add_listener(
                lambda item: (
                    events.put_nowait((item.event, item.peer.address))
                    if isinstance(item, Presence)
                    else None
                )
            )
            async with watcher:
                bob = make_client(a, "bob", session="bob-1")
                async with bob:
                    assert bob.address == "bob (proj)"
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("join", "bob (proj)")
                    listed = {p.address: p.online for p in await watcher.peers()}
                    assert listed["bob (proj)"] is True
                    other = make_client(c, "bob", session="bob-2")
                    async with other:
                        assert other.address == "bob#2 (proj)"
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("join", "bob#2 (proj)")
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("leave", "bob#2 (proj)")
                assert await asyncio.wait_for(events.get(), WAIT_S) == ("leave", "bob (proj)")
                again = make_client(c, "bob", session="bob-1")
                async with again:
                    assert again.address == "bob (proj)"

    run(scenario(), timeout=100)


def presence_events(client: BridgeClient) -> asyncio.Queue[tuple[str, str]]:
    """(event, address) of each presence frame the client gets."""
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_item(item: object) -> None:
        if isinstance(item, Presence):
            events.put_nowait((item.event, item.peer.address))

    client.add_listener(on_item)
    return events


async def until(events: asyncio.Queue[tuple[str, str]], wanted: tuple[str, str]) -> None:
    """Takes presence events until ``wanted`` (10 s at most for each)."""
    while await asyncio.wait_for(events.get(), WAIT_S) != wanted:
        pass


def test_admin_status_shows_every_node(pg_url: str) -> None:
    """admin_status on node A lists both nodes with their sessions, A marked as itself,
    and the peers held by node B as online."""
    token, record = new_token("ops", names=["*"], admin=True, now=time.time())

    async def scenario() -> None:
        async with (
            bridge(PostgresStore(pg_url), listen=False, tokens=[record]) as a,
            bridge(PostgresStore(pg_url), listen=False) as b,
        ):
            watch = make_client(b, "w", token=token, presence=True)
            ops = make_client(a, "ops", token=token, presence=True)
            async with watch, ops:
                at_b, at_a = presence_events(watch), presence_events(ops)
                await until(at_b, ("join", "ops (proj)"))  # node B knows ops is held on A
                async with make_client(b, "ops", token=token, session="other") as other:
                    assert other.address == "ops#2 (proj)"
                    await until(at_a, ("join", "ops#2 (proj)"))
                    report = await ops.admin_status()
                    nodes = sorted((n.this, n.sessions, n.alive) for n in report.nodes)
                    assert nodes == [(False, 2, True), (True, 1, True)], report.nodes
                    online = {p.address for p in report.peers if p.online}
                    assert online == {"ops (proj)", "ops#2 (proj)", "w (proj)"}

    run(scenario(), timeout=100)


def test_a_work_status_published_on_one_node_shows_on_another(pg_url: str) -> None:
    """alice publishes through node A; an observer of node C gets it as a work event and
    bob on node C sees it in peers (issue 15: the status is cluster-wide)."""

    async def scenario() -> None:
        from ai_connect.protocol import FeedEvent, WorkFields

        async with nodes(pg_url) as (a, _b, c):
            alice, bob = make_client(a, "alice"), make_client(c, "bob")
            ops = make_client(c, "ops", mode="observe")
            async with alice, bob, ops:
                assert alice.address is not None
                feed = ops.observe()
                await alice.publish_work(WorkFields(repo="github.com/org/app", branch="main"))
                async with asyncio.timeout(WAIT_S):
                    async for item in feed:
                        if isinstance(item, FeedEvent) and item.kind == "work":
                            assert item.peer is not None and item.peer.address == alice.address
                            break
                work = {p.address: p.work for p in await bob.peers()}[alice.address]
                assert work is not None and work.branch == "main"

    run(scenario(), timeout=100)


def test_a_session_registering_on_another_node_closes_its_old_connection(pg_url: str) -> None:
    """bob's session, still linked to node A, says hello on node B (a failover that A has
    not noticed): B holds bob now; A closes the old link with CLOSE_SESSION_MOVED, and
    that client gives up instead of reconnecting to take the address back. Nobody hears
    bob leave; mail to bob reaches the new link."""

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            watcher, alice = make_client(a, "watcher", presence=True), make_client(a, "alice")
            async with watcher, alice:
                seen = presence_events(watcher)
                old = make_client(a, "bob", session="bob-s")
                async with old:
                    await until(seen, ("join", "bob (proj)"))
                    new = make_client(b, "bob", session="bob-s")
                    async with new:
                        assert new.address == "bob (proj)"
                        await old.wait_state(LinkState.CLOSED, WAIT_S)
                        assert old.close_code == CLOSE_SESSION_MOVED
                        assert "another node" in (old.last_error or "")
                        inbox = listen(new)
                        await alice.send("bob (proj)", "after the move")
                        assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["after the move"]
                        assert new.connected and old.state is LinkState.CLOSED
                        async with make_client(b, "marker"):
                            heard = await _until(seen, ("join", "marker (proj)"))
                        assert ("leave", "bob (proj)") not in heard

    run(scenario(), timeout=100)


async def _until(
    events: asyncio.Queue[tuple[str, str]], wanted: tuple[str, str]
) -> list[tuple[str, str]]:
    """The presence events up to ``wanted``."""
    heard: list[tuple[str, str]] = []
    try:
        heard.append(await asyncio.wait_for(events.get(), WAIT_S))
        while heard[-1] != wanted:
            heard.append(await asyncio.wait_for(events.get(), WAIT_S))
    except TimeoutError:
        raise AssertionError(f"{wanted} not heard; heard {heard}") from None
    return heard


def test_a_token_revoked_anywhere_closes_its_links_on_every_node_at_once(pg_url: str) -> None:
    """bob's token is revoked in the database (ai-connect token revoke --db, or any node):
    bob's link on node B closes with CLOSE_AUTH at once (the revocation notifies every
    node), long before the periodic re-read of the tokens (60 s here)."""
    now = time.time()
    bob_token, bob_record = new_token("bob", names=["bob"], admin=False, now=now)
    ops_token, ops_record = new_token("ops", names=["*"], admin=True, now=now)

    async def scenario() -> None:
        slow: dict[str, Any] = {"auth_reload_s": 60.0, "listen": False}
        async with (
            bridge(PostgresStore(pg_url), tokens=[bob_record, ops_record], **slow) as a,
            bridge(PostgresStore(pg_url), **slow) as b,
        ):
            bob = make_client(b, "bob", token=bob_token)
            ops = make_client(a, "ops", token=ops_token)
            async with bob, ops:
                await asyncio.to_thread(revoke, pg_url, bob_record.id, now)
                await bob.wait_state(LinkState.CLOSED, WAIT_S)
                assert bob.close_code == CLOSE_AUTH
                assert ops.connected  # other tokens' links stay

    run(scenario(), timeout=100)


def revoke(url: str, token_id: str, when: float) -> None:
    """``ai-connect token revoke --db URL``: through a store of its own."""
    with PostgresStore(url) as store:
        assert store.revoke_token(token_id, when)


def test_an_operator_forgetting_a_peer_on_one_node_closes_it_on_another(pg_url: str) -> None:
    """admin forget bob through node A while bob is linked to node B: B closes bob's link
    with CLOSE_FORGOTTEN_BY_OPERATOR (the client does not come back) and forgets him: B's
    peers no longer list him."""

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            ops, carol = make_client(a, "ops"), make_client(b, "carol")
            async with ops, carol:
                bob = make_client(b, "bob", session="bob-s")
                async with bob:
                    assert bob.address is not None
                    await bob.send(bob.address, "stored")  # his record is committed
                    await ops.admin_forget("bob (proj)")
                    await bob.wait_state(LinkState.CLOSED, WAIT_S)
                    assert bob.close_code == CLOSE_FORGOTTEN_BY_OPERATOR
                    assert "forgotten" in (bob.last_error or "")
                listed = {p.address for p in await carol.peers()}
                assert "bob (proj)" not in listed and "carol (proj)" in listed


def test_a_lease_claimed_on_one_node_holds_on_another(pg_url: str) -> None:
    """alice claims through node A; bob, on node B, is refused with alice's lease until
    she releases it. (Node B reads the leases after A's commit, before the mail that
    alice sends afterwards: once bob has her message, B knows her lease.)"""
    repo = "github.com/org/app"

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            alice = make_client(a, "alice", kind="mcp")
            bob = make_client(b, "bob", kind="mcp")
            async with alice, bob:
                assert bob.address is not None
                inbox = listen(bob)
                await alice.claim(repo, ["src/app.py"], ttl=600, reason="rename")
                await alice.send(bob.address, "claimed src/app.py")
                await take(inbox, 1, WAIT_S)
                refused = await bob.claim(repo, ["src/*.py"])
                (conflict,) = refused.conflicts
                assert (conflict.lease.holder, conflict.lease.reason) == ("alice (proj)", "rename")
                assert refused.leases == []
                await alice.release(repo)
                await alice.send(bob.address, "released it")
                await take(inbox, 1, WAIT_S)
                assert (await bob.claim(repo, ["src/*.py"])).conflicts == []

    run(scenario(), timeout=100)


def test_a_proposal_made_on_one_node_is_voted_on_another(pg_url: str) -> None:
    """alice proposes on node A to bob and carol on node B: they get it live, their votes
    through B count, and the verdict reaches all three, on both nodes, once each."""

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            alice = make_client(a, "alice")
            bob, carol = make_client(b, "bob"), make_client(b, "carol")
            async with alice, bob, carol:
                inboxes = {c: listen(c) for c in (alice, bob, carol)}
                await registered((bob, carol), inboxes)
                p = await alice.propose("ship it?", ["bob", "carol"])
                for c in (bob, carol):
                    (asked,) = await take(inboxes[c], 1, WAIT_S)
                    assert asked.thread == p["id"]
                await bob.vote(p["id"], "approve")
                await carol.vote(p["id"], "approve")
                for c in (alice, bob, carol):
                    (verdict,) = await take(inboxes[c], 1, WAIT_S)
                    assert verdict.thread == p["id"] and "approved" in verdict.body.lower()
                decided = await alice.proposal_status(p["id"])  # A's book has B's votes
                assert decided["status"] == "decided"
                voters = sorted(b["voter"] for b in decided["ballots"])
                assert voters == ["bob (proj)", "carol (proj)"]
                assert all(inbox.empty() for inbox in inboxes.values())

    run(scenario(), timeout=100)


class CountingStore(PostgresStore):
    """Counts the whole-table re-reads a woken node makes. ``session_reads`` leaves out the
    read each heartbeat of this node makes after it (every few seconds, whatever comes)."""

    lease_reads = 0
    peer_reads = 0
    session_reads = 0
    _beaten = False

    def beat(self, *args: Any, **kwargs: Any) -> None:
        super().beat(*args, **kwargs)
        self._beaten = True

    def leases(self) -> list[Any]:
        self.lease_reads += 1
        return super().leases()

    def peers(self) -> list[Any]:
        self.peer_reads += 1
        return super().peers()

    def elsewhere(self, timeout_s: float) -> dict[str, tuple[str | None, float]]:
        if self._beaten:
            self._beaten = False  # the heartbeat's own read (bridge/server.py _beat_loop)
        else:
            self.session_reads += 1
        return super().elsewhere(timeout_s)

    mailbox_reads = 0

    def pending(self, recipient: str, after_seq: int, limit: int, max_bytes: int) -> list[Any]:
        self.mailbox_reads += 1
        return super().pending(recipient, after_seq, limit, max_bytes)


def test_a_plain_message_across_nodes_does_not_reread_the_leases(pg_url: str) -> None:
    """Mail from A wakes B, which reads the peers but not the leases (only a commit that
    claimed or released one makes it read them): one round trip less per message."""

    async def scenario() -> None:
        counting = CountingStore(pg_url)
        async with (
            bridge(PostgresStore(pg_url), listen=False) as a,
            bridge(counting, listen=False) as b,
        ):
            alice, bob = make_client(a, "alice"), make_client(b, "bob")
            async with alice, bob:
                assert bob.address is not None
                inbox = listen(bob)
                await alice.send(bob.address, "warm up")
                await take(inbox, 1, WAIT_S)
                before = counting.lease_reads
                for i in range(5):
                    await alice.send(bob.address, f"m{i}")
                await take(inbox, 5, WAIT_S)
                assert counting.lease_reads == before

    run(scenario(), timeout=100)


def test_mail_across_nodes_comes_in_the_notice_and_is_read_only_when_too_large(
    pg_url: str,
) -> None:
    """Mail from A wakes B with its recipients' new tips and the new mailbox entries in
    the notice: B delivers them, in order, without reading bob's mailbox, the peers or the
    other nodes' sessions; a message too large for a notice (NOTIFY takes 8000 bytes) is
    read from the store, and the order holds across both kinds."""

    async def scenario() -> None:
        counting = CountingStore(pg_url)
        async with (
            bridge(PostgresStore(pg_url), listen=False) as a,
            bridge(counting, listen=False, presence_timeout_s=600) as b,
        ):
            alice, bob = make_client(a, "alice"), make_client(b, "bob")
            async with alice, bob:
                assert bob.address is not None
                inbox = listen(bob)
                await alice.send(bob.address, "warm up")
                await take(inbox, 1, WAIT_S)
                reads = counting.mailbox_reads, counting.peer_reads, counting.session_reads
                for i in range(5):
                    await alice.send(bob.address, f"m{i}")
                got = await take(inbox, 5, WAIT_S)
                assert [m.body for m in got] == [f"m{i}" for i in range(5)]
                assert (
                    counting.mailbox_reads,
                    counting.peer_reads,
                    counting.session_reads,
                ) == reads
                bodies = ["before", "large " + "x" * 9000, "after"]
                for text in bodies:
                    await alice.send(bob.address, text)
                got = await take(inbox, 3, WAIT_S)
                assert [m.body for m in got] == bodies
                assert [m.seq for m in got] == [7, 8, 9]
                assert counting.mailbox_reads > reads[0]  # the large one was read

    run(scenario(), timeout=100)


def test_votes_cast_at_once_through_two_nodes_all_count(pg_url: str) -> None:
    """Nothing lost, not a vote: three participants on node A and three on node B vote on
    four unanimous proposals at the same moment (24 votes, many committed by both nodes
    within one commit's time). Every ballot is stored, each proposal gets its right
    verdict (all approve: approved; one reject: no consensus), once, to everyone, and
    both nodes show all six ballots."""

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            alice = make_client(a, "alice")
            voters = [make_client(a, f"va{i}") for i in range(3)]
            voters += [make_client(b, f"vb{i}") for i in range(3)]
            async with contextlib.AsyncExitStack() as stack:
                for c in (alice, *voters):
                    await stack.enter_async_context(c)
                inboxes = {c: listen(c) for c in (alice, *voters)}
                await registered(voters, inboxes)
                names = [str(c.address) for c in voters]
                props = [await alice.propose(f"q{i}?", names, rule="unanimous") for i in range(4)]
                for c in voters:
                    await take(inboxes[c], len(props), WAIT_S)  # the four questions
                rejecter = voters[4]  # on node B, on the last proposal only

                def choice(c: BridgeClient, p: dict[str, Any]) -> Any:
                    return "reject" if c is rejecter and p is props[-1] else "approve"

                await asyncio.gather(
                    *(c.vote(p["id"], choice(c, p)) for p in props for c in voters)
                )
                want = {p["id"]: "approved" for p in props[:-1]}
                want[props[-1]["id"]] = "no_consensus"
                for c in (alice, *voters):
                    verdicts = await take(inboxes[c], len(props), WAIT_S)
                    got = {v.thread: v.body for v in verdicts}
                    assert set(got) == set(want), got
                    for pid, outcome in want.items():
                        assert f": {outcome} [decided]" in got[pid], got[pid]
                for node_client in (alice, voters[3]):  # what node A and node B show
                    for p in props:
                        status = await node_client.proposal_status(p["id"])
                        assert status["status"] == "decided"
                        assert sorted(x["voter"] for x in status["ballots"]) == sorted(names)
                assert all(inbox.empty() for inbox in inboxes.values())

    run(scenario(), timeout=100)


class HoldingStore(PostgresStore):
    """Once ``armed``, holds one call where it calls :meth:`hold` (``entered``), until
    the test sets ``release``; ``after`` is set each time a held or later call of the
    subclass's choosing returns."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed, self.entered = threading.Event(), threading.Event()
        self.release, self.after = threading.Event(), threading.Event()

    def hold(self) -> bool:
        if not self.armed.is_set():
            return False
        self.armed.clear()
        self.entered.set()
        self.release.wait(WAIT_S)
        return True


class HeldProposalsStore(HoldingStore):
    """Holds one proposals read between taking its snapshot and returning it, as a slow
    read would; ``after``: it returned."""

    def proposals(self) -> list[Any]:
        records = super().proposals()
        if self.hold():
            self.after.set()
        return records


Asked = tuple[dict[str, Any], BridgeClient, BridgeClient, dict[BridgeClient, Any]]


@contextlib.asynccontextmanager
async def asked_on_two_nodes(url: str, store_b: PostgresStore) -> AsyncIterator[Asked]:
    """Node A holds alice and va, node B (on ``store_b``) vb: alice's unanimous proposal
    to va and vb, which both got. Yields it, va, vb and the three inboxes."""
    async with (
        bridge(PostgresStore(url), listen=False) as a,
        bridge(store_b, listen=False) as b,
    ):
        alice, va, vb = make_client(a, "alice"), make_client(a, "va"), make_client(b, "vb")
        async with alice, va, vb:
            inboxes = {c: listen(c) for c in (alice, va, vb)}
            await registered((va, vb), inboxes)
            p = await alice.propose("ship it?", ["va", "vb"], rule="unanimous")
            for c in (va, vb):
                await take(inboxes[c], 1, WAIT_S)
            yield p, va, vb, inboxes


def test_a_proposals_read_older_than_this_nodes_commit_does_not_undo_it(pg_url: str) -> None:
    """Node B re-reads the proposals after node A's vote; before that read returns, B
    commits the deciding vote. The read (taken before it) must not put the proposal back
    to open: B's book stays decided, and says so."""

    async def scenario() -> None:
        held = HeldProposalsStore(pg_url)
        async with asked_on_two_nodes(pg_url, held) as (p, va, vb, inboxes):
            held.armed.set()
            await va.vote(p["id"], "approve")  # node B re-reads: that read is held
            assert await asyncio.to_thread(held.entered.wait, WAIT_S)
            await vb.vote(p["id"], "approve")  # B commits the deciding vote
            for inbox in inboxes.values():
                (verdict,) = await take(inbox, 1, WAIT_S)
                assert "approved" in verdict.body.lower()
            held.release.set()
            assert await asyncio.to_thread(held.after.wait, WAIT_S)
            await vb.proposal_status(p["id"])  # a round trip: the read's answer is in
            status = await vb.proposal_status(p["id"])
            assert status["status"] == "decided", status
            assert sorted(x["voter"] for x in status["ballots"]) == ["va (proj)", "vb (proj)"]

    run(scenario(), timeout=100)


class LateCommitStore(HoldingStore):
    """Holds one commit of a proposal after it is stored, before the node hears back;
    ``after``: a proposals read returned since it was stored."""

    def commit(self, batch: Any) -> Any:
        result = super().commit(batch)
        if batch.proposals:
            self.hold()
        return result

    def proposals(self) -> list[Any]:
        records = super().proposals()
        if self.entered.is_set():
            self.after.set()
        return records


def test_a_proposals_read_newer_than_this_nodes_late_commit_is_not_lost(pg_url: str) -> None:
    """Node B stores vb's vote, but hears back late; meanwhile node A stores va's, which
    decides, and B reads the proposal as decided -- a read B sets aside while its own
    vote's answer is due. When that answer comes (B's vote as B wrote it, still open),
    B reads the proposals again: it ends decided, as the database holds it."""

    async def scenario() -> None:
        late = LateCommitStore(pg_url)
        async with asked_on_two_nodes(pg_url, late) as (p, va, vb, _):
            late.armed.set()
            voting = asyncio.create_task(vb.vote(p["id"], "approve"))
            assert await asyncio.to_thread(late.entered.wait, WAIT_S)
            decided = await va.vote(p["id"], "approve")  # A's, on top of B's: decides
            assert decided["status"] == "decided"
            assert await asyncio.to_thread(late.after.wait, WAIT_S)  # B read it so
            late.after.clear()
            late.release.set()
            await voting
            assert await asyncio.to_thread(late.after.wait, WAIT_S)  # and again
            await vb.proposal_status(p["id"])  # a round trip: the read's answer is in
            status = await vb.proposal_status(p["id"])
            assert status["status"] == "decided", status

    run(scenario(), timeout=100)


class FailingPeersStore(PostgresStore):
    """Once armed, its next peers read fails as a connection the database closed does
    (``failed``); each peers read after that is signalled (``again``)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.armed, self.failed, self.again = (threading.Event() for _ in range(3))

    def peers(self) -> list[Any]:
        if self.armed.is_set():
            self.armed.clear()
            self.failed.set()
            raise StoreError("PostgreSQL could not list peers: server closed the connection")
        if self.failed.is_set():
            self.again.set()
        return super().peers()


def test_a_failed_reread_is_made_again_with_nothing_else_to_wake_the_node(pg_url: str) -> None:
    """Node B's re-read of the peers fails (after a reconnect, it stands for the notices
    missed while the database was away: none will come again). B reads them again by
    itself, and the mail it had missed reaches bob."""

    async def scenario() -> None:
        failing = FailingPeersStore(pg_url)
        async with (
            bridge(PostgresStore(pg_url), listen=False) as a,
            bridge(failing, listen=False) as b,
        ):
            alice, bob = make_client(a, "alice"), make_client(b, "bob")
            async with alice, bob:
                inbox = listen(bob)
                await registered((bob,), {bob: inbox})
                assert bob.address is not None
                b._tips.clear()  # as if these notices were lost with the connection:
                b._moved = lambda *_: None  # type: ignore[method-assign]
                await alice.send(bob.address, "missed")
                failing.armed.set()
                b._reread_all()  # what the listener's reconnect does
                assert await asyncio.to_thread(failing.failed.wait, WAIT_S)
                assert await asyncio.to_thread(failing.again.wait, WAIT_S)
                assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["missed"]

    run(scenario(), timeout=100)


def test_failed_rereads_wait_for_one_retry_at_a_time(pg_url: str) -> None:
    """The proposals and the peers failing in one wake (the database away) leave one
    retry due, not one each: an outage of minutes makes a few reads, not a doubling
    swarm of them."""

    async def scenario() -> None:
        async with bridge(PostgresStore(pg_url), listen=False) as node:
            node._reread_later()
            first = node._reread_timer
            node._reread_later()
            assert first is not None and node._reread_timer is first
            assert node._reread_retry_s == 1.0  # the next wait doubles, once
            node._reread_due()
            assert node._reread_timer is None

    run(scenario(), timeout=100)
