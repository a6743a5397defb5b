"""Unattended round trips between real clients (issue 9): how long a wake takes.

    python bench/agents_bench.py [--rounds 5] [--pairs claude,codex,gemini]

For each pair (Claude Code with Claude Code, with Codex CLI, with Gemini CLI, the pinned
versions of scripts/ensure_clients.sh), the exchange of tests/agents/test_round_trips.py
runs ROUNDS times after one prompt: A's model asks B with peer_send, B is woken (Codex:
through ``codex queue``; Gemini: its held turn continues) and answers with peer_send, A
is woken by the answer. Measured, per direction, from the scripted model's peer_send
call being answered until the woken side's next model request arrives (both on the
scripted API's side, one clock): p50 and max of ROUNDS.

Reference in the same run: the bridge alone, a BridgeClient's send until another
BridgeClient has the deliver (50 times, p50). Every wait is bounded (tests/agents).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from tests.agents.clients import versions  # noqa: E402
from tests.agents.pairs import agent, both, round_trips  # noqa: E402
from tests.client.support import bridge, make_client  # noqa: E402


async def reference(url: str, count: int = 50) -> float:
    async with make_client(url, "ref-a") as a, make_client(url, "ref-b") as b:
        samples = []
        for i in range(count):
            begun = time.perf_counter()
            await a.send(b.address or "ref-b", f"ref {i}")
            found = await b.wait(5)
            samples.append(time.perf_counter() - begun)
            await b.ack(found, wait=True)
        return statistics.median(samples)


async def pair(peer: str, rounds: int, root: Path) -> tuple[list[float], list[float]]:
    async with (
        bridge() as br,
        both(
            agent("claude", versions("claude")[0], root, "ann", br.url),
            agent(peer, versions(peer)[0], root, "bob", br.url),
        ) as (a, b),
    ):
        exchange = await round_trips(a, b, rounds)
    return exchange.question_s, exchange.answer_s


async def main(rounds: int, peers: list[str]) -> None:
    async with bridge() as br:
        ref = await reference(br.url)
    rows = []
    for peer in peers:
        with tempfile.TemporaryDirectory() as root:
            question, answer = await asyncio.wait_for(pair(peer, rounds, Path(root)), 600)
        rows.append((peer, question, answer))
    load = os.getloadavg()[0]
    print(f"# wake latency, {rounds} rounds per pair, load {load:.2f}, pinned versions")
    print("| pair | A->B: send to B's woken request, p50 (max) | B->A: p50 (max) | how B wakes |")
    print("|---|---|---|---|")
    how = {"claude": "Stop hook, asyncRewake", "codex": "async Stop hook + codex queue",
           "gemini": "AfterAgent hook holds the turn (advisor)"}  # fmt: skip
    for peer, question, answer in rows:
        q = f"{statistics.median(question):.2f} s ({max(question):.2f})"
        r = f"{statistics.median(answer):.2f} s ({max(answer):.2f})"
        print(f"| Claude Code -> {peer} | {q} | {r} | {how[peer]} |")
    print(f"| reference: bridge send -> deliver | {ref * 1000:.1f} ms | | |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pairs", default="claude,codex,gemini")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.pairs.split(",")))
