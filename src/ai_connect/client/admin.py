"""The operator's requests of :class:`~ai_connect.client.BridgeClient` (admin tokens,
where the bridge requires auth): every peer's state, anyone's history, forgetting a
peer, and the loop brake's paused conversations (docs/protocol.md §2.5, §3.5, §3.6).

A mixin over :class:`~ai_connect.client.pending.Requester`, as consensus.py is: each
method builds one frame and waits for its reply by ``rid``.
"""

from __future__ import annotations

from ai_connect.client.pending import Requester
from ai_connect.protocol import (
    AdminBrakes,
    AdminForget,
    AdminHistory,
    AdminResume,
    AdminStatus,
    Brakes,
    BridgeReport,
    Forgotten,
    HistoryPage,
)

__all__ = ["AdminMixin"]


class AdminMixin:
    """``admin_status``, ``admin_history``, ``admin_forget``, ``admin_brakes``,
    ``admin_resume``."""

    async def admin_forget(self: Requester, peer: str) -> Forgotten:
        """The operator's forget: ``peer``'s record and mailbox go, its live connections
        are closed (an admin token where auth is on; protocol §2.5)."""
        return await self._request(AdminForget(rid=self._rid(), peer=peer), Forgotten)

    async def admin_status(self: Requester) -> BridgeReport:
        """Every peer's cursors and connections; needs an admin token (protocol §3.5)."""
        return await self._request(AdminStatus(rid=self._rid()), BridgeReport)

    async def admin_history(
        self: Requester,
        viewer: str,
        peer: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> HistoryPage:
        """The history ``viewer`` sees (with ``peer``, one conversation); admin tokens only."""
        frame = AdminHistory(rid=self._rid(), viewer=viewer, peer=peer, limit=limit, before=before)
        return await self._request(frame, HistoryPage)

    async def admin_brakes(self: Requester) -> Brakes:
        """The conversations the loop brake paused (admin tokens, where auth is on)."""
        return await self._request(AdminBrakes(rid=self._rid()), Brakes)

    async def admin_resume(self: Requester, conversation: str | None = None) -> Brakes:
        """Lifts the pause of ``conversation`` (``None``: of every paused one)."""
        return await self._request(AdminResume(rid=self._rid(), conversation=conversation), Brakes)
