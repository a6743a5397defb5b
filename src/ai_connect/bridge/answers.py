"""A query's answer: the store's page as the reply frame, encoded; a mailbox page with
its ``deliver`` frames' shared parts.

``BridgeServer`` runs :func:`answer` and :func:`mailbox_page` on a reader thread
(bridge/server.py), so that neither the store's reading nor the page's encoding (up to
``Limits.page_bytes`` of bodies) holds up the event loop; the loop only queues the text.
"""

from __future__ import annotations

from ai_connect.bridge.events import QueryHistory, QuerySearch
from ai_connect.bridge.store.base import MailboxEntry, Store
from ai_connect.bridge.views import message_view, prepare
from ai_connect.errors import StoreError
from ai_connect.protocol import Error, ErrorCode, HistoryPage, SearchResults, ServerFrame, encode

__all__ = ["answer", "mailbox_page"]


def mailbox_page(
    store: Store, recipient: str, after_seq: int, limit: int, max_bytes: int
) -> tuple[tuple[MailboxEntry, ...], tuple[tuple[bytes, int] | None, ...]]:
    """A page of ``recipient``'s mailbox (``Store.pending``) and, per entry, its
    ``deliver`` tail and flow size (:func:`~ai_connect.bridge.views.prepare`)."""
    entries = tuple(store.pending(recipient, after_seq, limit, max_bytes))
    return entries, prepare(entries)


def answer(store: Store, action: QueryHistory | QuerySearch) -> tuple[str, int]:
    """The encoded reply to ``action`` and how many messages it carries; a store error
    becomes an ``internal`` error frame."""
    a = action
    frame: ServerFrame
    try:
        if isinstance(a, QueryHistory):
            page, before = store.history(a.viewer, a.peer, a.limit, a.before, a.max_bytes)
            views = [message_view(m) for m in page]
            frame = HistoryPage(rid=a.rid, messages=views, before=before)
        else:
            page, before = store.search(a.viewer, a.query, a.limit, a.before, a.max_bytes)
            views = [message_view(m) for m in page]
            frame = SearchResults(rid=a.rid, messages=views, before=before)
    except StoreError as exc:
        frame = Error(
            rid=a.rid,
            code=ErrorCode.INTERNAL,
            message=str(exc),
            hint="try again; if it persists, check the bridge's log",
        )
        return encode(frame), 0
    return encode(frame), len(views)
