"""ai-connect token create/list/revoke on a database, and the bridge's safe-default checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.bridge.auth import new_token, token_hash
from ai_connect.bridge.store.base import AppendOp, BuryOp, StoredMessage, WriteBatch
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.cli import main
from ai_connect.cli.bridge import exposure_problem


def test_create_prints_the_token_once_and_stores_only_its_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The token goes to stdout once; the database holds its hash, list never shows it."""
    db = tmp_path / "b.db"
    assert main(["token", "create", "alice", "--names", "alice,ci-*", "--db", str(db)]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert token.startswith("aic_") and "may register: alice, ci-*" in err
    with SqliteStore(db) as store:
        (record,) = store.tokens()
    assert record.hash == token_hash(token) and record.names == ("alice", "ci-*")
    assert main(["token", "list", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert record.id in listing and "active" in listing and token not in listing
    assert main(["token", "list", "--json", "--db", str(db)]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == record.id and "token" not in row and "hash" not in row


def test_admin_and_expiry_are_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--admin and --expires are stored; --json output carries them (and the token, once)."""
    db = tmp_path / "b.db"
    assert main(["token", "create", "ops", "--admin", "--expires", "30d", "--json",
                 "--db", str(db)]) == 0  # fmt: skip
    data = json.loads(capsys.readouterr().out)
    assert data["admin"] is True and data["expires"] > data["created"] + 29 * 86400
    assert data["token"].startswith("aic_")


def test_revoke_by_id_or_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """revoke takes an id or a name (all its tokens); a second revoke says it was done."""
    db = tmp_path / "b.db"
    for _ in range(2):
        main(["token", "create", "bob", "--db", str(db)])
    main(["token", "create", "carol", "--db", str(db)])
    capsys.readouterr()
    with SqliteStore(db) as store:
        carol = next(t for t in store.tokens() if t.name == "carol")
    assert main(["token", "revoke", carol.id, "--db", str(db)]) == 0
    assert main(["token", "revoke", "bob", "--db", str(db)]) == 0
    assert capsys.readouterr().out.count("revoked") == 3
    assert main(["token", "revoke", "bob", "--db", str(db)]) == 0
    assert "already revoked" in capsys.readouterr().out
    with SqliteStore(db) as store:
        assert all(t.revoked is not None for t in store.tokens())


def test_bad_input_is_an_error_with_advice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown token, a bad expiry or a bad name exits 1 and says what to do."""
    db = tmp_path / "b.db"
    assert main(["token", "revoke", "nobody", "--db", str(db)]) == 1
    assert "ai-connect token list" in capsys.readouterr().err
    assert main(["token", "create", "x", "--expires", "someday", "--db", str(db)]) == 1
    assert "30d" in capsys.readouterr().err
    assert main(["token", "create", "a\x1bb", "--db", str(db)]) == 1


def test_an_expiry_past_any_calendar_is_refused_and_an_old_one_still_lists(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--expires 99999999999999999d` stored the token, then died of an OverflowError
    printing its date, and every later `token list` died too: now it is refused before
    anything is stored, and a record that already holds such a date lists as 'after 9999'."""
    db = tmp_path / "b.db"
    huge = ["token", "create", "x", "--expires", "99999999999999999d", "--db", str(db)]
    assert main(huge) == 1
    assert "is after 9999-12-31; leave --expires out" in capsys.readouterr().err
    _, record = new_token("old", now=0.0, expires=1e18)
    with SqliteStore(db) as store:
        assert [t.name for t in store.tokens()] == []
        store.put_token(record)
    assert main(["token", "list", "--db", str(db)]) == 0
    assert "old  names: old" in (out := capsys.readouterr().out) and "expires after 9999" in out


def test_only_loopback_may_listen_without_auth() -> None:
    """exposure_problem: loopback is fine; any other address needs auth, and says how."""
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert exposure_problem(host, auth=False, db="d") is None
    for host in ("0.0.0.0", "::", "192.168.1.5", "bridge.example"):
        assert exposure_problem(host, auth=True, db="d") is None
        problem = exposure_problem(host, auth=False, db="/x/b.db")
        assert problem and "ai-connect token create NAME --db /x/b.db" in problem


def test_the_bridge_refuses_to_listen_beyond_loopback_without_auth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """ai-connect bridge --host 0.0.0.0 with no token exits 1 before binding anything."""
    db = tmp_path / "b.db"
    code = main(["bridge", "--host", "0.0.0.0", "--port", "0", "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 1 and "refusing to listen on 0.0.0.0 without auth" in err
    assert "token create" in err and "--insecure" in err
    assert main(["bridge", "--memory", "--auth", "--port", "0"]) == 1
    assert "--auth needs a database" in capsys.readouterr().err


def test_admin_dead_letters_lists_what_the_bridge_moved_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """admin dead-letters reads the database: none at first, then the buried message."""
    db = tmp_path / "bridge.db"
    assert main(["admin", "dead-letters", "--db", str(db)]) == 0
    assert "No dead letters" in capsys.readouterr().out
    with SqliteStore(db) as store:
        store.commit(WriteBatch(appends=[AppendOp(message(), ("Bob (p)",))]))
        (entry,) = store.pending("Bob (p)", 0, 10, 1 << 20)
        store.commit(WriteBatch(buries=[BuryOp(entry.key, "its body does not match", 1.0)]))
    assert main(["admin", "dead-letters", "--db", str(db), "--json"]) == 0
    (dead,) = json.loads(capsys.readouterr().out)
    assert (dead["id"], dead["recipients"], dead["reason"]) == (
        "m1",
        ["Bob (p)"],
        "its body does not match",
    )
    assert main(["admin", "dead-letters", "--db", str(db)]) == 0
    assert "m1  from Alice (p) to Bob (p): its body does not match" in capsys.readouterr().out


def message() -> StoredMessage:
    return StoredMessage("m1", "Alice (p)", "Bob (p)", "hello", None, None, None, 5.0, "c1")
