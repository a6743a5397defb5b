"""Every tool through the official MCP client, against the server in memory and a real
bridge in the test's event loop. The client checks each successful result's
structuredContent against the tool's output schema, so every call here checks that too.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from mcp.shared.exceptions import MCPError

from ai_connect.client import LinkState
from tests.client.support import run
from tests.mcp.support import (
    MODES,
    TOOL_NAMES,
    call,
    data,
    in_memory,
    served,
    settings,
    text,
)
from tests.support.bridge import SharedStore
from tests.support.inprocess import bridge, unserved_url

READ_ONLY = {"peer_list", "peer_history", "peer_search", "peer_status"}
READ_ONLY |= {"consensus_status", "consensus_list", "peer_claims"}


@pytest.mark.parametrize("mode", MODES)
def test_list_tools_shows_every_tool_with_schemas_and_annotations(mode: str) -> None:
    """tools/list names all eight tools, each with a description, both schemas and hints."""

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "alice"), mode) as a:
            tools = {t.name: t for t in (await a.list_tools()).tools}
            assert set(tools) == TOOL_NAMES
            for name, tool in tools.items():
                assert tool.description and len(tool.description) > 60
                assert tool.input_schema["type"] == "object"
                assert tool.output_schema is not None and tool.output_schema["type"] == "object"
                assert tool.annotations is not None
                assert tool.annotations.read_only_hint is (name in READ_ONLY)
                assert tool.annotations.idempotent_hint is (name in READ_ONLY)
                assert tool.annotations.destructive_hint is False
            send = tools["peer_send"].input_schema
            assert set(send["required"]) == {"to", "message"}
            assert {"file", "lines", "thread", "reply_to"} <= set(send["properties"])
            assert "from" in tools["peer_wait"].input_schema["properties"]
            assert tools["peer_context"].input_schema["properties"]["to"]["default"] == "*"

    run(scenario())


@pytest.mark.parametrize("mode", MODES)
def test_send_then_read_shows_each_message_once_as_a_peer_message(mode: str) -> None:
    """peer_send goes live; peer_read returns it marked as a peer message, then never again."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice"), mode) as a,
            in_memory(settings(br.url, "bob"), mode) as b,
        ):
            sent = await call(a, "peer_send", to="bob", message="hi bob", thread="t1")
            receipt = data(sent)
            assert receipt["state"] == "accepted" and receipt["online"] == ["bob (proj)"]
            assert text(sent) == f"sent message {receipt['id']}: delivered live to bob (proj)"
            got = await call(b, "peer_read")
            [message] = data(got)["messages"]
            assert message["from"] == "alice (proj)" and message["content"] == "hi bob"
            assert (message["id"], message["thread"]) == (receipt["id"], "t1")
            assert text(got).startswith("1 peer message (from other AI agents, not from ")
            assert f"[peer message from alice (proj) · id {receipt['id']} · " in text(got)
            assert data(await call(b, "peer_read"))["messages"] == []
            assert text(await call(b, "peer_read")) == "No unread peer messages."

    run(scenario())


def test_send_to_a_known_offline_peer_waits_in_its_mailbox() -> None:
    """A send to a peer that left says so, and the peer gets it when it comes back."""

    async def scenario() -> None:
        async with bridge() as br:
            async with in_memory(settings(br.url, "bob")) as b:
                data(await call(b, "peer_status"))
            async with in_memory(settings(br.url, "alice")) as a:
                sent = await call(a, "peer_send", to="bob", message="while you were away")
                assert data(sent)["offline"] == ["bob (proj)"]
                assert "queued for offline bob (proj) (delivered when they connect)" in text(sent)
            async with in_memory(settings(br.url, "bob")) as b:
                [message] = data(await call(b, "peer_read"))["messages"]
                assert message["content"] == "while you were away"

    run(scenario())


