"""What the whole suite shares: ``--io-report`` (tests/io_report.py), and no test writes
log files into the real home."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests import io_report
from tests.pg import own_pg_server, pg_server, pg_url  # PostgreSQL fixtures, for every test

__all__ = ["own_pg_server", "pg_server", "pg_url"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds ``--io-report[=FILE]``."""
    io_report.add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Starts recording when ``--io-report`` was given."""
    io_report.register(config)


@pytest.fixture(autouse=True, scope="session")
def _private_log_folder() -> Iterator[None]:
    """``ai-connect bridge``/``mcp`` processes started by tests log under a temporary XDG
    state folder (ai_connect.logfiles), not into ~/.local/state."""
    saved = os.environ.get("XDG_STATE_HOME")
    with tempfile.TemporaryDirectory(prefix="ai-connect-tests-state-") as folder:
        os.environ["XDG_STATE_HOME"] = folder
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = saved
