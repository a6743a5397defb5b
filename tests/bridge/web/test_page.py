"""The dashboard in headless Chromium: it loads, shows peers, a peer's message appears live
with its delivery states, a proposal's tally follows the votes, and with auth on only an
admin token logs in."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, WebSocketRoute, expect

from ai_connect import tls
from ai_connect.bridge.auth import new_token
from ai_connect.bridge.store.sqlite import SqliteStore
from tests.security.certs import make_authority
from tests.support.bridge import ThreadedBridge
from tests.support.process import BridgeProcess

from .support import dashboard_url, peer, send_once


@pytest.fixture
def live() -> Iterator[ThreadedBridge]:
    """A bridge with the dashboard on, auth off, on 127.0.0.1 port 0."""
    with ThreadedBridge(ui=True) as started:
        yield started


def test_the_page_loads_and_shows_the_peers_live(page: Page, live: ThreadedBridge) -> None:
    """The page connects as an observer: live, alice listed online; bob joins while open."""
    with peer(live, "alice"):
        page.goto(dashboard_url(live))
        expect(page).to_have_title("ai-connect dashboard")
        expect(page.locator("#status")).to_have_text("live")
        expect(page.locator('#peers li[data-address="alice (web)"]')).to_have_class("peer online")
        with peer(live, "bob"):
            expect(page.locator('#peers li[data-address="bob (web)"]')).to_have_class("peer online")
        expect(page.locator('#peers li[data-address="bob (web)"]')).to_have_class("peer offline")
    expect(page.locator("#login")).to_be_hidden()


def test_a_peers_work_status_shows_live_under_its_name(page: Page, live: ThreadedBridge) -> None:
    """alice's work status (issue 15) appears under her name as one line, and follows her
    next status live; a branch name is text, never markup."""
    with peer(live, "alice") as alice:
        alice.publish_work(repo="github.com/org/app", branch="main", head="3f2a1bc", dirty=2,
                           files=["src/app.py"])  # fmt: skip
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        work = page.locator('#peers li[data-address="alice (web)"] .work')
        expect(work).to_have_text(
            "working · github.com/org/app main@3f2a1bc, 2 dirty · edited src/app.py"
        )
        expect(work).to_have_class("work working")
        alice.publish_work(repo="github.com/org/app", branch="<b>x</b>", activity="idle",
                           files=["b.py", "src/app.py", "c.py", "d.py"])  # fmt: skip
        expect(work).to_have_text(
            "idle · github.com/org/app <b>x</b> · edited b.py, src/app.py, c.py +1"
        )
        assert work.locator("b").count() == 0
        expect(work).to_have_attribute(
            "title", re.compile(r"^edited: b\.py, src/app\.py, c\.py, d\.py")
        )


def test_a_message_appears_live_with_its_delivery_states(page: Page, live: ThreadedBridge) -> None:
    """A message sent while the page is open appears (as text, never markup, its control
    and bidi characters as visible escapes, as in a terminal), then its state for bob goes
    delivered, then shown once bob's agent acks it."""
    hostile = '<img src=x onerror="document.title=1"> <b>hi</b> & bye\n\x1b[31mred \u202eevil'
    shown = hostile.replace("\x1b", "\\x1b").replace("\u202e", "\\u202e")
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        message_id = alice.send("bob", hostile, thread="plans")
        row = page.locator(f'#timeline li[data-id="{message_id}"]')
        expect(row.locator(".body")).to_have_text(shown)
        assert row.locator(".body").inner_text() == shown  # the newline kept
        assert row.locator(".body img, .body b").count() == 0
        expect(row.locator(".badge.thread")).to_have_text("# plans")
        chip = row.locator('.receipt[data-recipient="bob (web)"]')
        expect(chip).to_have_attribute("data-state", "delivered")
        assert bob.read_all() == 1
        expect(chip).to_have_attribute("data-state", "shown")
        expect(page).to_have_title("ai-connect dashboard")


