"""The router's lease desk: advisory file leases (docs/protocol.md §10, docs/leases.md).

A part of :class:`~ai_connect.bridge.core.Router`, pure like it. A lease is one
:class:`~ai_connect.bridge.store.base.LeaseRecord`: a holder address, a repository key
and a normalised path or glob (:mod:`ai_connect.leases.rules`), until a time.

- ``claim`` is all or nothing: if another address holds an overlapping lease, nothing
  is granted, the answer lists each conflict (who, why, until when), and each holder is
  told through its mailbox (a message from :data:`LEASE_SENDER`, once per lease and
  asker). Otherwise each path is leased (a path this address already holds is renewed)
  and the answer follows the commit: a granted lease is durable.
- ``release`` gives back the caller's leases; ``claims`` lists the live ones;
  ``lease_check`` is the pre-edit question: others' leases on these files (the holders
  told as for a claim), and the caller's own renewed by their TTL.
- A lease ends at its expiry, and (an agent's: its claim came from any client but the
  command line, ``cli``) when its holder has been offline for longer than the presence
  timeout, counted from the bridge's start at the earliest so that a restart does not
  end every lease: :meth:`LeaseDesk.tick` drops it. A person's claim from the command
  line has no session to outlive: it lasts its TTL, or until released.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Iterator

from ai_connect.bridge.events import Action, Origin, Persist, Send
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Phase, Registry, RouterConfig
from ai_connect.bridge.store.base import AppendOp, LeaseDrop, LeaseRecord, StoredMessage
from ai_connect.leases import rules
from ai_connect.protocol import (
    Claim,
    Claims,
    ErrorCode,
    LeaseCheck,
    LeaseConflict,
    LeaseReport,
    LeaseView,
    Release,
    Rid,
)

__all__ = ["LEASE_SENDER", "LeaseDesk", "LeaseFrame"]

LEASE_SENDER = "leases* (ai-connect)"
"""The sender of lease notices. ``*`` is not allowed in peer names: nobody can hold it."""

LeaseFrame = Claim | Release | Claims | LeaseCheck

_RENEW_STEP = 0.1
"""A check renews a lease in the store only once it would gain a tenth of its TTL (or
a minute): an edit burst is not a write per edit."""


class LeaseDesk:
    """Every live lease, by id, and the answers waiting for their commit."""

    def __init__(
        self,
        config: RouterConfig,
        records: Iterable[LeaseRecord],
        ids: Iterator[str],
        registry: Registry,
    ) -> None:
        self._config = config
        self._ids = ids
        self._registry = registry
        self._leases: dict[str, LeaseRecord] = {r.id: r for r in records}
        self._durable: dict[str, LeaseRecord] = dict(self._leases)
        """The committed state of each lease (to undo a failed commit)."""
        self._waiting: dict[tuple[int, Rid], LeaseReport] = {}
        """Answers that follow their commit, by (connection, rid)."""
        self._told: set[tuple[str, str]] = set()
        """(lease id, asker): the holder was told of this asker already."""

    # --- requests -------------------------------------------------------------------

    def on_request(self, conn: Conn, frame: LeaseFrame, now: float) -> list[Action]:
        match frame:
            case Claims():
                live = self._live(now, frame.repo)
                return [Send(conn.id, LeaseReport(rid=frame.rid, leases=self._views(live)))]
            case Claim():
                return self._claim(conn, frame, now)
            case Release():
                return self._release(conn, frame, now)
            case LeaseCheck():
                return self._check(conn, frame, now)

    def _claim(self, conn: Conn, frame: Claim, now: float) -> list[Action]:
        holder = _address(conn)
        paths = _normalised(frame.paths)
        try:
            ttl = rules.parse_ttl(frame.ttl)
        except rules.LeaseRuleError as exc:
            raise Refusal(ErrorCode.BAD_FRAME, str(exc), "ask for a TTL within the limits") from exc
        live = self._live(now, frame.repo)
        conflicts = [
            LeaseConflict(path=path, lease=self._view(lease))
            for path in paths
            for lease in live
            if lease.holder != holder and rules.overlaps(path, lease.path)
        ]
        if conflicts:
            out: list[Action] = [Send(conn.id, LeaseReport(rid=frame.rid, conflicts=conflicts))]
            return out + self._tell_holders(conflicts, holder, frame.reason, "claims", now)
        mine = {(x.path): x for x in live if x.holder == holder}
        granted: list[LeaseRecord] = []
        for path in dict.fromkeys(paths):
            old = mine.get(path)
            if old is not None:
                lease = dataclasses.replace(
                    old, reason=frame.reason or old.reason, expires=now + ttl, ttl=ttl
                )
            else:
                lease = LeaseRecord(
                    next(self._ids),
                    frame.repo,
                    path,
                    holder,
                    frame.reason,
                    now,
                    now + ttl,
                    ttl,
                    bound=conn.kind != "cli",
                )
            self._leases[lease.id] = lease
            granted.append(lease)
        report = LeaseReport(rid=frame.rid, leases=self._views(granted))
        return self._after_commit(conn, frame.rid, report, granted, [])

    def _release(self, conn: Conn, frame: Release, now: float) -> list[Action]:
        holder = _address(conn)
        wanted = None if frame.paths is None else set(_normalised(frame.paths))
        gone = [
            x
            for x in self._live(now, frame.repo)
            if x.holder == holder and (wanted is None or x.path in wanted)
        ]
        for lease in gone:
            del self._leases[lease.id]
        self._untold(x.id for x in gone)
        report = LeaseReport(rid=frame.rid, leases=self._views(gone))
        return self._after_commit(conn, frame.rid, report, [], [LeaseDrop(x.id) for x in gone])

    def _check(self, conn: Conn, frame: LeaseCheck, now: float) -> list[Action]:
        holder = _address(conn)
        paths = _normalised(frame.paths)
        live = self._live(now, frame.repo)
        conflicts: list[LeaseConflict] = []
        renewed: list[LeaseRecord] = []
        out: list[Action] = []
        for lease in live:
            hit = [p for p in paths if rules.matches(lease.path, p)]
            if not hit:
                continue
            if lease.holder != holder:
                conflicts += [LeaseConflict(path=p, lease=self._view(lease)) for p in hit]
            elif frame.renew and conn.phase is Phase.REGISTERED:  # a query never writes
                renewed.append(self._renew(lease, now, out))
        report = LeaseReport(rid=frame.rid, conflicts=conflicts, renewed=self._views(renewed))
        out.insert(0, Send(conn.id, report))
        return out + self._tell_holders(conflicts, holder, "", "is about to edit", now)

    def _renew(self, lease: LeaseRecord, now: float, out: list[Action]) -> LeaseRecord:
        """``lease`` running its TTL from ``now``; stored when that gains enough."""
        expires = now + lease.ttl
        if expires - lease.expires < min(60.0, _RENEW_STEP * lease.ttl):
            return lease
        renewed = dataclasses.replace(lease, expires=expires)
        self._leases[lease.id] = renewed
        out.append(Persist(renewed))
        return renewed

    def _after_commit(
        self,
        conn: Conn,
        rid: Rid,
        report: LeaseReport,
        puts: list[LeaseRecord],
        drops: list[LeaseDrop],
    ) -> list[Action]:
        """The writes, with the answer held until they are committed (at once if none)."""
        ops: list[LeaseRecord | LeaseDrop] = [*puts, *drops]
        if not ops:
            return [Send(conn.id, report)]
        self._waiting[conn.id, rid] = report
        origin = Origin(conn.id, rid)
        return [Persist(op, origin if n == 0 else None) for n, op in enumerate(ops)]

    # --- commits ------------------------------------------------------------------

    def committed(self, persists: Iterable[Persist]) -> list[Action]:
        """These lease writes are durable: they are what a failed commit returns to, and
        their askers get their answers now."""
        out: list[Action] = []
        for persist in persists:
            op = persist.op
            if isinstance(op, LeaseRecord):
                self._durable[op.id] = op
            elif isinstance(op, LeaseDrop):
                self._durable.pop(op.id, None)
            origin = persist.origin
            if origin is None:
                continue
            report = self._waiting.pop((origin.conn, origin.rid), None)
            if report is not None and origin.conn in self._registry.conns:
                out.append(Send(origin.conn, report))
        return out

    def on_stored(self, records: Iterable[LeaseRecord]) -> None:
        """The leases as the shared database holds them (another bridge node committed:
        PostgreSQL): theirs are added, those they ended are dropped."""
        stored = {r.id: r for r in records}
        for lease_id in [i for i in self._durable if i not in stored]:
            del self._durable[lease_id]
            self._leases.pop(lease_id, None)
        self._durable.update(stored)
        self._leases.update(stored)

    def forgotten(self, addresses: Iterable[str]) -> list[Action]:
        """These addresses were forgotten (§2.5): their leases go too."""
        gone = set(addresses)
        dropped = [x for x in self._leases.values() if x.holder in gone]
        for lease in dropped:
            del self._leases[lease.id]
        self._untold(x.id for x in dropped)
        return [Persist(LeaseDrop(x.id)) for x in dropped]

    def failed(self, persists: Iterable[Persist]) -> None:
        """These writes were rolled back: the leases are as they were committed (the
        askers get the router's error for a failed commit)."""
        for persist in persists:
            op = persist.op
            if not isinstance(op, LeaseRecord | LeaseDrop):
                continue
            before = self._durable.get(op.id)
            if before is None:
                self._leases.pop(op.id, None)
            else:
                self._leases[op.id] = before
            if persist.origin is not None:
                self._waiting.pop((persist.origin.conn, persist.origin.rid), None)

    # --- time -----------------------------------------------------------------------

    def tick(self, now: float) -> list[Action]:
        """Drops the leases that expired and those whose holder is gone."""
        gone = [x for x in self._leases.values() if not self._alive(x, now)]
        for lease in gone:
            del self._leases[lease.id]
        self._untold(x.id for x in gone)
        return [Persist(LeaseDrop(x.id)) for x in gone]

    def _untold(self, ids: Iterable[str]) -> None:
        """Ended leases: who was told of them no longer matters."""
        ended = set(ids)
        if ended:
            self._told = {t for t in self._told if t[0] not in ended}

    def _alive(self, lease: LeaseRecord, now: float) -> bool:
        if lease.expires <= now:
            return False
        peer = self._registry.peers.get(lease.holder)
        if peer is None:
            # Not known here yet: registered on another bridge node whose commit this one
            # has not read. (A forgotten holder's leases go with it: forgotten().)
            return True
        if not lease.bound:
            return True  # a person's claim from the command line: until it expires
        if peer.online or self._registry.attached.get(lease.holder):
            return True  # held here, or by another bridge node on the same database
        since = max(peer.last_seen, self._config.started_at)
        return now - since <= self._config.presence_timeout_s

    # --- views and notices ------------------------------------------------------------

    def _live(self, now: float, repo: str | None) -> list[LeaseRecord]:
        found = [
            x
            for x in self._leases.values()
            if (repo is None or x.repo == repo) and self._alive(x, now)
        ]
        found.sort(key=lambda x: (x.repo, x.path, x.holder, x.id))
        return found

    def live(self, now: float) -> list[LeaseView]:
        """Every live lease (the observers' view)."""
        return self._views(self._live(now, None))

    def _view(self, lease: LeaseRecord) -> LeaseView:
        peer = self._registry.peers.get(lease.holder)
        return LeaseView(
            id=lease.id,
            repo=lease.repo,
            path=lease.path,
            holder=lease.holder,
            reason=lease.reason,
            created=lease.created,
            expires=lease.expires,
            online=peer is not None and peer.online,
        )

    def _views(self, leases: Iterable[LeaseRecord]) -> list[LeaseView]:
        return [self._view(x) for x in leases]

    def _tell_holders(
        self, conflicts: list[LeaseConflict], asker: str, reason: str, verb: str, now: float
    ) -> list[Action]:
        """A notice to each holder in the way, once per lease and asker (§10.5)."""
        out: list[Action] = []
        for conflict in conflicts:
            lease = conflict.lease
            if (lease.id, asker) in self._told:
                continue
            self._told.add((lease.id, asker))
            why = f" ({reason})" if reason else ""
            body = (
                f"{asker} {verb} {conflict.path} in {lease.repo}{why}, which you hold as "
                f"{lease.path} until {_clock(lease.expires)}"
                f"{f' for: {lease.reason}' if lease.reason else ''}. If you are done with "
                f"it, release it (peer_release, or 'ai-connect release {lease.path}'); "
                f"else tell {asker} when it will be free."
            )
            message = StoredMessage(
                id=next(self._ids),
                sender=LEASE_SENDER,
                to=lease.holder,
                body=body,
                context={"lease": lease.model_dump(), "asker": asker, "path": conflict.path},
                thread=None,
                reply_to=None,
                ts=now,
                cid=f"lease:{lease.id}:{asker}",
            )
            out.append(Persist(AppendOp(message, (lease.holder,))))
        return out


def _address(conn: Conn) -> str:
    assert conn.address is not None  # lease writes are allowed on registered conns only
    return conn.address


def _normalised(paths: Iterable[str]) -> list[str]:
    try:
        return [rules.normalise(p) for p in paths]
    except rules.LeaseRuleError as exc:
        raise Refusal(
            ErrorCode.BAD_FRAME,
            str(exc),
            "give paths or globs relative to the repository root (docs/leases.md)",
        ) from exc


def _clock(ts: float) -> str:
    """``14:05 UTC``: pure, from ``ts``."""
    return time.strftime("%H:%M UTC", time.gmtime(ts))
