"""A stdio request holding a lone surrogate escape (``\\ud800``: what a client's JSON
encoder makes of broken text) is answered, not dropped (release check 2026-12)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ai_connect.mcp.stdio import whole_unicode
from tests.mcp.support import read_line, stdio_server

LONE = '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"peer_send",'
LONE += '"arguments":{"to":"bob","message":"caf\\udce9 \\ud83d\\ude00"}}}\n'


def test_lone_surrogates_become_replacement_characters_and_pairs_stay() -> None:
    """Only the lone surrogate is replaced (U+FFFD, as undecodable bytes already are); a
    pair (an emoji) and every other field stay; lines without one pass untouched."""
    fixed = json.loads(whole_unicode(LONE))
    assert fixed["params"]["arguments"]["message"] == "caf\ufffd \U0001f600"
    assert fixed["id"] == 2 and fixed["params"]["name"] == "peer_send"
    fine = '{"id":3,"x":"\\ud83d\\ude00"}\n'
    assert whole_unicode(fine) is fine
    assert whole_unicode("not json \\ud800\n") == "not json \\ud800\n"


@pytest.mark.parametrize("front", ["on", "off"])
def test_the_stdio_server_answers_a_request_with_a_lone_surrogate(
    front: str, tmp_path: Path
) -> None:
    """The SDK could not parse such a line and answered nothing: the agent's tool call
    hung until its client gave up. Now the call is answered (here: queued, the bridge
    is down)."""
    with stdio_server(tmp_path, front) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        proc.stdin.write(json.dumps(initialized).encode() + b"\n" + LONE.encode())
        proc.stdin.flush()
        answer = json.loads(read_line(proc.stdout, 30))
        assert answer["id"] == 2 and "result" in answer, answer
