"""The database is private from its first byte: folder 0700, file, -wal and -shm 0600,
whatever the umask; a wider existing mode is warned about, never silently kept quiet
(issue 11, item 7; docs/security.md)."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.lock import DatabaseLock, lock_path
from ai_connect.doctor.checks import Outcome, check_database
from ai_connect.private_files import exposed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The common umask 022, which makes new files 0644 and folders 0755 by default."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_a_new_database_and_its_folder_are_private(tmp_path: Path, open_umask: None) -> None:
    """Folder 0700; database, -wal, -shm and the bridge's lock file 0600."""
    db = tmp_path / "data" / "ai-connect" / "bridge.db"
    with DatabaseLock(db), SqliteStore(db) as store:
        assert store.exposed == []
        store.tokens()  # a read: the WAL and its index exist now
        assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()
        assert mode(db.parent) == 0o700
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), lock_path(db)):
            assert mode(path) == 0o600, path
        assert exposed(db) == []


def test_an_existing_readable_database_is_warned_about_and_left_as_it_is(
    tmp_path: Path, open_umask: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A 0644 database in a 0755 folder (made by an older ai-connect): the store opens it,
    logs one WARNING naming each path and the chmod fix, and changes no mode."""
    folder = tmp_path / "data"
    folder.mkdir(mode=0o755)
    db = folder / "bridge.db"
    SqliteStore(db).close()
    db.chmod(0o644)
    folder.chmod(0o755)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "ai_connect.bridge.store"), SqliteStore(db) as store:
        assert {e.path for e in store.exposed} >= {db, folder}
    [record] = [r for r in caplog.records if r.name == "ai_connect.bridge.store"]
    assert record.levelno == logging.WARNING
    assert f"chmod 600 {db}" in record.getMessage()
    assert f"chmod 700 {folder}" in record.getMessage()
    assert (mode(db), mode(folder)) == (0o644, 0o755)


def test_a_shared_sticky_folder_is_not_the_problem(tmp_path: Path) -> None:
    """In a sticky folder (as /tmp), only the files' own modes count."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o1777)
    db = folder / "bridge.db"
    SqliteStore(db).close()
    assert exposed(db) == []


def test_doctor_flags_a_readable_wal(tmp_path: Path) -> None:
    """ai-connect doctor checks -wal and -shm too, with the same rule the bridge uses."""
    db = tmp_path / "private" / "bridge.db"
    with SqliteStore(db) as store:
        store.tokens()
    env = {"AI_CONNECT_DB": str(db), "AI_CONNECT_CONFIG": str(tmp_path / "none.yaml")}
    assert check_database(env).outcome is Outcome.PASS
    wal = Path(f"{db}-wal")
    wal.touch()
    wal.chmod(0o644)
    check = check_database(env)
    assert check.outcome is Outcome.WARN
    assert f"chmod 600 {wal}" in check.fix
