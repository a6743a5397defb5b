"""One exception hierarchy for ai-connect, split by whose fault it is, and the error codes.

Every message says what happened and what to do about it::

    BridgeError
     ├── ConfigError            bad config file, flag or environment value
     ├── ProtocolError          a frame broke protocol v1
     │    ├── FrameError        a frame could not be decoded (carries code, hint, rid)
     │    ├── LocalProtocolError   we were about to send something invalid
     │    └── RemoteProtocolError  the other side sent something invalid
     ├── NotConnected           no live link to the bridge
     │    └── TlsError          the bridge's certificate failed verification
     ├── RequestTimeout         no reply within the timeout
     ├── RequestRejected        the bridge answered with an error frame (code, hint,
     │    │                     candidates): RequestRejected.from_frame
     │    └── UnknownPeer       the target names nobody (or several)
     ├── UnknownMessage         a message id (reply_to) names no message you can see
     ├── StoreError             the storage backend failed
     └── ServiceError           systemd (systemctl, journalctl) is missing or refused

Third-party errors are turned into these at the boundary with ``raise ... from exc``.

:class:`ErrorCode` lists the ``code`` of protocol v1's ``error`` frame (docs/protocol.md §6).
It lives here, at the bottom of the import graph, so that the exceptions that carry a code
and the frames (:mod:`ai_connect.protocol`, which re-exports it) share one list. Our own
code names codes by these constants; the wire keeps ``code`` a string, so a newer bridge's
codes still reach an older client.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ai_connect.protocol import Error

__all__ = [
    "SURFACE_HINTS",
    "BridgeError",
    "ConfigError",
    "ErrorCode",
    "FrameError",
    "LocalProtocolError",
    "NotConnected",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestRejected",
    "RequestTimeout",
    "ServiceError",
    "StoreError",
    "Surface",
    "TlsError",
    "UnknownMessage",
    "UnknownPeer",
]


class ErrorCode(StrEnum):
    """Error codes of protocol v1 (docs/protocol.md §6)."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    FRAME_TOO_LARGE = "frame_too_large"
    BODY_TOO_LARGE = "body_too_large"
    NOT_REGISTERED = "not_registered"
    ALREADY_REGISTERED = "already_registered"
    PROTOCOL_VERSION = "protocol_version"
    INVALID_NAME = "invalid_name"
    UNKNOWN_PEER = "unknown_peer"
    ADDRESS_IN_USE = "address_in_use"
    AMBIGUOUS_PEER = "ambiguous_peer"
    BAD_ACK = "bad_ack"
    DUPLICATE_RID = "duplicate_rid"
    AUTH_FAILED = "auth_failed"
    FORBIDDEN = "forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_ERRORS = "too_many_errors"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"
    UNKNOWN_PROPOSAL = "unknown_proposal"
    UNKNOWN_MESSAGE = "unknown_message"
    NOT_PARTICIPANT = "not_participant"
    PROPOSAL_CLOSED = "proposal_closed"


Surface = Literal["cli", "agent"]
"""Who reads an error: a person at a shell (``ai-connect …`` commands) or an agent (MCP
tool names). Each gets what to do next in its own words."""

SURFACE_HINTS: Mapping[str, Mapping[Surface, str]] = {
    ErrorCode.UNKNOWN_PEER: {
        "cli": "'ai-connect peers' lists the known peers",
        "agent": "Call peer_list to see who is known.",
    },
    ErrorCode.UNKNOWN_PROPOSAL: {
        "cli": "'ai-connect consensus list' shows your proposals with their ids",
        "agent": "Call consensus_list to find its id.",
    },
    ErrorCode.PROPOSAL_CLOSED: {
        "cli": "'ai-connect consensus status {proposal}' shows how it ended; propose again "
        "to reopen the question",
        "agent": "Call consensus_status to see how it ended; consensus_propose again to "
        "reopen the question.",
    },
    ErrorCode.NOT_PARTICIPANT: {
        "cli": "'ai-connect consensus list' shows the proposals you are asked in",
        "agent": "Call consensus_list to see the proposals you are asked in.",
    },
}
"""What to do next after a refusal with this code, per surface: it replaces the bridge's
own hint, which names no surface's commands (``{proposal}``: the proposal asked about)."""


