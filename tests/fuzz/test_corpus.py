"""The fuzzing corpus: the nastiest inputs found or crafted, replayed as regression tests.

Each ``corpus/*.json`` holds a ``description`` and ``frames`` (JSON text, or
``{"hex": ...}`` for binary frames), replayed on one connection against the pure router
and against a real bridge over a socket, with the checks of the fuzz tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.bridge import ThreadedBridge

from ..security.support import LogRecorder
from .test_router_fuzz import Fuzz
from .test_server_fuzz import replay

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.json"))


def load(path: Path) -> list[str | bytes]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["description"] and data["frames"], path.name
    return [bytes.fromhex(f["hex"]) if isinstance(f, dict) else f for f in data["frames"]]


def test_the_corpus_holds_the_nastiest_cases() -> None:
    """The corpus covers cursors, nesting, surrogates, types, numbers, sizes and order."""
    names = {p.stem for p in CORPUS}
    assert {"huge-cursors", "deep-nesting", "lone-surrogates", "type-confusion"} <= names
    assert sum(len(load(p)) for p in CORPUS) >= 60


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_the_router_survives_each_corpus_case(path: Path) -> None:
    """Replayed on the pure router: an error for each bad frame, an answer for each request."""
    fuzz = Fuzz()
    for raw in load(path):
        fuzz.step(("frame", 1, raw))
    fuzz.finish()


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.stem)
def test_a_live_bridge_survives_each_corpus_case(
    bridge: tuple[ThreadedBridge, LogRecorder], path: Path
) -> None:
    """Replayed over a socket: each bad frame answered, the link open, no traceback logged."""
    running, logs = bridge
    replay(running.url, load(path))
    assert logs.problems() == [], logs.report()