def test_a_conversation_and_a_search_show_the_stored_messages(
    page: Page, live: ThreadedBridge
) -> None:
    """Messages sent before the page opened are in the pair's conversation and found by
    search (admin requests; with auth off the observer may make them)."""
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        alice.send("bob", "first: the migration plan")
        bob.send("alice", "second: agreed")
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        page.locator("#timeline li.message .peer-link").first.click()
        conversation = page.locator("#conversation li.message .body")
        expect(conversation).to_have_text(["first: the migration plan", "second: agreed"])
        page.locator("#search-query").fill("migration")
        page.locator("#search-form button").click()
        expect(page.locator("#results li.message .body")).to_have_text(
            ["first: the migration plan"]
        )


def test_a_proposals_tally_follows_the_votes(page: Page, live: ThreadedBridge) -> None:
    """A proposal appears with its ballots waiting; bob's vote updates the tally live."""
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        proposal = alice.propose("Ship it?", ["alice", "bob"])
        card = page.locator(f'#proposals li[data-proposal="{proposal["id"]}"]')
        expect(card.locator(".question")).to_have_text("Ship it?")
        expect(card.locator('[data-tally="approve"]')).to_have_text("approve 0")
        expect(card.locator('.ballot[data-voter="bob (web)"] .choice')).to_have_text("waiting")
        bob.vote(proposal["id"], "approve", "looks good")
        expect(card.locator('[data-tally="approve"]')).to_have_text("approve 1")
        expect(card.locator('.ballot[data-voter="bob (web)"] .choice')).to_have_text("approve")
        alice.vote(proposal["id"], "approve")
        expect(card.locator(".status")).to_have_text("decided: approved")


def test_an_escalated_proposal_shows_its_judge_and_ruling(page: Page, live: ThreadedBridge) -> None:
    """A split under unanimity escalates to the judge; the judge's ruling shows, decided."""
    with peer(live, "alice") as alice, peer(live, "bob") as bob, peer(live, "carol") as carol:
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        proposal = alice.propose(
            "Rename the API?", ["alice", "bob"], rule="unanimous", judge="carol"
        )
        card = page.locator(f'#proposals li[data-proposal="{proposal["id"]}"]')
        alice.vote(proposal["id"], "approve")
        bob.vote(proposal["id"], "reject", "breaks clients")
        expect(card.locator(".status")).to_have_text("escalated")
        expect(card.locator(".meta")).to_contain_text("judge carol (web)")
        expect(card.locator('[data-tally="reject"]')).to_have_text("reject 1")
        carol.vote(proposal["id"], "reject", "keep the name")
        expect(card.locator(".status")).to_have_text("decided: rejected")
        expect(card.locator(".ruling")).to_have_text("ruling by carol (web) reject — keep the name")


def test_with_auth_only_an_admin_token_logs_in(page: Page, tmp_path: Path) -> None:
    """Auth on: the page asks for a token; a wrong one and a non-admin one are refused
    with the bridge's reason; an admin token shows the dashboard."""
    admin_token, admin = new_token("ops", ["ops"], admin=True, now=time.time())
    user_token, user = new_token("alice", ["alice"], now=time.time())
    store = SqliteStore(tmp_path / "bridge.db")
    store.put_token(admin)
    store.put_token(user)
    with ThreadedBridge(store, ui=True) as live:
        page.goto(dashboard_url(live))
        expect(page.locator("#login")).to_be_visible()
        expect(page.locator("#app")).to_be_hidden()
        page.locator("#token").fill("aic_wrong_0000000000000000")
        page.locator("#login-form button").click()
        expect(page.locator("#login-error")).to_contain_text("not valid")
        expect(page.locator("#app")).to_be_hidden()
        page.locator("#token").fill(user_token)
        page.locator("#login-form button").click()
        expect(page.locator("#login-error")).to_contain_text("not an admin token")
        page.locator("#token").fill(admin_token)
        page.locator("#login-form button").click()
        expect(page.locator("#status")).to_have_text("live")
        expect(page.locator("#app")).to_be_visible()
        page.reload()  # the token lasts as long as the tab
        expect(page.locator("#status")).to_have_text("live")


