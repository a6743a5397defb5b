"""The router's lease desk: claims, conflicts, notices, releases, checks, expiry (§10)."""

from __future__ import annotations

from ai_connect.bridge.events import LeasesStored
from ai_connect.bridge.leases import LEASE_SENDER
from ai_connect.bridge.store.base import LeaseRecord
from ai_connect.protocol import Error, LeaseReport
from tests.bridge.helpers import START, Bridge, delivers, one, pair

REPO = "github.com/org/app"


def claim(bridge: Bridge, conn: int, *paths: str, rid: str = "c", **fields: object) -> LeaseReport:
    """Claims and settles; the one lease_report the claimer got."""
    out = bridge.frame(conn, type="claim", rid=rid, repo=REPO, paths=list(paths), **fields)
    out += bridge.settle()
    return one(LeaseReport, out, conn)


def test_a_claim_is_granted_after_its_commit() -> None:
    """A free path is leased; the answer comes only once the lease is stored."""
    bridge = pair()
    out = bridge.frame(1, type="claim", rid="c", repo=REPO, paths=["src/app.py"], reason="fix")
    assert not [a for a in out if getattr(a, "conn", None) == 1]
    report = one(LeaseReport, bridge.settle(), 1)
    (lease,) = report.leases
    assert (lease.path, lease.holder, lease.reason) == ("src/app.py", "Alice (proj)", "fix")
    assert lease.expires == START + 30 * 60
    assert [x.path for x in bridge.store.leases()] == ["src/app.py"]


def test_an_overlapping_claim_gets_who_why_until_and_the_holder_is_told() -> None:
    """Bob's claim of a glob over Alice's file fails whole; Alice gets one notice."""
    bridge = pair()
    claim(bridge, 1, "src/app.py", reason="refactoring", ttl=600)
    out = bridge.frame(2, type="claim", rid="b", repo=REPO, paths=["src/*.py", "docs/x.md"])
    report = one(LeaseReport, out, 2)
    assert report.leases == []
    (conflict,) = report.conflicts
    assert conflict.path == "src/*.py"
    assert (conflict.lease.holder, conflict.lease.reason) == ("Alice (proj)", "refactoring")
    assert conflict.lease.expires == START + 600
    notices = delivers(bridge.settle(), 1)
    assert [d.from_ for d in notices] == [LEASE_SENDER]
    assert "Bob (proj)" in notices[0].body and "src/app.py" in notices[0].body
    # Asking again tells Alice nothing new; docs/x.md was not granted either.
    bridge.frame(2, type="claim", rid="b2", repo=REPO, paths=["src/*.py"])
    assert delivers(bridge.settle(), 1) == []
    assert [x.path for x in bridge.store.leases()] == ["src/app.py"]


def test_repositories_are_separate_namespaces() -> None:
    """The same path in another repository is no conflict."""
    bridge = pair()
    claim(bridge, 1, "src/app.py")
    out = bridge.frame(2, type="claim", rid="b", repo="github.com/org/other", paths=["src/app.py"])
    report = one(LeaseReport, out + bridge.settle(), 2)
    assert report.conflicts == [] and len(report.leases) == 1


def test_claiming_again_renews_and_release_gives_back() -> None:
    """A holder's second claim renews its lease; release frees it for others."""
    bridge = pair()
    first = claim(bridge, 1, "src/app.py", ttl=600).leases[0]
    bridge.now += 100
    again = claim(bridge, 1, "src/app.py", rid="c2", ttl=600).leases[0]
    assert again.id == first.id and again.expires == bridge.now + 600
    out = bridge.frame(1, type="release", rid="r", repo=REPO)
    released = one(LeaseReport, out + bridge.settle(), 1)
    assert [x.path for x in released.leases] == ["src/app.py"]
    assert bridge.store.leases() == []
    assert claim(bridge, 2, "src/app.py", rid="b").conflicts == []


def test_a_check_reports_others_and_renews_ones_own() -> None:
    """lease_check names the other holder; the holder's own check renews its lease."""
    bridge = pair()
    claim(bridge, 1, "src/**", ttl=600, reason="moving files")
    out = bridge.frame(2, type="lease_check", rid="k", repo=REPO, paths=["src/a/b.py", "README"])
    report = one(LeaseReport, out, 2)
    assert [(c.path, c.lease.path) for c in report.conflicts] == [("src/a/b.py", "src/**")]
    bridge.now += 300
    out = bridge.frame(1, type="lease_check", rid="k1", repo=REPO, paths=["src/x.py"])
    mine = one(LeaseReport, out, 1)
    assert mine.conflicts == [] and mine.renewed[0].expires == bridge.now + 600
    bridge.settle()
    assert bridge.store.leases()[0].expires == bridge.now + 600


