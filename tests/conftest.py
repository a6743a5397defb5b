"""Options for the whole suite: ``--io-report`` (tests/io_report.py)."""

from __future__ import annotations

import pytest

from tests import io_report


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds ``--io-report[=FILE]``."""
    io_report.add_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Starts recording when ``--io-report`` was given."""
    io_report.register(config)
