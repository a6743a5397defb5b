"""One refusal shape from the bridge to every surface: an error frame becomes one exception."""

from __future__ import annotations

import pytest

from ai_connect import errors, protocol
from ai_connect.errors import ErrorCode, RequestRejected, UnknownPeer
from ai_connect.protocol import Error, decode_server, encode


def test_a_refusal_keeps_code_message_hint_and_candidates() -> None:
    """from_frame carries every field of the error frame onto the exception."""
    frame = Error(rid=1, code=ErrorCode.BODY_TOO_LARGE, message="too big", hint="send less")
    rejected = RequestRejected.from_frame(frame)
    assert type(rejected) is RequestRejected
    assert (rejected.code, rejected.message, rejected.hint) == (
        "body_too_large",
        "too big",
        "send less",
    )
    assert rejected.candidates == ()
    assert str(rejected) == "too big; send less"


@pytest.mark.parametrize("code", [ErrorCode.UNKNOWN_PEER, ErrorCode.AMBIGUOUS_PEER])
def test_a_peer_refusal_is_an_unknown_peer_with_its_candidates(code: ErrorCode) -> None:
    """unknown_peer and ambiguous_peer become UnknownPeer, candidates as a tuple."""
    frame = Error(code=code, message="no", hint="call peers", candidates=["bob (x)", "bo (y)"])
    rejected = RequestRejected.from_frame(frame)
    assert isinstance(rejected, UnknownPeer)
    assert rejected.code == code and rejected.candidates == ("bob (x)", "bo (y)")


def test_a_code_from_a_newer_bridge_still_becomes_a_rejection() -> None:
    """The wire keeps code a string: a code this client does not know is kept as sent."""
    frame = decode_server(encode(Error(rid="r", code="quota_exceeded", message="later")))
    assert isinstance(frame, Error)
    rejected = RequestRejected.from_frame(frame)
    assert type(rejected) is RequestRejected and rejected.code == "quota_exceeded"


def test_the_protocol_offers_the_same_error_codes() -> None:
    """protocol.ErrorCode is errors.ErrorCode: one list of codes."""
    assert protocol.ErrorCode is errors.ErrorCode
    assert str(ErrorCode.UNKNOWN_PEER) == "unknown_peer"


def test_each_surface_gets_its_own_hint_for_a_refusal() -> None:
    """A refusal's hint is the CLI's command for a shell and the MCP tool for an agent;
    codes without a surface hint keep the bridge's."""
    unknown = RequestRejected(ErrorCode.UNKNOWN_PROPOSAL, "no proposal has the id 'p'", "list")
    assert "ai-connect consensus list" in unknown.hint_for("cli")
    assert "consensus_list" in unknown.hint_for("agent")
    closed = RequestRejected(ErrorCode.PROPOSAL_CLOSED, "closed", "look")
    closed.facts["proposal"] = "prop-1"
    assert "'ai-connect consensus status prop-1'" in closed.hint_for("cli")
    peer = UnknownPeer(ErrorCode.UNKNOWN_PEER, "no known peer matches 'bop'", "x", ["bob (w)"])
    assert (
        peer.hint_for("cli") == "did you mean bob (w)? ('ai-connect peers' lists the known peers)"
    )
    assert peer.hint_for("agent") == "Call peer_list to see who is known; candidates: bob (w)."
    other = RequestRejected(ErrorCode.BODY_TOO_LARGE, "too large", "send less")
    assert other.hint_for("cli") == other.hint_for("agent") == "send less"
