"""peer_context by reference through the MCP tools, over an in-process bridge: alice and
bob work in two checkouts of one repository (ssh and https remote spellings); bob's
peer_read and peer_wait show a verified reference instead of the content, and the
content, with why, when his copy differs or he has no checkout of it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from mcp import Client
from tests.client.support import run
from tests.mcp.support import call, data, in_memory, settings, text
from tests.support.checkouts import APP, git, two_clones
from tests.support.inprocess import bridge

LINES = "21-40"  # f11..f20
EXCERPT = "def f11():\n    return 11\n"


@contextlib.asynccontextmanager
async def alice_and_bob(alice_cwd: Path, bob_cwd: Path) -> AsyncIterator[tuple[Client, Client]]:
    """Alice's and bob's MCP sessions over one in-process bridge, each in its own folder."""
    async with (
        bridge() as br,
        in_memory(settings(br.url, "alice", cwd=alice_cwd)) as a,
        in_memory(settings(br.url, "bob", cwd=bob_cwd)) as b,
    ):
        yield a, b


def test_a_clone_of_the_same_repo_reads_a_verified_reference_not_the_content(
    tmp_path: Path,
) -> None:
    """Bob's identical copy: the text names his path, lines and hash; no content anywhere."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        async with alice_and_bob(alice_repo, bob_repo / "src") as (a, b):
            shared = await call(
                a, "peer_context", file="src/app.py", lines=LINES, message="review f11-f20"
            )
            assert data(shared)["by_reference"] is True
            assert "by reference where a peer's checkout holds the same lines" in text(shared)
            got = await call(b, "peer_read")
            shown = text(got)
            local = (bob_repo / "src" / "app.py").resolve()
            assert "review f11-f20" in shown
            assert f"by reference: your copy {local} lines {LINES} is verified identical" in shown
            assert "return 11" not in shown
            [message] = data(got)["messages"]
            # Claude Code shows the model the structured content: no lines, no hashes there
            assert message["context"] == {
                "kind": "code",
                "file": "src/app.py",
                "lines": LINES,
                "repo": "App",
                "branch": "main",
                "truncated": False,
                "next_lines": None,
            }
            assert message["local"] == {
                "state": "identical",
                "verified": True,
                "path": str(local),
                "lines": LINES,
                "reasons": [],
            }

    run(scenario())


def test_a_modified_copy_gets_the_content_and_why_through_peer_wait(tmp_path: Path) -> None:
    """Bob changed f11 without committing: peer_wait shows the sender's lines and the reason."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        (bob_repo / "src" / "app.py").write_text(APP.replace("return 11\n", "return 0\n"))
        async with alice_and_bob(alice_repo, bob_repo) as (a, b):
            await call(a, "peer_context", file="src/app.py", lines=LINES, to="bob")
            got = await call(b, "peer_wait", timeout_s=5)
            shown = text(got)
            assert "does not verify: locally modified (uncommitted changes here)" in shown
            assert "    | def f11():" in shown and "    |     return 11" in shown
            [message] = data(got)["messages"]
            assert message["context"]["content"].startswith(EXCERPT)
            assert message["local"]["state"] == "differs"

    run(scenario())


def test_a_peer_without_the_repository_gets_the_content_as_before(tmp_path: Path) -> None:
    """Bob works in another repository: the content, with no word about references (and
    no reference in the structured result either: it reads exactly as by value)."""

    async def scenario() -> None:
        alice_repo, _ = two_clones(tmp_path)
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        git(elsewhere, "init", "-q")
        async with alice_and_bob(alice_repo, elsewhere) as (a, b):
            await call(a, "peer_context", file="src/app.py", lines=LINES, to="bob")
            got = await call(b, "peer_read")
            assert "    | def f11():" in text(got) and "verif" not in text(got)
            [message] = data(got)["messages"]
            assert "local" not in message and "ref" not in message["context"]

    run(scenario())


def test_by_reference_false_sends_the_content_only(tmp_path: Path) -> None:
    """peer_send with a file and by_reference=false: no ref, bob sees the content."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        async with alice_and_bob(alice_repo, bob_repo) as (a, b):
            args = {"file": "src/app.py", "lines": LINES, "by_reference": False}
            await call(a, "peer_send", to="bob", message="exact text please", **args)
            got = await call(b, "peer_read")
            [message] = data(got)["messages"]
            assert "ref" not in message["context"] and message.get("local") is None
            assert "    | def f11():" in text(got)

    run(scenario())


def test_peer_send_with_a_file_goes_by_reference_too(tmp_path: Path) -> None:
    """peer_send(file=…) attaches the same context: bob's identical copy verifies."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        async with alice_and_bob(alice_repo, bob_repo) as (a, b):
            await call(a, "peer_send", to="bob", message="see", file="src/app.py", lines="1-2")
            got = await call(b, "peer_read")
            assert "is verified identical" in text(got) and "return 1\n" not in text(got)

    run(scenario())


def test_history_and_search_resolve_references_in_the_readers_checkout(tmp_path: Path) -> None:
    """peer_history and peer_search show a stored context by reference where it verifies."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        async with alice_and_bob(alice_repo, bob_repo) as (a, b):
            await call(a, "peer_context", file="src/app.py", lines=LINES, message="pineapple")
            await call(b, "peer_read")
            for result in (
                await call(b, "peer_history", peer="alice"),
                await call(b, "peer_search", query="pineapple"),
            ):
                assert "is verified identical" in text(result) and "def f11" not in text(result)
                [message] = data(result)["messages"]
                assert message["local"]["state"] == "identical"
                assert "content" not in message["context"]

    run(scenario())


def test_a_proposal_with_code_shows_the_reference_to_a_participant_with_the_repo(
    tmp_path: Path,
) -> None:
    """consensus_propose(file, lines): the participant's copy verifies, so the proposal
    message shows the reference, in the text and the structured result."""

    async def scenario() -> None:
        alice_repo, bob_repo = two_clones(tmp_path)
        async with alice_and_bob(alice_repo, bob_repo) as (a, b):
            await call(b, "peer_list")  # bob is known before he is asked
            question = "Merge f11-f20 into one function?"
            args = {"file": "src/app.py", "lines": LINES, "participants": ["bob"]}
            assert not (await call(a, "consensus_propose", question=question, **args)).is_error
            got = await call(b, "peer_wait", timeout_s=5)
            assert "is verified identical" in text(got) and "def f11" not in text(got)
            [message] = data(got)["messages"]
            code = message["context"]["proposal"]["context"]["code"]
            assert "content" not in code and "ref" not in code
            assert message["local"]["state"] == "identical"

    run(scenario())
