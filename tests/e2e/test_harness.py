"""The bridge process harness (tests/support/bridge.py): ready by its FIFO, loud when not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.process import BridgeProcess


def test_a_bridge_that_cannot_start_fails_at_its_exit_with_its_log(tmp_path: Path) -> None:
    """A bridge that exits before it listens ends the wait at its exit, not at the timeout."""
    broken = BridgeProcess(tmp_path, "--tls-cert", str(tmp_path / "missing.pem"))
    try:
        with pytest.raises(AssertionError, match=r"exited \(\d+\) before it was ready") as failed:
            broken.start(timeout=60)
    finally:
        broken.stop()
    assert "bridge1.stderr.log" in str(failed.value)