def test_leases_expire_at_their_ttl() -> None:
    """At its expiry a lease is dropped from the answers and from the store."""
    bridge = pair()
    claim(bridge, 1, "src/app.py", ttl=20)
    bridge.tick(START + 21)
    bridge.settle()
    assert bridge.store.leases() == []
    out = bridge.frame(2, type="claims", rid="l", repo=REPO)
    assert one(LeaseReport, out, 2).leases == []


def test_a_holder_gone_longer_than_the_presence_timeout_loses_its_leases() -> None:
    """Offline past the presence timeout: the lease goes; briefly offline: it stays."""
    bridge = pair()
    claim(bridge, 1, "src/app.py", ttl=3600)
    bridge.disconnect(1)
    bridge.tick(START + 30)
    bridge.settle()
    assert len(bridge.store.leases()) == 1
    bridge.tick(START + 61)
    bridge.settle()
    assert bridge.store.leases() == []


def test_leases_survive_a_restart() -> None:
    """After a crash the stored leases are back, and the offline holder gets its grace."""
    bridge = pair()
    claim(bridge, 1, "src/app.py", ttl=3600, reason="keep")
    bridge.now += 500  # longer than the presence timeout since Alice was last seen
    bridge.restart()
    bridge.tick()
    bridge.settle()
    bridge.join(3, "Carol")
    out = bridge.frame(3, type="claims", rid="l", repo=REPO)
    (lease,) = one(LeaseReport, out, 3).leases
    assert (lease.holder, lease.reason, lease.online) == ("Alice (proj)", "keep", False)


def test_a_failed_commit_grants_nothing() -> None:
    """A claim rolled back by the store leaves no lease behind and says so."""
    bridge = pair()
    bridge.frame(1, type="claim", rid="c", repo=REPO, paths=["src/app.py"])
    out = bridge.fail_commit()
    assert one(Error, out, 1).code == "internal"
    out = bridge.frame(2, type="claims", rid="l", repo=REPO)
    assert one(LeaseReport, out, 2).leases == []


def test_bad_paths_are_refused_with_what_to_do() -> None:
    """An absolute path or a .. gets a bad_frame error naming the rule."""
    bridge = pair()
    out = bridge.frame(1, type="claim", rid="c", repo=REPO, paths=["/etc/passwd"])
    error = one(Error, out, 1)
    assert error.code == "bad_frame" and "relative to the repository root" in error.message


def test_query_connections_may_list_but_not_claim() -> None:
    """A query connection reads claims; claiming needs a peer."""
    bridge = pair()
    bridge.hello(3, "Ops", mode="query")
    bridge.settle()
    assert one(LeaseReport, bridge.frame(3, type="claims", rid="l"), 3).leases == []
    out = bridge.frame(3, type="claim", rid="c", repo=REPO, paths=["a"])
    assert one(Error, out, 3).code == "forbidden"
    claim(bridge, 1, "a", ttl=600)
    out = bridge.frame(3, type="lease_check", rid="k", repo=REPO, paths=["a"])
    assert [c.lease.holder for c in one(LeaseReport, out, 3).conflicts] == ["Alice (proj)"]
    assert not [p for p in bridge.batch if isinstance(p.op, LeaseRecord)]  # renews nothing


def test_a_command_line_claim_lasts_its_ttl_without_a_session() -> None:
    """A person's claim (client kind cli) outlives its short connection, until its TTL."""
    bridge = pair()
    bridge.join(3, "Dana", client={"kind": "cli"})
    claim(bridge, 3, "docs/**", ttl=3600)
    bridge.disconnect(3)
    bridge.tick(START + 50)
    bridge.join(4, "Eve")  # someone to look, with a fresh connection
    bridge.tick(START + 500)
    bridge.settle()
    assert [(x.holder, x.bound) for x in bridge.store.leases()] == [("Dana (proj)", False)]
    bridge.tick(START + 3601)
    bridge.settle()
    assert bridge.store.leases() == []


def test_a_forgotten_holder_loses_its_leases_and_an_unknown_one_keeps_them() -> None:
    """Forgetting an address drops its leases; a holder not known on this node (another
    node's, not read yet) keeps its lease."""
    bridge = pair()
    claim(bridge, 1, "src/app.py", ttl=3600)
    bridge.frame(1, type="forget", rid="f")
    bridge.settle()
    bridge.settle()
    assert bridge.store.leases() == []
    elsewhere = LeaseRecord("x1", REPO, "docs/**", "Zed (far)", "", START, START + 3600, 3600)
    bridge.handle(LeasesStored((elsewhere,), START))
    bridge.tick(START + 30)
    out = bridge.frame(2, type="claims", rid="l", repo=REPO)
    assert [x.holder for x in one(LeaseReport, out, 2).leases] == ["Zed (far)"]
    bridge.handle(LeasesStored((), START))
    out = bridge.frame(2, type="claims", rid="l2", repo=REPO)
    assert one(LeaseReport, out, 2).leases == []
