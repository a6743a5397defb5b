"""``/metrics``: the router's counts, the text Prometheus reads, and who may scrape."""

from __future__ import annotations

import asyncio
import dataclasses
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ai_connect.bridge import metrics
from ai_connect.bridge.auth import new_token
from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.state import Census
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.client import BridgeClient
from ai_connect.protocol import Limits

from .helpers import START, addr, pair

ALICE, BOB = addr("Alice"), addr("Bob")


def samples(text: bytes | str) -> dict[str, float]:
    """name{labels} -> value of every sample in a metrics text."""
    found = {}
    raw = text.decode() if isinstance(text, bytes) else text
    for family in text_string_to_metric_families(raw):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            found[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return found


def scrape_of(census: Census, commits: metrics.CommitTimes | None = None) -> bytes:
    scrape = metrics.Scrape("t", "memory", START, census, commits or metrics.CommitTimes(), None)
    return metrics.render(lambda: scrape)


def test_counts_follow_messages_acks_and_refusals() -> None:
    """accepted, delivered, acked, unread and refused count what the router did."""
    bridge = pair()
    bridge.send(1, BOB, "one")
    bridge.send(1, BOB, "two")
    bridge.send(1, BOB, "two", cid="c2")  # a resend of the second: a duplicate
    bridge.settle()
    bridge.ack(2, 1)
    bridge.send(1, "nobody")
    bridge.settle()
    found = samples(scrape_of(bridge.router.census()))
    assert found["ai_connect_messages_accepted_total"] == 2
    assert found["ai_connect_messages_duplicate_total"] == 1
    assert found["ai_connect_messages_delivered_total"] == 2
    assert found["ai_connect_messages_acked_total"] == 1
    assert (found["ai_connect_mailbox_unread"], found["ai_connect_mailbox_unread_max"]) == (1, 1)
    assert found['ai_connect_refused_total{code="unknown_peer"}'] == 1
    assert (found["ai_connect_peers_online"], found["ai_connect_peers_known"]) == (2, 2)


def test_rate_limited_connections_are_counted() -> None:
    """Each time a connection is slowed to its rate counts once."""
    bridge = pair(rate_per_s=1, rate_burst=1)
    for _ in range(3):
        bridge.frame(1, type="ping")
    assert bridge.router.census().counts.throttled >= 2


def test_commit_latency_is_a_histogram_per_commit() -> None:
    """Commit times land in their bucket; count and sum add up."""
    commits = metrics.CommitTimes()
    for seconds in (0.0004, 0.003, 0.003, 9.0):
        commits.observe(seconds)
    found = samples(scrape_of(pair().router.census(), commits))
    assert found['ai_connect_commit_seconds_bucket{le="0.0005"}'] == 1
    assert found['ai_connect_commit_seconds_bucket{le="0.005"}'] == 3
    assert found['ai_connect_commit_seconds_bucket{le="2.5"}'] == 3
    assert found['ai_connect_commit_seconds_bucket{le="+Inf"}'] == 4
    assert found["ai_connect_commit_seconds_count"] == 4
    assert found["ai_connect_commit_seconds_sum"] == pytest.approx(9.0064)


OPS_TOKEN, OPS = new_token("ops", ["ops"], admin=True, now=START)
ALICE_TOKEN, ALICE_RECORD = new_token("alice", now=START)


@pytest.mark.parametrize(
    ("remote", "authorization", "tokens", "allowed"),
    [
        ("127.0.0.1", None, (), True),
        ("::1", None, (), True),
        ("192.0.2.7", None, (OPS,), False),
        ("192.0.2.7", f"Bearer {OPS_TOKEN}", (OPS,), True),
        ("192.0.2.7", f"Bearer {ALICE_TOKEN}", (ALICE_RECORD,), False),
        ("192.0.2.7", f"Bearer {OPS_TOKEN}", (dataclasses.replace(OPS, revoked=START),), False),
        ("192.0.2.7", f"Bearer {OPS_TOKEN}", (dataclasses.replace(OPS, expires=START),), False),
        ("192.0.2.7", f"Bearer {OPS_TOKEN}x", (OPS,), False),
    ],
)
def test_who_may_scrape(
    remote: str, authorization: str | None, tokens: tuple[object, ...], allowed: bool
) -> None:
    """Loopback always; elsewhere only a valid, unexpired, unrevoked admin token."""
    assert metrics.may_scrape(remote, authorization, tokens, START + 1) is allowed  # type: ignore[arg-type]


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_a_running_bridge_serves_metrics(tmp_path: Path) -> None:
    """GET /metrics on the bridge's port: the text format, with a message counted and the
    database's size."""

    async def scenario() -> tuple[int, str, str]:
        settings = ServerSettings(port=0, limits=Limits())
        async with BridgeServer(SqliteStore(tmp_path / "b.db"), settings) as server:
            alice = BridgeClient(server.url, "alice", "p", reconnect=False)
            await alice.connect()
            try:
                await alice.send("alice", "to myself")
                return await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/metrics")
            finally:
                await alice.close()

    status, kind, text = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert status == 200 and kind == metrics.CONTENT_TYPE and kind.startswith("text/plain")
    found = samples(text)
    assert found["ai_connect_messages_accepted_total"] == 1
    assert found["ai_connect_connections"] == 1
    assert found["ai_connect_database_bytes"] > 0
    assert found["ai_connect_commit_seconds_count"] >= 1


def test_a_refused_scrape_gets_403_with_the_way_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A scraper that may not (not loopback, no admin token) gets 403 saying how."""
    monkeypatch.setattr(metrics, "may_scrape", lambda *args: False)

    async def scenario() -> tuple[int, str, str]:
        store = SqliteStore(tmp_path / "b.db")
        async with BridgeServer(store, ServerSettings(port=0)) as server:
            return await asyncio.to_thread(get, f"http://127.0.0.1:{server.port}/metrics")

    status, _, text = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert status == 403 and "Authorization: Bearer" in text
