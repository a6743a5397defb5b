"""Work status through a bridge restart (SQLite on disk, a real port): kept, and shown."""

from __future__ import annotations

from pathlib import Path

from ai_connect.client import BridgeClient
from ai_connect.protocol import WorkFields
from ai_connect.text import terminal
from tests.client.support import run
from tests.support.bridge import RestartableBridge


def test_a_status_survives_a_bridge_restart(tmp_path: Path) -> None:
    """alice publishes, the bridge restarts from its database: bob's peers shows the
    status as it was (offline: 'was …'); alice's next status replaces it."""

    async def scenario() -> None:
        bridge = RestartableBridge(db=tmp_path / "bridge.db")
        await bridge.start()
        status = WorkFields(
            repo="github.com/org/app", branch="main", head="3f2a1bc", files=["src/app.py"]
        )
        async with BridgeClient(bridge.url, "alice", "app", request_timeout=5) as alice:
            await alice.publish_work(status)
            await alice.status()  # a round trip: the work frame was handled before it
        await bridge.restart()
        async with BridgeClient(bridge.url, "bob", "app", request_timeout=5) as bob:
            peers = {p.address: p for p in await bob.peers()}
            work = peers["alice (app)"].work
            assert work is not None and work.fields() == status
            line = terminal.peers_text(peers.values(), work.ts, "bob (app)").splitlines()[1]
            assert line.startswith("offline  alice (app) · last seen ")
            assert "· was working · github.com/org/app main@3f2a1bc · edited src/app.py" in line
            async with BridgeClient(bridge.url, "alice", "app", request_timeout=5) as alice:
                await alice.publish_work(status.model_copy(update={"activity": "idle"}))
                await alice.status()
                again = {p.address: p.work for p in await bob.peers()}["alice (app)"]
                assert again is not None and again.activity == "idle"
        await bridge.stop()

    run(scenario())