def test_the_page_reconnects_after_a_bridge_restart(page: Page, tmp_path: Path) -> None:
    """A real bridge process killed and started again: the page says it is down, comes
    back live by itself, and shows the messages sent after the restart."""
    with BridgeProcess(tmp_path, "--ui") as process:
        page.goto(process.url.replace("ws", "http", 1) + "/ui/")
        expect(page.locator("#status")).to_have_text("live")
        process.kill9()
        expect(page.locator("#status")).to_contain_text("reconnecting")
        process.restart()
        expect(page.locator("#status")).to_have_text("live", timeout=20_000)
        message_id = send_once(process.url, "alice", "alice", "after the restart")
        expect(page.locator(f'#timeline li[data-id="{message_id}"] .body')).to_have_text(
            "after the restart"
        )


def test_over_tls_the_page_and_its_websocket_use_https_and_wss(
    browser: Browser, tmp_path: Path
) -> None:
    """A bridge serving TLS serves the page over https, and the page connects with wss."""
    cert = make_authority(tmp_path).issue("bridge")
    with ThreadedBridge(ui=True, ssl=tls.server_context(cert.cert, cert.key)) as live:
        assert live.server is not None and live.server.url.startswith("wss://")
        url = live.server.url.replace("wss", "https", 1) + "/ui/"
        # The test CA is not one the browser trusts: accept it for this context only.
        context = browser.new_context(ignore_https_errors=True)
        try:
            opened = context.new_page()
            sockets: list[str] = []
            opened.on("websocket", lambda ws: sockets.append(ws.url))
            opened.goto(url)
            expect(opened.locator("#status")).to_have_text("live")
            assert sockets == [live.server.url + "/"]
        finally:
            context.close()


def test_the_filter_keeps_the_messages_of_a_peer_project_or_thread(
    page: Page, live: ThreadedBridge
) -> None:
    """Typing in the filter (or clicking a peer) hides the rows of other peers and
    threads, new ones too."""
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        alice.send("bob", "about the release", thread="release")
        bob.send("bob", "a note to myself")
        rows = page.locator("#timeline li.message:visible .body")
        expect(rows).to_have_text(["a note to myself", "about the release"])
        page.locator("#filter").fill("RELEASE")
        expect(rows).to_have_text(["about the release"])
        alice.send("alice", "elsewhere")
        alice.send("bob", "still on it", thread="release")
        expect(rows).to_have_text(["still on it", "about the release"])
        page.locator("#filter").fill("")
        expect(rows).to_have_count(4)
        page.locator('#peers li[data-address="bob (web)"] .address').click()
        expect(page.locator("#filter")).to_have_value("bob (web)")
        expect(rows).to_have_count(3)  # alice's note to herself is not bob's


def test_messages_from_before_the_page_show_where_they_stand(
    page: Page, live: ThreadedBridge
) -> None:
    """History loaded at start asks each message's receipts: shown (and how), delivered,
    and accepted (stored for a peer that is offline)."""
    with peer(live, "carol"):
        pass  # known, now offline
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        waiting = alice.send("carol", "when you are back")
        seen = alice.send("bob", "read this")
        assert bob.read_all(path="hook") == 1
        unseen = alice.send("bob", "and this")
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        chip = page.locator(f'#timeline li[data-id="{seen}"] .receipt[data-recipient="bob (web)"]')
        expect(chip).to_have_attribute("data-state", "shown")
        expect(chip.locator(".state")).to_have_text("shown via hook")
        chip = page.locator(
            f'#timeline li[data-id="{unseen}"] .receipt[data-recipient="bob (web)"]'
        )
        expect(chip).to_have_attribute("data-state", "delivered")
        chip = page.locator(f'#timeline li[data-id="{waiting}"] .receipt')
        expect(chip).to_have_attribute("data-state", "accepted")
        expect(chip).to_have_attribute("data-recipient", "carol (web)")


def test_a_delivery_not_shown_for_two_minutes_is_marked(page: Page, live: ThreadedBridge) -> None:
    """The page's own clock moves 3 minutes on: bob's unread message turns 'stale'."""
    page.clock.install()
    with peer(live, "alice") as alice, peer(live, "bob"):
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        message_id = alice.send("bob", "anyone there?")
        chip = page.locator(f'#timeline li[data-id="{message_id}"] .receipt')
        expect(chip).to_have_attribute("data-state", "delivered")
        expect(chip).not_to_have_class(re.compile(r"\bstale\b"))
        page.clock.fast_forward("03:00")
        expect(chip).to_have_class(re.compile(r"\bstale\b"))


