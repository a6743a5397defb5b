"""What the whole suite shares: no test writes log files into the real home."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest


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
