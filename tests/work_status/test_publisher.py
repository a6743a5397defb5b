"""The Publisher (the MCP server's side): coalesced, only on change, nothing before a
hook spoke, and a status taken while the bridge is down goes out once it is back."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from ai_connect.errors import NotConnected
from ai_connect.protocol import WorkFields
from ai_connect.repo_identity import RepoIdentity
from ai_connect.work_status.observe import Observation
from ai_connect.work_status.publisher import Publisher
from ai_connect.work_status.settings import StatusSettings
from ai_connect.work_status.tracker import GitState
from tests.client.support import make_client, run
from tests.support.bridge import RestartableBridge

ROOT = Path("/w/app")
REPO = RepoIdentity(ROOT, "github.com/org/app", "app")


def publisher_of(client: object, reads: list[int]) -> Publisher:
    """A publisher whose git answers from a counter (no git needed)."""

    def read(root: Path) -> GitState:
        reads.append(1)
        return GitState("main", "abc1234", len(reads))

    return Publisher(client, StatusSettings(), ROOT, read=read, identify=lambda _: REPO)  # type: ignore[arg-type]


def test_nothing_before_a_hook_spoke_and_a_burst_is_one_round() -> None:
    """waiting() alone publishes nothing; observations taken together are one round."""

    async def scenario() -> None:
        bridge = RestartableBridge(listen=False)
        await bridge.start()
        async with make_client(bridge, "alice", "app") as alice:
            reads: list[int] = []
            pub = publisher_of(alice, reads)
            task = asyncio.create_task(pub.run())
            try:
                pub.waiting(True)
                pub.waiting(False)
                await pub.settled(5)
                assert (pub.frames, reads) == (0, [])
                for name in ("a.py", "b.py", "c.py"):
                    pub.take(Observation("working", (str(ROOT / name),), str(ROOT)))
                await pub.settled(5)
                assert pub.frames == 1 and len(reads) == 1
                assert pub.sent is not None and pub.sent.files == ["c.py", "b.py", "a.py"]
            finally:
                task.cancel()
        await bridge.stop()

    run(scenario())


class FlakyClient:
    """A client whose link is down until ``up`` is set: publish_work raises NotConnected."""

    def __init__(self) -> None:
        self.up = asyncio.Event()
        self.down = asyncio.Event()
        self.down.set()
        self.tried = asyncio.Event()
        self.sent: list[WorkFields] = []

    def connect(self) -> None:
        self.down.clear()
        self.up.set()

    async def wait_disconnected(self) -> None:
        await self.down.wait()

    async def publish_work(self, status: WorkFields) -> None:
        self.tried.set()
        if not self.up.is_set():
            raise NotConnected("the bridge is down")
        self.sent.append(status)

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self.up.wait(), timeout)


def test_a_status_taken_while_the_bridge_is_down_goes_out_once_it_is_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The send fails (not connected): the server's log says so, settled() waits on, and
    the status goes out after the reconnect, not lost."""

    async def scenario() -> None:
        client = FlakyClient()
        pub = publisher_of(client, [])
        task = asyncio.create_task(pub.run())
        try:
            pub.take(Observation("idle", (str(ROOT / "x.py"),), str(ROOT)))
            await asyncio.wait_for(client.tried.wait(), 5)
            assert client.sent == [] and pub.frames == 0
            client.connect()
            await pub.settled(5)
            assert [s.files for s in client.sent] == [["x.py"]] and pub.frames == 1
        finally:
            task.cancel()

    with caplog.at_level(logging.INFO, logger="ai_connect.mcp"):
        run(scenario())
    assert any(
        "work status idle not published (the bridge is down)" in r.getMessage()
        for r in caplog.records
    )


def test_a_round_that_breaks_is_logged_and_the_next_report_is_published(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """git's reader raising (a bug, an odd checkout) ended the publisher's task without a
    word: no status ever again in that session. Now the server's log says so, with the
    traceback, and the next hook report is published. The first report is logged once."""

    async def scenario() -> None:
        client = FlakyClient()
        client.connect()
        reads: list[int] = []

        def read(root: Path) -> GitState:
            reads.append(1)
            if len(reads) == 1:
                raise RuntimeError("git said something odd")
            return GitState("main", "abc1234", 0)

        pub = Publisher(client, StatusSettings(), ROOT, read=read, identify=lambda _: REPO)  # type: ignore[arg-type]
        task = asyncio.create_task(pub.run())
        try:
            pub.take(Observation("working", (), str(ROOT)))
            await pub.settled(5)
            assert client.sent == [] and not task.done()
            pub.take(Observation("idle", (), str(ROOT)))
            await pub.settled(5)
            assert [s.activity for s in client.sent] == ["idle"] and pub.frames == 1
        finally:
            task.cancel()

    with caplog.at_level(logging.INFO, logger="ai_connect.mcp"):
        run(scenario())
    failed = [r for r in caplog.records if "a round failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info is not None
    assert "git said something odd" in str(failed[0].exc_info[1])
    first = [r for r in caplog.records if "a hook reported (working)" in r.getMessage()]
    assert len(first) == 1


def test_a_socket_that_cannot_listen_turns_the_status_off_not_the_server(tmp_path: Path) -> None:
    """publishing() with a socket path too long for a Unix socket yields None."""

    async def scenario() -> None:
        from ai_connect.work_status.publisher import publishing

        sock = tmp_path / ("x" * 120) / "s.sock"
        sock.parent.mkdir()
        async with publishing(FlakyClient(), StatusSettings(), sock, ROOT) as publisher:  # type: ignore[arg-type]
            assert publisher is None

    run(scenario())


def test_after_a_bridge_lost_it_the_status_is_published_again() -> None:
    """The bridge restarts with an empty store: on the reconnect the publisher sends its
    last status again, and peers show it once more."""

    async def scenario() -> None:
        from ai_connect.bridge.store.memory import MemoryStore
        from ai_connect.protocol import FeedEvent, FeedSnapshot

        bridge = RestartableBridge(listen=False)
        await bridge.start()
        async with make_client(bridge, "alice", "app") as alice:
            pub = publisher_of(alice, [])
            task = asyncio.create_task(pub.run())
            try:
                pub.take(Observation("working", (str(ROOT / "a.py"),), str(ROOT)))
                await pub.settled(5)
                await bridge.stop()
                bridge.store = MemoryStore()  # everything the bridge knew is gone
                await bridge.start()
                async with make_client(bridge, "ops", "app", mode="observe") as ops:
                    async with asyncio.timeout(10):
                        async for item in ops.observe():
                            peers = (
                                item.peers
                                if isinstance(item, FeedSnapshot)
                                else (
                                    [item.peer] if isinstance(item, FeedEvent) and item.peer else []
                                )
                            )
                            if any(p.address == "alice (app)" and p.work for p in peers):
                                break
                await pub.settled(5)
                assert pub.frames == 2
            finally:
                task.cancel()
        await bridge.stop()

    run(scenario())