def test_unknown_and_ambiguous_targets_are_tool_errors_naming_the_candidates() -> None:
    """No message is stored for a target that names nobody or several peers."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
            in_memory(settings(br.url, "bea")) as _,
        ):
            unknown = await call(a, "peer_send", to="bop", message="x")
            assert unknown.is_error
            assert text(unknown).startswith("no known peer matches 'bop'. Call peer_list")
            assert "candidates: " in text(unknown) and "bob (proj)" in text(unknown)
            ambiguous = await call(a, "peer_send", to="b", message="x")
            assert ambiguous.is_error
            assert text(ambiguous).endswith(
                "Call peer_send again with one full address: bea (proj), bob (proj)."
            )
            history = await call(a, "peer_history", peer="zed")
            assert history.is_error and "Call peer_list" in text(history)
            assert data(await call(b, "peer_read"))["messages"] == []

    run(scenario())


@pytest.mark.parametrize(
    ("tool", "arguments", "complaint"),
    [
        ("peer_send", {"to": "bob"}, "message: Field required"),
        ("peer_send", {"to": 3, "message": "x"}, "to: Input should be a valid string"),
        ("peer_send", {"to": "", "message": "x"}, "to: String should have at least 1 character"),
        ("peer_read", {"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ("peer_wait", {"timeout_s": 99999}, "timeout_s: Input should be less than or equal"),
        ("peer_list", {"verbose": True}, "verbose: Extra inputs are not permitted"),
        ("peer_context", {}, "file: Field required"),
        ("peer_search", {"query": ""}, "query: String should have at least 1 character"),
    ],
)
def test_bad_arguments_are_tool_errors_that_name_the_field(
    tool: str, arguments: dict[str, object], complaint: str
) -> None:
    """Invalid arguments come back as isError text naming the field and the call to redo."""

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "alice")) as a:
            result = await a.call_tool(tool, arguments)
            assert result.is_error
            assert text(result).startswith(f"invalid arguments for {tool}: ")
            assert complaint in text(result)
            assert text(result).endswith(
                f"Call {tool} again with arguments that match its input schema."
            )

    run(scenario())


def test_an_unknown_tool_is_a_protocol_error_listing_the_tools() -> None:
    """Calling a tool that does not exist is an MCP error that names the real ones."""

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "alice")) as a:
            with pytest.raises(MCPError, match="unknown tool 'peer_fly'; the tools: peer_list"):
                await call(a, "peer_fly")

    run(scenario())


@pytest.mark.parametrize("mode", MODES)
def test_a_pending_peer_wait_returns_the_message_a_peer_sends(mode: str) -> None:
    """peer_wait blocks with progress notifications, then returns promptly on arrival."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice"), mode) as a,
            in_memory(settings(br.url, "bob"), mode) as b,
        ):
            reports: list[tuple[float, float | None, str | None]] = []
            waiting = asyncio.Event()

            async def on_progress(
                progress: float, total: float | None, message: str | None
            ) -> None:
                reports.append((progress, total, message))
                waiting.set()

            wait = asyncio.create_task(
                b.call_tool("peer_wait", {"timeout_s": 15}, progress_callback=on_progress)
            )
            await asyncio.wait_for(waiting.wait(), 5)
            loop = asyncio.get_running_loop()
            data(await call(a, "peer_send", to="bob", message="wake up"))
            sent_at = loop.time()
            result = await asyncio.wait_for(wait, 5)
            assert loop.time() - sent_at < 1.0
            out = data(result)
            assert [m["content"] for m in out["messages"]] == ["wake up"]
            assert out["timed_out"] is False and out["waited_s"] > 0
            assert reports[0][1] == 15 and "waiting for a peer message" in str(reports[0][2])
            assert data(await call(b, "peer_read"))["messages"] == []

    run(scenario())


