"""The part of a client's promises that must outlive its process (docs/protocol.md §7).

:class:`Durable` stands between :class:`~ai_connect.client.BridgeClient` and its
:class:`~ai_connect.client.keep.Keep`: it knows which sends of this client are kept on
disk, logs what becomes of them, and loads the shown ids of a mailbox once. A disk that
fails is logged and never breaks delivery: a send then says it is held in memory only,
and an ack still goes out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ai_connect.client.keep import Keep
from ai_connect.client.outbox import Receipt
from ai_connect.errors import StoreError
from ai_connect.protocol import Accepted, Error, Send, ServerFrame

__all__ = ["Durable"]

log = logging.getLogger("ai_connect.client")


class Durable:
    """One client's queued sends and shown ids on disk, for ``url``, ``name``, ``project``."""

    def __init__(self, keep: Keep, url: str, name: str, project: str) -> None:
        self.keep = keep
        self.url, self.name, self.project = url, name, project
        self.held: set[str] = set()
        """cids of the sends kept on disk until the bridge answers them."""
        self._loaded: str | None = None

    @property
    def path(self) -> str:
        return str(self.keep.path)

    # --- sends ------------------------------------------------------------------------

    def hold(self, frame: Send) -> Receipt:
        """A send answered ``queued``: on disk (fsync'd) before the receipt says so."""
        raw = frame.model_dump(mode="json", by_alias=True, exclude_none=True)
        try:
            self.keep.hold(self.url, self.name, self.project, frame.cid, raw)
        except StoreError as exc:  # say so, rather than promise what the disk cannot keep
            log.warning("queued message %s is held in memory only: %s", frame.cid, exc)
            return Receipt(frame.cid, "queued")
        self.held.add(frame.cid)
        log.info(
            "queued message %s to %s while the bridge %s is unreachable; kept in %s until "
            "the bridge stores it",
            frame.cid,
            frame.to,
            self.url,
            self.path,
        )
        return Receipt(frame.cid, "queued", kept=self.path)

    def adopt(self, known: Iterable[str]) -> list[dict[str, Any]]:
        """The sends earlier clients of this identity left (not among ``known`` cids),
        as frame fields; they are held by this client from now on."""
        try:
            kept = self.keep.adopt(self.url, self.name, self.project)
        except StoreError as exc:
            log.warning("cannot read the messages earlier clients queued: %s", exc)
            return []
        skip = set(known)
        adopted = [raw for raw in kept if str(raw.get("cid")) not in skip]
        self.held.update(str(raw.get("cid")) for raw in adopted)
        if adopted:
            log.info(
                "%d message(s) an earlier client as %s (%s) queued go out from %s once the "
                "bridge %s answers (same cid: stored once)",
                len(adopted),
                self.name,
                self.project,
                self.path,
                self.url,
            )
        return adopted

    def settled(self, cid: str, reply: ServerFrame, error: Error | None) -> None:
        """The bridge answered a send: a kept one leaves the disk, or is marked refused."""
        if cid not in self.held:
            return
        self.held.discard(cid)
        try:
            if error is not None:
                why = f"{error.code}: {error.message}"
                self.keep.refuse(cid, why)
                log.warning(
                    "the bridge refused queued message %s (%s); it stays in %s (table outbox)",
                    cid,
                    why,
                    self.path,
                )
                return
            self.keep.release(cid)
        except StoreError as exc:  # the reader must go on; a later start resends (same cid)
            log.warning("cannot update queued message %s: %s", cid, exc)
            return
        stored = reply.id if isinstance(reply, Accepted) else None
        log.info("queued message %s is stored by the bridge as %s", cid, stored)

    # --- shown ids --------------------------------------------------------------------

    def _mailbox(self, address: str) -> str:
        return f"{self.url} {address}"

    def seen(self, address: str) -> list[str]:
        """The ids shown from ``address``'s mailbox before; ``[]`` once they are loaded."""
        mailbox = self._mailbox(address)
        if self._loaded == mailbox:
            return []
        self._loaded = mailbox
        try:
            return self.keep.seen(mailbox)
        except StoreError as exc:
            log.warning("cannot read the ids of the messages shown before: %s", exc)
            return []

    def see(self, address: str, ids: Iterable[str]) -> None:
        """Records ids as shown (before their ack, so a restart cannot show them again)."""
        try:
            self.keep.see(self._mailbox(address), ids)
        except StoreError as exc:  # the ack still goes; only a restart may repeat them
            log.warning("cannot record the messages shown: %s", exc)

    def close(self) -> None:
        if self.held:
            log.info(
                "%d queued message(s) stay in %s: they go out when a client as %s (%s) "
                "starts again with the bridge %s (ai-connect mcp, for one)",
                len(self.held),
                self.path,
                self.name,
                self.project,
                self.url,
            )
        self.keep.close()