def test_a_hello_refused_for_another_reason_is_tried_again(
    page: Page, live: ThreadedBridge
) -> None:
    """Not a token problem (the bridge shutting down): the page says why and tries again,
    without asking for a token; the next try reaches the bridge."""
    tries: list[str] = []

    def route(ws: WebSocketRoute) -> None:
        tries.append(ws.url)
        if len(tries) == 1:

            def refuse(message: str | bytes) -> None:
                hello = json.loads(message)
                error = {"type": "error", "rid": hello["rid"], "code": "shutting_down",
                         "message": "the bridge is shutting down", "hint": "reconnect"}  # fmt: skip
                ws.send(json.dumps(error))

            ws.on_message(refuse)
        else:
            ws.connect_to_server()

    page.route_web_socket(re.compile(r"^ws://"), route)
    page.goto(dashboard_url(live))
    expect(page.locator("#status")).to_contain_text("refused: the bridge is shutting down")
    expect(page.locator("#login")).to_be_hidden()
    expect(page.locator("#status")).to_have_text("live")
    assert len(tries) == 2


def test_a_proposal_that_ended_while_the_page_was_away_is_read_again(
    page: Page, live: ThreadedBridge
) -> None:
    """The page's link drops; the proposal is decided before it is back; the snapshot no
    longer lists it as open, so the page asks for it and shows the verdict."""
    routes: list[WebSocketRoute] = []
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        proposal = alice.propose("Merge on Friday?", ["alice", "bob"])

        def route(ws: WebSocketRoute) -> None:
            routes.append(ws)
            if len(routes) == 2:  # the page is reconnecting: decide it first
                alice.vote(proposal["id"], "approve")
                bob.vote(proposal["id"], "approve")
            ws.connect_to_server()

        page.route_web_socket(re.compile(r"^ws://"), route)
        page.goto(dashboard_url(live))
        card = page.locator(f'#proposals li[data-proposal="{proposal["id"]}"]')
        expect(card.locator(".status")).to_have_text("open")
        routes[0].close()
        expect(card.locator(".status")).to_have_text("decided: approved")
        assert len(routes) == 2


def test_the_operator_replies_as_a_person_from_a_conversation(
    page: Page, live: ThreadedBridge
) -> None:
    """In a pair's conversation the operator sends as a named person: the agent gets it
    marked human, and it appears in the conversation as it passes."""
    with peer(live, "alice") as alice, peer(live, "bob") as bob:
        alice.send("bob", "shall I delete the old tables?")
        assert bob.read_all() == 1
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        page.locator("#timeline li.message .peer-link").first.click()
        page.locator("#reply-as").fill("Ada")
        page.locator("#reply-to").select_option("alice (web)")
        page.locator("#reply-body").fill("No: keep them until Monday.")
        page.locator("#reply-form button").click()
        (got,) = alice.take()
        assert (got.sender, got.body, got.human) == (
            "Ada (ai-connect)",
            "No: keep them until Monday.",
            True,
        )
        row = page.locator(f'#conversation li[data-id="{got.id}"]')
        expect(row.locator(".badge.human")).to_have_text("human")
        expect(page.locator("#reply-body")).to_have_value("")


def test_a_message_of_another_day_shows_its_date(page: Page, live: ThreadedBridge) -> None:
    """Times of today's messages are times of day; a message of another day has its date."""
    with peer(live, "alice") as alice:
        page.goto(dashboard_url(live))
        expect(page.locator("#status")).to_have_text("live")
        today = alice.send("alice", "today")
        stamp = page.locator(f'#timeline li[data-id="{today}"] time')
        expect(stamp).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
        page.clock.set_fixed_time(time.time() + 2 * 86400)  # the page lives two days on
        later = alice.send("alice", "two days ago, for the page")
        stamp = page.locator(f'#timeline li[data-id="{later}"] time')
        expect(stamp).to_have_text(re.compile(r"^\d{1,4}\D\d{1,2}\D\d{1,4} \d\d:\d\d:\d\d$"))