def test_peer_wait_timeout_is_said_plainly_not_an_error() -> None:
    """With nothing arriving, peer_wait returns after timeout_s saying so."""

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "bob")) as b:
            result = await call(b, "peer_wait", timeout_s=0.2)
            assert not result.is_error
            assert text(result) == (
                "No peer message within 0.2 s. Call peer_wait again to keep waiting."
            )
            assert data(result)["timed_out"] is True and data(result)["messages"] == []

    run(scenario())


def test_peer_wait_from_one_peer_leaves_the_others_unread() -> None:
    """A wait ``from`` alice ignores carol's message, returns alice's, and carol's stays."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
            in_memory(settings(br.url, "carol")) as c,
        ):
            data(await call(c, "peer_send", to="bob", message="from carol"))
            wait = asyncio.create_task(call(b, "peer_wait", timeout_s=10, **{"from": "ali"}))
            data(await call(a, "peer_send", to="bob", message="from alice"))
            got = data(await asyncio.wait_for(wait, 5))
            assert [m["content"] for m in got["messages"]] == ["from alice"]
            left = data(await call(b, "peer_read"))
            assert [m["content"] for m in left["messages"]] == ["from carol"]
            unknown = await call(b, "peer_wait", timeout_s=1, **{"from": "zed"})
            assert unknown.is_error and "Call peer_list" in text(unknown)

    run(scenario())


def test_history_and_search_are_served_by_the_bridge() -> None:
    """History shows both directions newest last with a cursor; search finds by words."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            for n in range(3):
                data(await call(a, "peer_send", to="bob", message=f"question {n}"))
            data(await call(b, "peer_send", to="alice", message="the answer is pineapple"))
            page = data(await call(a, "peer_history", peer="bob", limit=2))
            assert [m["content"] for m in page["messages"]] == [
                "question 2",
                "the answer is pineapple",
            ]
            older = data(await call(a, "peer_history", peer="bob", before=page["before"]))
            assert [m["content"] for m in older["messages"]] == ["question 0", "question 1"]
            shown = text(await call(a, "peer_history", peer="bob", limit=2))
            assert "[you to bob (proj) · id " in shown
            assert "[peer message from bob (proj) · id " in shown
            assert f"call peer_history with before={page['before']}" in shown
            found = data(await call(a, "peer_search", query="pineapple"))
            assert [m["content"] for m in found["messages"]] == ["the answer is pineapple"]
            none = await call(a, "peer_search", query="zucchini")
            assert text(none) == "No message matches 'zucchini'."

    run(scenario())


def _repo(root: Path) -> Path:
    root.mkdir()
    (root / "app.py").write_text("".join(f"print({n})\n" for n in range(1, 3001)))
    for args in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "c"]):
        subprocess.run(
            ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t", *args],
            check=True,
            capture_output=True,
            timeout=10,
        )
    return root


def test_peer_context_sends_the_code_with_its_provenance(tmp_path: Path) -> None:
    """The receiver gets the lines themselves, repo, branch, commit, sha256 and dirty flag."""

    async def scenario() -> None:
        repo = _repo(tmp_path / "shop")
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice", cwd=repo)) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            shared = await call(a, "peer_context", file="app.py", lines="2-3", message="look")
            facts = data(shared)
            assert (facts["file"], facts["lines"], facts["repo"]) == ("app.py", "2-3", "shop")
            assert (facts["branch"], facts["dirty"], facts["truncated"]) == (
                "main",
                False,
                False,
            )
            assert facts["online"] == ["bob (proj)"]
            assert "shared app.py lines 2-3 of 3000 (repo shop, branch main)" in text(shared)
            [message] = data(await call(b, "peer_read"))["messages"]
            context = message["context"]
            assert message["content"] == "look"
            assert context["content"] == "print(2)\nprint(3)\n"
            assert context["commit"] == facts["commit"] and len(context["sha256"]) == 64

    run(scenario())


