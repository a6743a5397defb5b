"""Receipts through the MCP tools (protocol §3.7): peer_send(receipt), peer_status(message_id),
and the acks of peer_read naming the tool path."""

from __future__ import annotations

from tests.client.support import run
from tests.mcp.support import call, data, in_memory, settings, text
from tests.support.inprocess import bridge


def test_a_sender_that_asked_is_told_in_its_next_tool_result() -> None:
    """peer_send(receipt=true); after bob's peer_read, alice's next result carries a
    [receipt] line naming the tool path; peer_status(message_id) shows it shown."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            sent = data(await call(a, "peer_send", to="bob", message="ping", receipt=True))
            status = await call(a, "peer_status", message_id=sent["id"])
            assert "[receipt]" not in text(status)
            assert data(status)["message"]["recipients"][0]["state"] == "delivered"
            await call(b, "peer_read")
            for _ in range(50):  # bob's ack and alice's request race over two connections
                listed = text(await call(a, "peer_list"))
                if "[receipt]" in listed:
                    break
            short = "…" + sent["id"][-8:]  # ids as receipts and peer_read show them
            assert f"[receipt] your message {short} was shown" in listed
            assert "was shown to bob (proj)" in listed and "via tool" in listed
            status = await call(a, "peer_status", message_id=short)
            (bob,) = data(status)["message"]["recipients"]
            assert (bob["state"], bob["path"]) == ("shown", "tool")
            assert "bob (proj): shown" in text(status)
            assert "[receipt]" not in text(status)  # told once

    run(scenario())


def test_without_receipt_no_notice_and_an_unknown_id_says_what_to_do() -> None:
    """No receipt asked: no [receipt] line; a wrong id is a tool error naming peer_history."""

    async def scenario() -> None:
        async with (
            bridge() as br,
            in_memory(settings(br.url, "alice")) as a,
            in_memory(settings(br.url, "bob")) as b,
        ):
            sent = data(await call(a, "peer_send", to="bob", message="ping"))
            await call(b, "peer_read")  # its ack leaves without waiting for the bridge
            await call(b, "peer_list")  # a round trip behind it: the bridge has the ack
            status = await call(a, "peer_status", message_id=sent["id"])
            assert "[receipt]" not in text(status)
            assert data(status)["message"]["recipients"][0]["path"] == "tool"
            wrong = await call(a, "peer_status", message_id="nope")
            assert wrong.is_error
            assert "no message you can see has the id 'nope'" in text(wrong), text(wrong)
            assert "peer_history" in text(wrong)

    run(scenario())
