"""Leases through the client against a real bridge on SQLite: a restart keeps them."""

from __future__ import annotations

from pathlib import Path

from tests.client.support import make_client, run
from tests.support.bridge import RestartableBridge

REPO = "github.com/org/app"


def test_leases_survive_a_bridge_restart(tmp_path: Path) -> None:
    """Granted, the bridge restarts on its SQLite file: the lease is still there and
    still refuses an overlapping claim; its holder reconnects and releases it."""

    async def scenario() -> None:
        async with (
            RestartableBridge(db=tmp_path / "b.db", listen=False) as live,
            make_client(live, "alice", kind="mcp") as alice,
        ):
            granted = await alice.claim(REPO, ["src/**"], ttl=600, reason="moving")
            assert [x.path for x in granted.leases] == ["src/**"]
            await live.restart()
            await alice.wait_connected(5)
            async with make_client(live, "bob", kind="mcp") as bob:
                (lease,) = (await bob.claims(REPO)).leases
                assert (lease.holder, lease.reason) == ("alice (proj)", "moving")
                refused = await bob.claim(REPO, ["src/app.py"])
                assert refused.leases == [] and refused.conflicts[0].lease.id == lease.id
                released = await alice.release(REPO)
                assert [x.id for x in released.leases] == [lease.id]
                assert (await bob.claim(REPO, ["src/app.py"])).conflicts == []

    run(scenario())
