"""Makes docs/dashboard.png: the web dashboard of a bridge with a little traffic.

    .venv/bin/python scripts/screenshot_dashboard.py [OUT.png]

Starts a bridge in memory with the dashboard on (127.0.0.1, a free port), connects three
peers that talk, acknowledge, and vote on a proposal, opens the dashboard in Debian's
headless Chromium through Playwright (`sh scripts/ensure_deb.sh chromium chromium
dashboard` installs it) and
saves the page. Needs the test extras (sh scripts/setup.sh --test).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from playwright.async_api import async_playwright

from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.client import BridgeClient

OUT = Path(__file__).resolve().parent.parent / "docs" / "dashboard.png"


async def client(url: str, name: str, project: str) -> BridgeClient:
    peer = BridgeClient(url, name, project, kind="mcp", reconnect=False)
    await peer.connect()
    return peer


async def read(peer: BridgeClient) -> None:
    """Shows every waiting message to the 'agent' (acks them, as a hook would)."""
    found = await peer.wait(5.0)
    await peer.ack(found, path="hook")


async def traffic(url: str) -> list[BridgeClient]:
    alice = await client(url, "alice", "api")
    bob = await client(url, "bob", "web")
    carol = await client(url, "carol", "infra")
    proposal = await alice.propose(
        "Release orders v2 to production on Thursday?", ["alice", "bob", "carol"]
    )
    await alice.vote(proposal["id"], "approve", "load tests passed")
    for peer in (alice, bob, carol):
        await read(peer)
    await alice.send(
        "bob",
        "The /v2/orders endpoint now returns cursor pagination. Can the web client switch?",
        thread="orders-v2",
        context={"kind": "code", "file": "api/orders.py", "lines": "40-88", "repo": "shop"},
    )
    await read(bob)
    await bob.send(
        "alice",
        "Yes: I'll switch the list view today. Is `next` null on the last page?",
        thread="orders-v2",
    )
    await read(alice)
    await alice.send("bob", "Null on the last page, and never a partial page.", thread="orders-v2")
    await carol.send("*", "Heads-up: staging database restarts at 14:00 UTC (5 minutes).")
    await read(alice)
    await carol.vote(proposal["id"], "reject", "wait for the rollback drill on Wednesday")
    await carol.send("bob", "Did the web client get the cursor change in?", thread="orders-v2")
    return [alice, bob, carol]


async def main(out: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium: sh scripts/ensure_deb.sh chromium chromium dashboard")
    server = BridgeServer(MemoryStore(), ServerSettings(port=0, ui=True))
    await server.start()
    try:
        async with async_playwright() as playwright:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = await playwright.chromium.launch(executable_path=chromium, args=args)
            page = await browser.new_page(viewport={"width": 1400, "height": 820})
            await page.goto(server.url.replace("ws", "http", 1) + "/ui/")
            await page.locator("#status", has_text="live").wait_for()
            peers = await traffic(server.url)
            await page.locator('.receipt[data-recipient="carol (infra)"]').first.wait_for()
            await page.locator('.receipt[data-state="shown"]').first.wait_for()
            await page.screenshot(path=str(out))
            await browser.close()
            for peer in peers:
                await peer.close()
    finally:
        await server.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
