"""One exception hierarchy for ai-connect, split by whose fault it is.

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
     ├── RequestRejected        the bridge answered with an error frame (code, hint)
     │    └── UnknownPeer       the target names nobody (or several) (candidates)
     └── StoreError             the storage backend failed

Third-party errors are turned into these at the boundary with ``raise ... from exc``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ai_connect.protocol import Error

__all__ = [
    "BridgeError",
    "ConfigError",
    "FrameError",
    "LocalProtocolError",
    "NotConnected",
    "ProtocolError",
    "RemoteProtocolError",
    "RequestRejected",
    "RequestTimeout",
    "StoreError",
    "TlsError",
    "UnknownPeer",
]


class BridgeError(Exception):
    """Root of every error ai-connect raises on purpose."""


class ConfigError(BridgeError):
    """A config file, flag or environment variable holds a value we cannot use."""


class ProtocolError(BridgeError):
    """A frame broke protocol v1."""


class FrameError(ProtocolError):
    """A frame could not be decoded or validated.

    ``code`` is one of the protocol error codes, ``hint`` says what to do, ``rid`` is the
    request id when it could still be read from the broken frame.
    """

    def __init__(self, code: str, message: str, hint: str, rid: str | int | None = None) -> None:
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
    """The bridge answered a request with an error frame."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(f"{message}; {hint}" if hint else message)
        self.code = code
        self.message = message
        self.hint = hint

    @classmethod
    def from_frame(cls, frame: Error) -> RequestRejected:
        """Our exception for an ``error`` frame that answered a request (protocol §6):
        :class:`UnknownPeer`, with the candidates, when the target named nobody or several."""
        # At call time: the protocol package imports this module (FrameError), so a
        # module-level import of its codes would run it half-way through this one.
        from ai_connect.protocol.limits import ErrorCode

        if frame.code in (ErrorCode.UNKNOWN_PEER, ErrorCode.AMBIGUOUS_PEER):
            candidates = tuple(frame.candidates or ())
            return UnknownPeer(frame.code, frame.message, frame.hint, candidates)
        return RequestRejected(frame.code, frame.message, frame.hint)


class UnknownPeer(RequestRejected):
    """The target of a send names no known peer, or more than one."""

    def __init__(
        self, code: str, message: str, hint: str = "", candidates: tuple[str, ...] = ()
    ) -> None:
        super().__init__(code, message, hint)
        self.candidates = candidates


class StoreError(BridgeError):
    """The storage backend failed; the operation was not carried out."""
