"""Protocol v1's numbers and codes: the version, the limits and the error codes.

The limits are enforced by the bridge and configurable there (docs/protocol.md §5); the
error codes are the ``code`` of an ``error`` frame (§6), defined with the exceptions that
carry them in :mod:`ai_connect.errors` and offered here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ai_connect.errors import ErrorCode

__all__ = [
    "CLOSE_AUTH",
    "CLOSE_FORGOTTEN_BY_OPERATOR",
    "CLOSE_SESSION_MOVED",
    "MAX_CONTEXT_DEPTH",
    "MAX_INT",
    "PROTOCOL_VERSION",
    "ErrorCode",
    "Limits",
    "flow_bytes",
]

PROTOCOL_VERSION = 1

MAX_CONTEXT_DEPTH = 64
"""Nesting levels allowed in ``send.context``; deeper JSON could not be re-encoded."""
CLOSE_AUTH = 4001
"""WebSocket close code: the connection's token was revoked or expired, or auth was turned
on (docs/security.md); reconnecting helps only with a valid token."""
CLOSE_FORGOTTEN_BY_OPERATOR = 4002
"""WebSocket close code: the operator forgot this connection's address (§2.5); a client
does not reconnect, which would register the address anew."""
CLOSE_SESSION_MOVED = 4003
"""WebSocket close code: the same session (hello ``session``) registered on another node of
the bridge (docs/deploy.md), which now holds the address; a client does not reconnect,
which would take the address back and start a tug of war."""
MAX_INT = 2**63 - 1
"""Cursors and sequence numbers are 64-bit (SQLite's INTEGER): larger ones are refused."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Enforced limits (docs/protocol.md §5). All configurable on the bridge."""

    max_frame_bytes: int = 1_048_576
    """A larger frame is answered with ``frame_too_large``."""
    hard_frame_bytes: int = 2_097_152
    """A frame above this is abuse: the connection is closed (1009). It bounds what one
    frame read from a client costs the bridge (docs/security.md, "Memory")."""
    max_body_bytes: int = 262_144
    max_context_bytes: int = 524_288
    window_messages: int = 256
    """Deliveries in flight (sent, not yet acked) per connection."""
    window_bytes: int = 1_048_576
    """Bytes of deliveries in flight per connection (at least one message always fits);
    each message counts :func:`flow_bytes`."""
    max_errors: int = 50
    """Error frames per connection within ``error_window_s`` before it is closed (1008)."""
    error_window_s: float = 60.0
    history_max: int = 500
    search_max: int = 200
    page_bytes: int = 1_048_576
    """A history or search page stops before its bodies and contexts pass this many bytes
    (:func:`flow_bytes`; at least one message), and says where the next page starts."""
    rate_per_s: float = 200.0
    """Frames per second one connection may send (token bucket, §5.1); 0: no limit."""
    rate_burst: int = 2000
    """Frames a connection may send at once above its rate."""
    token_rate_per_s: float = 400.0
    """Frames per second all connections of one auth token may send together; 0: no limit."""
    token_rate_burst: int = 4000
    max_conns_per_token: int = 64
    """Live connections using one auth token (0: no limit)."""
    max_conns_per_ip: int = 256
    """Live connections from one non-loopback IP address (0: no limit)."""

    def as_dict(self) -> dict[str, int | float]:
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "max_body_bytes": self.max_body_bytes,
            "max_context_bytes": self.max_context_bytes,
            "window_messages": self.window_messages,
            "window_bytes": self.window_bytes,
            "rate_per_s": self.rate_per_s,
            "rate_burst": self.rate_burst,
        }


def flow_bytes(body: str, context: dict[str, Any] | None) -> int:
    """A message's size as flow control counts it (§3.3): the UTF-8 body plus the compact
    JSON of its context. The bridge fills the window with it and the client drains by it."""
    # An ASCII body (most are) is one byte per character: no need to encode it to know.
    size = len(body) if body.isascii() else len(body.encode())
    if context:
        size += len(json.dumps(context, separators=(",", ":")).encode())
    return size
