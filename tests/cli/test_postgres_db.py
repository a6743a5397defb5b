"""``--db postgresql://...`` (and ``server.db``, ``AI_CONNECT_DB``) select PostgreSQL; a
path keeps SQLite; anything else is refused, never taken for a folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.cli import main
from ai_connect.config import bridge_settings
from ai_connect.errors import ConfigError
from tests.e2e.conftest import Agents, shown
from tests.support.process import ROOT, BridgeProcess

URL = "postgresql://bridge:secret@db.example:5432/aic"


def settings_env(tmp_path: Path, config: str = "") -> dict[str, str]:
    path = tmp_path / "config.yaml"
    path.write_text(config, encoding="utf-8")
    return {"AI_CONNECT_CONFIG": str(path)}


def test_a_url_selects_postgres_from_flag_env_or_config(tmp_path: Path) -> None:
    """A postgresql:// URL from --db, AI_CONNECT_DB or server.db is a URL, not a path."""
    env = settings_env(tmp_path)
    flag = bridge_settings(db=URL, env=env)
    assert flag.db_url == URL
    assert bridge_settings(env={**env, "AI_CONNECT_DB": "postgres://h/x"}).db_url == (
        "postgres://h/x"
    )
    config = settings_env(tmp_path, f"server:\n  db: {URL}\n")
    assert bridge_settings(env=config).db_url == URL


def test_a_path_keeps_sqlite(tmp_path: Path) -> None:
    """A path, or sqlite:PATH, is an SQLite file; no URL is set."""
    env = settings_env(tmp_path)
    plain = bridge_settings(db=str(tmp_path / "b.db"), env=env)
    assert plain.db_url is None and plain.db == tmp_path / "b.db"
    prefixed = bridge_settings(db=f"sqlite:{tmp_path}/c.db", env=env)
    assert prefixed.db_url is None and prefixed.db == tmp_path / "c.db"


@pytest.mark.parametrize("value", ["mysql://u@h/db", "redis://h", "sqlite:"])
def test_other_urls_are_refused_saying_what_to_give(tmp_path: Path, value: str) -> None:
    """A URL of another database fails with a ConfigError naming both forms."""
    with pytest.raises(ConfigError, match=r"file path.*postgresql://"):
        bridge_settings(db=value, env=settings_env(tmp_path))


def test_token_commands_work_on_a_postgres_database(
    pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """ai-connect token create/list --db postgresql://... store in PostgreSQL."""
    assert main(["token", "create", "ops", "--admin", "--db", pg_url]) == 0
    token = capsys.readouterr().out.strip()
    with PostgresStore(pg_url) as store:
        (record,) = store.tokens()
    assert token.startswith(f"aic_{record.id}") or record.id in token
    assert main(["token", "list", "--db", pg_url]) == 0
    assert record.id in capsys.readouterr().out


def test_the_bridge_runs_on_postgres_and_nodes_share_it(pg_url: str, tmp_path: Path) -> None:
    """ai-connect bridge --db postgresql://... stores in PostgreSQL (no 'postgresql:'
    folder appears) and takes no one-bridge lock: two node processes run on one database,
    and mail left through node A for an offline peer reaches it on node B, in order."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    agents = Agents(tmp_path)
    out = tmp_path / "bob.jsonl"
    with (
        BridgeProcess(tmp_path / "a", db=pg_url) as a,
        BridgeProcess(tmp_path / "b", db=pg_url) as b,
    ):
        assert a.proc is not None
        a.proc.expect(lambda s: "(storage: postgresql://" in s, "the storage line")
        try:
            bob = agents.start("register", a.url, "bob", "--session", "bob-s")
            address = bob.expect_word("welcome")
            bob.finish()
            agents.send(a.url, "alice", address, 20).finish(timeout=30)
            agents.receive(b.url, "bob", out, "--expect", "20", "--session", "bob-s").finish(
                timeout=30
            )
        finally:
            agents.stop()
    assert [m["seq"] for m in shown(out)] == list(range(1, 21))
    with PostgresStore(pg_url) as store:
        assert [m.body for m in store.history("bob (proj)", None, 100, None)[0]][-1].endswith("19")
    assert not (ROOT / "postgresql:").exists() and not (tmp_path / "postgresql:").exists()


def test_the_bridge_refuses_another_database_url(tmp_path: Path) -> None:
    """ai-connect bridge --db mysql://... exits 1 saying what to give, creating nothing."""
    args = [sys.executable, "-m", "ai_connect", "bridge", "--port", "0", "--db", "mysql://h/x"]
    done = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "postgresql://" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and list(tmp_path.iterdir()) == []
