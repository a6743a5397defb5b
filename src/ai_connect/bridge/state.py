"""The router's state: connection and peer records, the phase table and the config.

``_RouterState`` declares what every part of the router reads and writes (``Router.__init__``
in :mod:`ai_connect.bridge.core` fills it in) and the two helpers all of them use. Section
numbers refer to docs/protocol.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

from ai_connect.bridge.auth import Authenticator
from ai_connect.bridge.brake import Brake, BrakeLimits
from ai_connect.bridge.consensus_router import ConsensusBook
from ai_connect.bridge.events import Action, Close, Send
from ai_connect.bridge.guard import Guard
from ai_connect.bridge.store.base import StoredMessage
from ai_connect.protocol import Error, Limits, Rid
from ai_connect.protocol import Send as SendFrame

__all__ = [
    "ALLOWED",
    "CLOSE_AUTH",
    "CLOSE_GOING_AWAY",
    "CLOSE_POLICY",
    "CLOSE_REPLACED",
    "Phase",
    "RouterConfig",
]

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 4000
CLOSE_AUTH = 4001
"""The connection's token was revoked or expired, or auth was turned on (docs/security.md)."""
_NOTICE_EVERY_S = 1.0
"""A throttled connection is told ``rate_limited`` at most this often (§5.1)."""


class Phase(Enum):
    """The life of one connection (§2)."""

    NEW = "new"
    """Connected, no hello yet: only ``hello`` and ``ping`` are allowed."""
    REGISTERED = "registered"


ALLOWED: dict[Phase, frozenset[str]] = {
    Phase.NEW: frozenset({"hello", "ping"}),
    Phase.REGISTERED: frozenset(
        {"send", "ack", "peers", "history", "search", "status", "ping"}
        | {"admin_status", "admin_history", "admin_brakes", "admin_resume", "human"}
        | {"propose", "vote", "proposal_status", "proposals", "withdraw"}
    ),
}


@dataclass(frozen=True, slots=True)
class RouterConfig:
    server_version: str
    storage: str
    started_at: float
    limits: Limits = field(default_factory=Limits)
    presence_timeout_s: float = 60.0
    """A registered connection silent this long is closed and shown offline (§4)."""
    retention_s: float = 30 * 86400.0
    """Broadcasts reach peers seen within this window (§3.1)."""
    brake: BrakeLimits = field(default_factory=BrakeLimits)
    """When the loop brake pauses a conversation (§3.6)."""
    require_auth: bool = False
    """Auth on even while no token exists (``ai-connect bridge --auth``)."""


@dataclass(slots=True)
class _Peer:
    address: str
    name: str
    project: str
    first_seen: float
    last_seen: float
    tip: int = 0
    acked: int = 0
    conn: int | None = None
    stored_acked: int = 0
    """``acked`` as far as it is committed: all an ``acked`` reply may promise (§3.3)."""


@dataclass(slots=True)
class _Conn:
    id: int
    remote: str
    last_activity: float
    phase: Phase = Phase.NEW
    address: str | None = None
    session: str | None = None
    attached: bool = False
    """Registered with ``attach``: acts for ``address`` beside its owner (§2.2)."""
    watch_presence: bool = False
    errors: deque[float] = field(default_factory=deque)
    sent: int = 0
    """Highest mailbox seq sent on this connection."""
    loading: bool = False
    inflight: deque[tuple[int, int]] = field(default_factory=deque)
    inflight_bytes: int = 0
    token_id: str | None = None
    """The auth token this connection registered with (docs/security.md)."""
    token_name: str | None = None
    admin: bool = False
    kind: str = ""
    """The client kind its hello named (``cli``: a person's command line)."""
    noticed: float = float("-inf")
    """When it was last told ``rate_limited``."""


class _RouterState:
    """The fields and shared helpers of :class:`~ai_connect.bridge.core.Router`."""

    config: RouterConfig
    _ids: Iterator[str]
    _auth: Authenticator
    _guard: Guard
    _peers: dict[str, _Peer]
    _conns: dict[int, _Conn]
    _attached: dict[str, set[int]]
    """Address -> ids of the connections attached to it (§2.2)."""
    _book: ConsensusBook
    """Consensus proposals (docs/protocol.md §8)."""
    _brake: Brake
    """The loop brake (docs/protocol.md §3.6)."""

    # The loop brake's part (bridge/braking.py), used by delivery (§3.6).
    def _brake_send(
        self, state: _Conn, frame: SendFrame, target: str, now: float, out: list[Action]
    ) -> None:
        raise NotImplementedError

    def _paused_reason(self, message: StoredMessage) -> str | None:
        raise NotImplementedError

    def _conns_of(self, peer: _Peer) -> list[_Conn]:
        """Every connection acting for ``peer``: its owner first, then attached ones."""
        ids = [peer.conn] if peer.conn is not None else []
        ids += sorted(self._attached.get(peer.address, ()))
        return [c for i in ids if (c := self._conns.get(i)) is not None]

    def _error(
        self,
        state: _Conn,
        now: float,
        out: list[Action],
        code: str,
        message: str,
        hint: str,
        rid: Rid | None = None,
        candidates: list[str] | None = None,
    ) -> None:
        """Answers with an error frame; too many of them in a window close the link."""
        limits = self.config.limits
        state.errors.append(now)
        while state.errors and state.errors[0] < now - limits.error_window_s:
            state.errors.popleft()
        out.append(
            Send(
                state.id,
                Error(rid=rid, code=code, message=message, hint=hint, candidates=candidates),
            )
        )
        if len(state.errors) > limits.max_errors:
            out.append(
                Close(
                    state.id,
                    CLOSE_POLICY,
                    f"more than {limits.max_errors} errors in {limits.error_window_s:g} s",
                )
            )