class BridgeError(Exception):
    """Root of every error ai-connect raises on purpose."""

    def hint_for(self, surface: Surface) -> str:
        """What to do next, in ``surface``'s words ("" when the message says it already)."""
        return ""


class ConfigError(BridgeError):
    """A config file, flag or environment variable holds a value we cannot use."""


class ProtocolError(BridgeError):
    """A frame broke protocol v1."""


class FrameError(ProtocolError):
    """A frame could not be decoded or validated.

    ``code`` is one of the protocol error codes, ``hint`` says what to do, ``rid`` is the
    request id when it could still be read from the broken frame.
    """

    def __init__(
        self, code: ErrorCode, message: str, hint: str, rid: str | int | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.rid = rid


class LocalProtocolError(ProtocolError):
    """We were about to send something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The other side sent something the protocol does not allow."""


class NotConnected(BridgeError):
    """There is no live link to the bridge."""


class TlsError(NotConnected):
    """The bridge's TLS certificate failed verification (wrong CA, host name or pin).

    Never retried and never answered by a fallback to ``ws://``: the message says what
    failed and how to fix the client's ``--ca`` or ``--fingerprint``.
    """


class RequestTimeout(BridgeError):
    """The bridge did not answer a request in time."""


class RequestRejected(BridgeError):
    """The bridge answered a request with an error frame.

    ``code`` is the frame's code (an :class:`ErrorCode` value, or a newer bridge's code we
    do not know), ``hint`` says what to do, ``candidates`` lists the addresses a peer
    target could have meant (empty for every other refusal). ``facts`` are what a surface
    knew when the error passed it (``proposal``: the id asked about), for
    :meth:`hint_for` to fill into its words.
    """

    def __init__(
        self, code: str, message: str, hint: str = "", candidates: Iterable[str] = ()
    ) -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.code = code
        self.message = message
        self.hint = hint
        self.candidates = tuple(candidates)
        self.facts: dict[str, Any] = {}

    def hint_for(self, surface: Surface) -> str:
        """The surface's own hint for this code (with "did you mean" candidates for a peer
        that names nobody), else the bridge's."""
        own = SURFACE_HINTS.get(self.code, {}).get(surface)
        if own is None:
            return self.hint
        own = own.format_map({"proposal": "PROPOSAL", **self.facts})
        if self.code == ErrorCode.UNKNOWN_PEER and self.candidates:
            names = ", ".join(self.candidates)
            if surface == "cli":
                return f"did you mean {names}? ({own})"
            return f"{own.rstrip('.')}; candidates: {names}."
        return own

    @classmethod
    def from_frame(cls, frame: Error) -> RequestRejected:
        """The exception for an ``error`` frame that answers a request: the one place a
        client turns the bridge's refusal into ours (:class:`UnknownPeer` for a target
        that names nobody or several)."""
        kind = UnknownPeer if frame.code in _PEER_CODES else RequestRejected
        return kind(frame.code, frame.message, frame.hint, frame.candidates or ())


class UnknownPeer(RequestRejected):
    """The target of a request names no known peer, or more than one (``candidates``)."""


_PEER_CODES = frozenset({ErrorCode.UNKNOWN_PEER, ErrorCode.AMBIGUOUS_PEER})


class UnknownMessage(BridgeError):
    """A message id given (``--reply-to``, ``reply_to``) names no message the sender can
    see, or several (``candidates``)."""

    def __init__(self, message: str, candidates: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.candidates = candidates


class StoreError(BridgeError):
    """The storage backend failed; the operation was not carried out."""


class ServiceError(BridgeError):
    """systemd is missing or refused a command of ``ai-connect service``."""
