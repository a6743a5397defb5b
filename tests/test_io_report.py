"""The --io-report plugin (tests/io_report.py): what it records, and that it lets go."""

from __future__ import annotations

import asyncio
import socket

from tests.io_report import KINDS, IoReport


def test_a_test_is_counted_under_the_heaviest_thing_it_touched() -> None:
    """A bind on 127.0.0.1 and a new event loop make a test 'tcp'; a socketpair is no call."""
    report = IoReport(None)
    report.start()
    try:
        report.current = "t.py::binds"
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
        asyncio.new_event_loop().close()
        report.current = "t.py::pairs"
        ours, theirs = socket.socketpair()
        ours.close()
        theirs.close()
    finally:
        report.stop()
    assert report.tests["t.py::binds"].touched == {"tcp", "loop"}
    assert report.tests["t.py::binds"].kind == "tcp"
    assert report.tests["t.py::pairs"].touched == set()
    assert report.tests["t.py::pairs"].kind == "pure" == KINDS[0]


def test_stop_restores_the_wrapped_calls() -> None:
    """After stop() nothing is recorded and socket.bind is the original again."""
    original = socket.socket.bind
    report = IoReport(None)
    report.start()
    assert socket.socket.bind is not original
    report.stop()
    assert socket.socket.bind is original
    report.current = "t.py::after"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
    assert "t.py::after" not in report.tests
