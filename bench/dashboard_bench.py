"""The web dashboard shows a message within 50 ms of its acceptance (issue 12, acceptance).

    python bench/dashboard_bench.py [--messages 200] [--store sqlite|memory] [--markdown]

One bridge process (``python -m ai_connect bridge --ui --port 0``, fresh database). The
dashboard is open in Debian's headless Chromium (Playwright, ``executable_path``; sh
scripts/ensure_deb.sh installs it). This process plays two peers, ``alice`` sends
to ``bob`` (who acks each message, as an agent's hook would), one message at a time,
and a **reference** observer: a BridgeClient with ``mode="observe"`` reading the same
feed in Python, with no page to draw.

For each message, on one clock (this machine's; the page's ``performance.timeOrigin +
performance.now()`` is epoch time too):

- **accepted**: ``alice``'s ``accepted`` reply has arrived (the message is durable);
- **observer**: the reference observer got the feed's ``message`` event;
- **page (DOM)**: the row is in the page's DOM (a MutationObserver in the page notes it);
- **page (frame)**: the next animation frame after that, i.e. when it is painted.

Figures are the time from ``accepted`` to each (negative: it came before ``accepted``
reached alice; the bridge writes both in the same loop turn), and from the send call.
The next message is sent once the page painted the last one. Target: page (frame)
within 50 ms of acceptance.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import shutil
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from playwright.async_api import async_playwright

from ai_connect.client import BridgeClient
from ai_connect.protocol import FeedEvent
from harness import BridgeOptions, BridgeProcess, OtherLoad

TARGET_MS = 50.0
WATCH = """() => {
  window.__seen = {};
  const list = document.getElementById("timeline");
  new MutationObserver((records) => {
    const at = performance.timeOrigin + performance.now();
    for (const r of records) for (const node of r.addedNodes) {
      const id = node.dataset && node.dataset.id;
      if (id && !window.__seen[id]) {
        const seen = (window.__seen[id] = { dom: at, frame: null });
        requestAnimationFrame(() => { seen.frame = performance.timeOrigin + performance.now(); });
      }
    }
  }).observe(list, { childList: true });
}"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    return (
        f"p50 {statistics.median(ordered):6.1f}  p95 {pct(ordered, 95):6.1f}  "
        f"p99 {pct(ordered, 99):6.1f}  "
        f"max {ordered[-1]:6.1f} ms"
    )


async def observe(client: BridgeClient, seen: dict[str, float]) -> None:
    async for item in client.observe():
        if isinstance(item, FeedEvent) and item.kind == "message" and item.message is not None:
            seen.setdefault(item.message.id, time.time())


async def acker(bob: BridgeClient) -> None:
    while True:
        found = await bob.wait(60.0)
        await bob.ack(found, wait=False)


async def run(messages: int, store: str) -> dict[str, list[float]]:
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("needs Debian's chromium: sh scripts/ensure_deb.sh chromium chromium dashboard")
    options = BridgeOptions(store=store, extra_args=("--ui",))
    async with BridgeProcess(options, "dashboard") as bridge, async_playwright() as pw:
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        browser = await pw.chromium.launch(executable_path=chromium, args=args)
        page = await browser.new_page()
        await page.goto(bridge.url.replace("ws", "http", 1) + "/ui/")
        await page.locator("#status", has_text="live").wait_for(timeout=10_000)
        await page.evaluate(WATCH)
        alice = BridgeClient(bridge.url, "alice", "bench", kind="mcp", reconnect=False)
        bob = BridgeClient(bridge.url, "bob", "bench", kind="mcp", reconnect=False)
        ops = BridgeClient(bridge.url, "ops", "bench", kind="watch", mode="observe")
        at_observer: dict[str, float] = {}
        tasks = []
        try:
            for client in (alice, bob, ops):
                await client.connect()
            tasks = [
                asyncio.create_task(observe(ops, at_observer)),
                asyncio.create_task(acker(bob)),
            ]
            sent, accepted = {}, {}
            for n in range(messages):
                begun = time.time()
                receipt = await alice.send("bob", f"message {n}: " + "x" * 200)
                done = time.time()
                assert receipt.id is not None
                sent[receipt.id], accepted[receipt.id] = begun, done
                await page.wait_for_function(
                    "id => window.__seen[id] && window.__seen[id].frame !== null",
                    arg=receipt.id,
                    timeout=10_000,
                )
            at_page: dict[str, Any] = await page.evaluate("() => window.__seen")
        finally:
            for task in tasks:
                task.cancel()
            for client in (alice, bob, ops):
                await client.close()
            await browser.close()
    out: dict[str, list[float]] = {
        k: [] for k in ("observer", "dom", "frame", "frame_from_send", "accepted_from_send")
    }
    for mid, acc in accepted.items():
        out["observer"].append((at_observer[mid] - acc) * 1000)
        out["dom"].append(at_page[mid]["dom"] - acc * 1000)
        out["frame"].append(at_page[mid]["frame"] - acc * 1000)
        out["frame_from_send"].append(at_page[mid]["frame"] - sent[mid] * 1000)
        out["accepted_from_send"].append((acc - sent[mid]) * 1000)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args(argv)
    others = OtherLoad()
    load = os.getloadavg()[0]
    figures = asyncio.run(run(args.messages, args.store))
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("send → accepted (the reference: the commit)", figures["accepted_from_send"]),
        ("accepted → observer (reference: Python, no page)", figures["observer"]),
        ("accepted → page DOM", figures["dom"]),
        ("accepted → page painted (target ≤ 50 ms)", figures["frame"]),
        ("send → page painted", figures["frame_from_send"]),
    ]
    print(
        f"dashboard_bench {when}: {args.messages} messages, store {args.store}, "
        f"load average {load:.2f} at start; {others.summary()}"
    )
    for label, values in rows:
        line = (
            f"| {label} | {summary(values)} |" if args.markdown else f"{label:52} {summary(values)}"
        )
        print(line)
    worst = sorted(figures["frame"])[int(0.99 * (len(figures["frame"]) - 1))]
    print(
        f"target: painted within {TARGET_MS:.0f} ms of acceptance at p99: "
        f"{'met' if worst <= TARGET_MS else 'MISSED'} ({worst:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
