"""The one way the bridge says no to a request: raise :class:`Refusal`.

Every part of the router (registration, delivery, queries, the consensus book), the auth
check and the consensus rules raise it; :meth:`~ai_connect.bridge.core.Router.handle`
catches it in one place and answers with the ``error`` frame :meth:`Refusal.error` builds,
counted against the connection's error budget (docs/protocol.md §5, §6). A part raises
before it changes any state or returns any action, so a refused request leaves nothing
behind. The client turns that frame back into one exception,
:meth:`ai_connect.errors.RequestRejected.from_frame`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ai_connect.errors import ErrorCode, FrameError, UnknownPeer
from ai_connect.protocol import Error, Rid

__all__ = ["Refusal"]


class Refusal(Exception):
    """A request the bridge will not carry out: what, why, what to do, whom you meant.

    ``candidates`` is ``None`` unless the refusal is about a peer target; then it lists
    the addresses the target could have meant (possibly none).
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        hint: str,
        candidates: Iterable[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint
        self.candidates = None if candidates is None else tuple(candidates)

    @classmethod
    def of(cls, error: UnknownPeer | FrameError) -> Refusal:
        """The refusal for a target that names nobody or several, or an undecodable frame."""
        code = ErrorCode(error.code)
        if isinstance(error, UnknownPeer):
            return cls(code, error.message, error.hint, error.candidates)
        return cls(code, error.message, error.hint)

    def error(self, rid: Rid | None = None) -> Error:
        """The ``error`` frame that answers the refused request ``rid``."""
        candidates = None if self.candidates is None else list(self.candidates)
        return Error(
            rid=rid, code=self.code, message=self.message, hint=self.hint, candidates=candidates
        )

    def __repr__(self) -> str:
        return f"Refusal({self.code.value!r}, {self.message!r})"