def test_peer_context_truncates_oversize_files_with_a_marker(tmp_path: Path) -> None:
    """Past the size cap the content ends with a marker and the result names the rest."""

    async def scenario() -> None:
        repo = _repo(tmp_path / "shop")
        async with bridge() as br:
            s = settings(br.url, "alice", cwd=repo, context_max_bytes=1024)
            async with in_memory(s) as a, in_memory(settings(br.url, "bob")) as b:
                shared = await call(a, "peer_context", file=str(repo / "app.py"), to="bob")
                assert data(shared)["truncated"] is True
                assert "truncated at the size cap: share lines=" in text(shared)
                [message] = data(await call(b, "peer_read"))["messages"]
                assert (
                    "[... truncated by ai-connect: showing lines 1-"
                    in message["context"]["content"]
                )
                assert message["content"].startswith("Sharing app.py lines 1-")

    run(scenario())


def test_peer_context_of_a_missing_file_is_a_tool_error() -> None:
    """A missing file is an error that says where relative paths start."""

    async def scenario() -> None:
        async with bridge() as br, in_memory(settings(br.url, "alice")) as a:
            result = await call(a, "peer_context", file="no/such/file.py")
            assert result.is_error
            assert text(result).startswith("file not found: ")
            assert "pass an absolute path, or one relative to" in text(result)
            sent = await call(a, "peer_send", to="*", message="x", file="missing.txt")
            assert sent.is_error and text(sent).startswith("file not found: ")

    run(scenario())


def test_peer_context_with_a_bad_range_or_target_is_a_tool_error(tmp_path: Path) -> None:
    """A nonsense line range or an unknown target is refused before anything is stored."""

    async def scenario() -> None:
        repo = _repo(tmp_path / "shop")
        async with bridge() as br, in_memory(settings(br.url, "alice", cwd=repo)) as a:
            bad = await call(a, "peer_context", file="app.py", lines="ten-twenty")
            assert bad.is_error and "is not a line range; use e.g. '10-40'" in text(bad)
            past = await call(a, "peer_context", file="app.py", lines="5000-")
            assert past.is_error and "has 3000 lines; ask for lines within 1-3000" in text(past)
            nobody = await call(a, "peer_context", file="app.py", to="nobody")
            assert nobody.is_error and "Call peer_list to see who is known" in text(nobody)

    run(scenario())


def test_peer_read_from_an_unknown_peer_is_a_tool_error() -> None:
    """A ``from`` filter that names nobody says to call peer_list; nothing is marked read."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            data(await call(a, "peer_send", to="bob", message="keep me"))
            unknown = await call(b, "peer_read", **{"from": "zed"})
            assert unknown.is_error and "Call peer_list" in text(unknown)
            kept = data(await call(b, "peer_read", **{"from": "alice"}))
            assert [m["content"] for m in kept["messages"]] == ["keep me"]

    run(scenario())


def test_peer_status_reports_identity_link_unread_and_versions() -> None:
    """peer_status answers from the client and the bridge's status report."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            served(settings(br.url, "bob")) as (b, hub),
        ):
            data(await call(a, "peer_send", to="bob", message="one"))
            await hub.default.wait(5)
            status = data(await call(b, "peer_status"))
            assert (status["address"], status["state"], status["identity"]) == (
                "bob (proj)",
                "connected",
                "server",
            )
            assert status["bridge"] == br.url and status["unread"] == 1
            assert status["bridge_unread"] == 1 and status["peers_online"] == 2
            assert status["mcp_version"].startswith("2.")
            shown = text(await call(b, "peer_status"))
            assert "link:      connected for " in shown and "unread:    1 here" in shown

    run(scenario())


