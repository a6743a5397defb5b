"""The lease tools through MCP: two agents in two clones of one repository (issue 15)."""

from __future__ import annotations

from pathlib import Path

from tests.client.support import run
from tests.leases.support import clones
from tests.mcp.support import call, data, in_memory, settings, text
from tests.support.inprocess import bridge


def test_claim_conflict_release_across_clones(tmp_path: Path) -> None:
    """A's claim in one clone blocks B's in the other (ssh vs https remote) until released."""
    a_root, b_root = clones(tmp_path)

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice", cwd=a_root)) as alice,
            in_memory(settings(br.url, "bob", cwd=b_root / "src")) as bob,
        ):
            got = data(await call(alice, "peer_claim", paths=["src/app.py"], reason="refactor"))
            assert got["repo"] == "github.com/org/app"
            assert [x["path"] for x in got["leases"]] == ["src/app.py"]
            # Bob works in src/: his relative glob is the same repository's src/*.py.
            refused = await call(bob, "peer_claim", paths=["*.py"], ttl="1h")
            said = text(refused)
            assert "Nothing was claimed" in said and "alice" in said and "refactor" in said
            assert data(refused)["conflicts"][0]["lease"]["path"] == "src/app.py"
            listed = data(await call(bob, "peer_claims"))
            assert [x["holder"] for x in listed["leases"]] == [got["leases"][0]["holder"]]
            # Alice was told, in her mail, who asked.
            mail = data(await call(alice, "peer_wait", timeout_s=5))["messages"]
            assert "bob" in mail[0]["content"] and "src/app.py" in mail[0]["content"]
            released = data(await call(alice, "peer_release"))
            assert [x["path"] for x in released["leases"]] == ["src/app.py"]
            again = data(await call(bob, "peer_claim", paths=["*.py"]))
            assert [x["path"] for x in again["leases"]] == ["src/*.py"]

    run(scenario())


def test_bad_claims_say_what_to_do(tmp_path: Path) -> None:
    """A TTL over the limit or a path outside the repository names the tool to call."""
    a_root, _ = clones(tmp_path)

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "alice", cwd=a_root)) as alice:
            long = await call(alice, "peer_claim", paths=["src/app.py"], ttl="3d")
            assert long.is_error and "peer_claim" in text(long)
            outside = await call(alice, "peer_claim", paths=["../../elsewhere.py"])
            assert outside.is_error and "outside the repository" in text(outside)
            empty = await call(alice, "peer_claim", paths=[""])  # was a lease on "**"
            assert empty.is_error and "'.' for the whole repository" in text(empty)
            assert "No file is leased" in text(await call(alice, "peer_claims"))

    run(scenario())
