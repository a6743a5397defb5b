"""What a peer asks the bridge: :class:`~ai_connect.client.BridgeClient`'s reads.

``peers``, ``history``, ``search``, ``status`` and ``receipts`` each build one frame and
wait for its reply by ``rid`` (docs/protocol.md §3.4, §3.5, §3.7); ``find_message`` turns
the short form of a message id, as surfaces show it, back into the full one. A mixin
over :class:`~ai_connect.client.pending.Requester` plus the inbox, as consensus.py is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ai_connect import message_ids
from ai_connect.client.pending import Requester
from ai_connect.errors import UnknownMessage
from ai_connect.protocol import (
    History,
    HistoryPage,
    PeerList,
    Peers,
    PeerView,
    ReceiptReport,
    Receipts,
    Search,
    SearchResults,
    Status,
    StatusReport,
)

if TYPE_CHECKING:
    from ai_connect.client.mailbox import Inbox

__all__ = ["FIND_PAGES", "Asker", "QueryMixin"]

FIND_PAGES = 10
"""History pages (of up to 500 messages) :meth:`QueryMixin.find_message` looks through."""


class Asker(Requester, Protocol):
    """What the reads use of the client: requests, and the inbox (ids seen already)."""

    @property
    def inbox(self) -> Inbox: ...


class QueryMixin:
    """``peers``, ``history``, ``search``, ``status``, ``receipts``, ``find_message``."""

    async def find_message(self: Asker, given: str, *, how: str) -> str:
        """The full id of the message ``given`` names: a full id, its short form
        (:func:`ai_connect.message_ids.short`) or a unique prefix, among the messages this
        peer can see (its inbox, then its history, newest first). Raises
        :class:`UnknownMessage` ending with ``how``: how the surface's user finds ids."""
        return await _find(self, given, how)

    async def peers(self: Asker, include_offline: bool = True) -> list[PeerView]:
        frame = Peers(rid=self._rid(), include_offline=include_offline)
        return (await self._request(frame, PeerList)).peers

    async def history(
        self: Asker, peer: str | None = None, limit: int = 50, before: int | None = None
    ) -> HistoryPage:
        frame = History(rid=self._rid(), peer=peer, limit=limit, before=before)
        return await self._request(frame, HistoryPage)

    async def search(
        self: Asker, query: str, limit: int = 20, before: int | None = None
    ) -> SearchResults:
        """Matches newest first; ``before`` is the cursor of an earlier page (its
        ``SearchResults.before``), for the older matches."""
        frame = Search(rid=self._rid(), query=query, limit=limit, before=before)
        return await self._request(frame, SearchResults)

    async def status(self: Asker) -> StatusReport:
        return await self._request(Status(rid=self._rid()), StatusReport)

    async def receipts(
        self: Asker, message_id: str, *, how: str = "peer_history shows message ids."
    ) -> ReceiptReport:
        """Where a message this address sent stands, per recipient: waiting, delivered or
        shown (with when and through which path); any message for an admin or observer
        (protocol §3.7). A short form (``…0e42f1a3``, as receipts and read show ids) is
        first resolved among the messages this peer can see (:meth:`find_message`)."""
        given = message_id.strip()
        if given.startswith(message_ids.ELLIPSIS) or len(given) <= message_ids.SHORT + 1:
            given = await _find(self, given, how)
        return await self._request(Receipts(rid=self._rid(), id=given), ReceiptReport)


async def _find(client: Asker, given: str, how: str) -> str:
    found = message_ids.match(given, client.inbox.known_ids())
    before: int | None = None
    for _ in range(FIND_PAGES if not found and client.connected else 0):
        frame = History(rid=client._rid(), limit=500, before=before)
        page = await client._request(frame, HistoryPage)
        found = message_ids.match(given, (m.id for m in page.messages))
        if found or page.before is None:
            break
        before = page.before
    if len(found) == 1:
        return found[0]
    if found:
        shown = ", ".join(found[:5]) + (" …" if len(found) > 5 else "")
        raise UnknownMessage(
            f"{given!r} matches {len(found)} messages ({shown}); give more of the id. {how}",
            tuple(found),
        )
    where = "" if client.connected else " (the bridge is unreachable: only this session's"
    where += " messages were checked)" if where else ""
    raise UnknownMessage(f"no message you can see has the id {given!r}{where}. {how}")