def test_the_server_answers_truly_while_the_bridge_is_down_and_sends_after() -> None:
    """While the bridge is down calls say so and sends queue; once up, the send arrives once."""

    async def scenario() -> None:
        store = SharedStore()
        async with bridge(store) as first, in_memory(settings(first.url, "bob")) as b:
            data(await call(b, "peer_status"))  # bob is known to the store
        url = unserved_url()  # where the bridge will be: nothing answers there yet
        async with served(settings(url, "alice")) as (a, hub):
            status = data(await call(a, "peer_status"))
            assert status["state"] == "reconnecting" and status["last_error"]
            assert "reconnecting (not connected)" in text(await call(a, "peer_status"))
            peers = await call(a, "peer_list")
            assert peers.is_error
            assert text(peers).startswith(f"the bridge at {url} is unreachable (")
            assert "Call peer_status to see the link" in text(peers)
            for tool, arguments in (
                ("peer_history", {"peer": "bob"}),
                ("peer_search", {"query": "x"}),
            ):
                failed = await a.call_tool(tool, arguments)
                assert failed.is_error and f"call {tool} again once it is connected" in text(failed)
            read = await call(a, "peer_read")
            assert "The bridge is unreachable right now" in text(read)
            assert data(read)["bridge_connected"] is False
            queued = await call(a, "peer_send", to="bob", message="sent during the outage")
            assert data(queued)["state"] == "queued" and data(queued)["id"] is None
            assert text(queued).startswith("queued locally, not sent yet: ")
            async with bridge(store, url=url), in_memory(settings(url, "bob")) as b:
                got = data(await call(b, "peer_wait", timeout_s=10))
                assert [m["content"] for m in got["messages"]] == ["sent during the outage"]
                assert data(await call(b, "peer_read"))["messages"] == []
                await hub.default.wait_state(LinkState.CONNECTED, 5)
                assert data(await call(a, "peer_status"))["state"] == "connected"

    run(scenario())


def test_a_restart_with_unread_messages_loses_none_and_shows_none_twice() -> None:
    """Unread mail of a stopped server goes to its successor; read mail never comes back."""

    async def scenario() -> None:
        async with bridge() as br:
            async with in_memory(settings(br.url, "bob")) as b:
                data(await call(b, "peer_status"))
            async with (
                in_memory(settings(br.url, "alice")) as a,
                served(settings(br.url, "bob")) as (b, hub),
            ):
                delivered = asyncio.Event()

                def on_item(_: object) -> None:
                    if len(hub.default.unread()) == 5:
                        delivered.set()

                hub.default.add_listener(on_item)
                for n in range(5):
                    data(await call(a, "peer_send", to="bob", message=f"m{n}"))
                await asyncio.wait_for(delivered.wait(), 5)  # in bob's inbox, not acked
            async with in_memory(settings(br.url, "bob")) as b:
                got = data(await call(b, "peer_read"))
                assert [m["content"] for m in got["messages"]] == [f"m{n}" for n in range(5)]
            async with in_memory(settings(br.url, "bob")) as b:
                assert data(await call(b, "peer_read"))["messages"] == []

    run(scenario())


def test_reply_to_takes_a_short_form_and_refuses_an_unknown_id() -> None:
    """peer_send's reply_to: a shown id's end finds it; an id nobody sent is an error
    naming the tools that show ids, and nothing is sent."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            data(await call(b, "peer_status"))
            sent = data(await call(a, "peer_send", to="bob", message="question"))
            got = data(await call(b, "peer_wait", timeout_s=5))
            assert [m["id"] for m in got["messages"]] == [sent["id"]]
            wrong = await call(b, "peer_send", to="alice", message="x", reply_to="deadbeef")
            assert wrong.is_error
            assert "no message you can see has the id 'deadbeef'" in text(wrong)
            assert "Call peer_read or peer_history to see message ids" in text(wrong)
            short = "…" + sent["id"][-8:]
            data(await call(b, "peer_send", to="alice", message="answer", reply_to=short))
            got = data(await call(a, "peer_wait", timeout_s=5))
            assert [(m["content"], m["reply_to"]) for m in got["messages"]] == [
                ("answer", sent["id"])
            ]

    run(scenario())
