"""The state of ``ai-connect watch``: events in, rows, a peers panel and an attention line out.

Pure: no I/O, no clock (``now`` is passed in). Both views stand on it: the line renderer
prints each :class:`Row` as it comes, the terminal app adds it to its timeline and
redraws the panels. Every text a row or panel carries has gone through
:func:`ai_connect.text.terminal.clean` here, once, so no view can show a peer's escape
sequence raw.

What it keeps: the last ``keep`` messages with each recipient's delivery state, the
copies delivered but not shown yet (for the attention line), the peers with presence,
last seen and unread count, and the open proposals.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ai_connect.identity import BROADCAST
from ai_connect.text.terminal import ago, clean, duration, stamp
from ai_connect.watch.events import (
    DeliveryChanged,
    DeliveryState,
    LinkChanged,
    MessageSeen,
    PeerInfo,
    PresenceChanged,
    ProposalChanged,
    Snapshot,
    WatchEvent,
    WorkChanged,
)
from ai_connect.watch.filters import Filters, Scope, proposal_scope
from ai_connect.watch.summary import context_summary, one_line, tally_text

__all__ = ["Attention", "PeerRow", "Row", "RowKind", "WatchModel"]

RowKind = Literal[
    "message", "delivered", "shown", "join", "leave", "proposal", "vote", "verdict", "link", "work"
]

_ORDER: dict[DeliveryState, int] = {"accepted": 0, "delivered": 1, "shown": 2}
_FINAL = {"decided", "expired", "withdrawn"}


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the timeline: display-ready (cleaned) text."""

    ts: float
    kind: RowKind
    key: str
    """The message id (message, delivered, shown), proposal id, or peer address."""
    who: str
    """``alice (p) -> bob (p)``, a peer's address, or a proposal's voter/author."""
    text: str = ""
    thread: str = ""
    human: bool = False


@dataclass(frozen=True, slots=True)
class PeerRow:
    address: str
    online: bool
    seen: str
    """``online``, or ``5 min ago``."""
    unread: int
    work: str = ""
    """Its work status in one line (``working · repo main@abc · edited …``), if any."""


@dataclass(frozen=True, slots=True)
class Attention:
    unread: tuple[tuple[str, int], ...] = ()
    """(peer, unread mail), most first."""
    unshown: tuple[tuple[str, str, float], ...] = ()
    """(message id, recipient, delivered at): delivered but not shown for long, oldest first."""
    waiting: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(proposal id, who has not voted yet; the judge if escalated)."""

    def text(self, now: float, most: int = 3) -> str:
        """``unread: bob (p) 3 · not shown > 1 min: 2 (oldest 5 min, to bob (p)) · …``."""
        parts = []
        if self.unread:
            shown = ", ".join(f"{a} {n}" for a, n in self.unread[:most])
            more = f" +{len(self.unread) - most} more" if len(self.unread) > most else ""
            parts.append(f"unread: {shown}{more}")
        if self.unshown:
            _, recipient, since = self.unshown[0]
            parts.append(
                f"delivered, not shown: {len(self.unshown)} "
                f"(oldest {duration(now - since)}, to {recipient})"
            )
        if self.waiting:
            shown = ", ".join(
                f"{pid} ({', '.join(who[:most])}{'…' if len(who) > most else ''})"
                for pid, who in self.waiting[:most]
            )
            more = f" +{len(self.waiting) - most} more" if len(self.waiting) > most else ""
            parts.append(f"waiting for votes: {shown}{more}")
        return " · ".join(parts) or "nothing waiting"


@dataclass(slots=True)
class _Message:
    event: MessageSeen
    scope: Scope
    states: dict[str, tuple[DeliveryState, float, str | None]] = field(default_factory=dict)
    """recipient -> (state, since, path)."""


class WatchModel:
    """Events in (:meth:`apply`), rows out; panels and attention on demand."""

    def __init__(
        self,
        filters: Filters | None = None,
        *,
        stale_s: float = 60.0,
        keep: int = 5000,
        keep_rows: int = 5000,
    ):
        self.filters = filters or Filters()
        self.stale_s = stale_s
        """A copy delivered this long ago and not shown yet needs attention."""
        self.keep = keep
        self.bridge = ""
        self.connected = False
        self.peers: dict[str, PeerInfo] = {}
        self.proposals: dict[str, dict[str, Any]] = {}
        self._messages: OrderedDict[str, _Message] = OrderedDict()
        self._unshown: dict[tuple[str, str], tuple[float, str | None]] = {}
        """(message id, recipient) -> (delivered at, sender): delivered, not shown yet."""
        self._timeline: deque[tuple[Row, Scope]] = deque(maxlen=keep_rows)

    # --- events in ------------------------------------------------------------------

    def apply(self, event: WatchEvent) -> list[Row]:
        """Takes one event; returns the timeline rows it makes that the filters pass."""
        made: list[tuple[Row, Scope]]
        if isinstance(event, MessageSeen):
            made = self._message(event)
        elif isinstance(event, DeliveryChanged):
            made = self._delivery(event)
        elif isinstance(event, PresenceChanged):
            made = self._presence(event)
        elif isinstance(event, ProposalChanged):
            made = self._proposal(event)
        elif isinstance(event, WorkChanged):
            made = self._work(event)
        elif isinstance(event, Snapshot):
            made = self._snapshot(event)
        else:
            made = self._link(event)
        self._timeline.extend(made)
        return [row for row, scope in made if self.filters.passes(scope)]

    def rows(self) -> list[Row]:
        """The timeline kept so far (the last ``keep_rows``) that the filters pass."""
        return [row for row, scope in self._timeline if self.filters.passes(scope)]

    def set_filters(self, filters: Filters) -> list[Row]:
        """Changes the filters; returns the kept timeline as they show it."""
        self.filters = filters
        return self.rows()

    def _snapshot(self, snap: Snapshot) -> list[tuple[Row, Scope]]:
        self.connected = True
        self.bridge = snap.bridge or self.bridge
        self.peers = {p.address: p for p in snap.peers}
        self.proposals = {str(p["id"]): p for p in snap.proposals if "id" in p}
        self._unshown = {(d.id, d.recipient): (d.ts, d.sender) for d in snap.unshown}
        for d in snap.unshown:
            if (m := self._messages.get(d.id)) is not None:
                m.states[d.recipient] = ("delivered", d.ts, d.path)
        online = sum(1 for p in snap.peers if p.online)
        text = f"{len(snap.peers)} peers ({online} online), {len(self.proposals)} open proposals"
        if self.bridge:
            text = f"{clean(self.bridge)}: {text}"
        return [(Row(snap.ts, "link", "up", "bridge", text), Scope("link"))]

    def _message(self, m: MessageSeen) -> list[tuple[Row, Scope]]:
        if m.id in self._messages:
            return []  # the history and the live feed both had it
        scope = Scope("message", (m.sender, *m.recipients), m.thread)
        entry = _Message(m, scope, {r: ("accepted", m.ts, None) for r in m.recipients})
        self._messages[m.id] = entry
        while len(self._messages) > self.keep:
            self._messages.popitem(last=False)
        for r in () if m.past else m.recipients:
            if r in self.peers:
                peer = self.peers[r]
                self.peers[r] = replace(peer, unread=peer.unread + 1)
        text = one_line(m.preview)
        if m.size > len(m.preview.encode()):
            text += f" (+{m.size - len(m.preview.encode())} bytes)"
        if summary := context_summary(m.context):
            text += f" [context: {summary}]"
        if m.paused:
            text += " [paused by the loop brake]"
        row = Row(m.ts, "message", m.id, self._route(m), text, clean(m.thread or ""), m.human)
        return [(row, scope)]

    def _route(self, m: MessageSeen) -> str:
        sender = clean(m.sender) + (" [human]" if m.human else "")
        if m.to == BROADCAST:
            return f"{sender} -> * ({len(m.recipients)})"
        to = ", ".join(clean(r) for r in m.recipients) or clean(m.to)
        return f"{sender} -> {to}"

    def _delivery(self, d: DeliveryChanged) -> list[tuple[Row, Scope]]:
        entry = self._messages.get(d.id)
        key = (d.id, d.recipient)
        if d.state == "shown":
            self._unshown.pop(key, None)
        elif d.state == "delivered":
            self._unshown.setdefault(key, (d.ts, d.sender))
        if entry is not None:
            old = entry.states.get(d.recipient)
            if old is not None and _ORDER[old[0]] >= _ORDER[d.state]:
                return []  # a second delivery (a reconnect) changes nothing we show
            entry.states[d.recipient] = (d.state, d.ts, d.path)
            scope = entry.scope
        else:
            scope = Scope("message", (d.sender or "", d.recipient), None, known=False)
        if d.state == "shown" and not d.past and d.recipient in self.peers:
            peer = self.peers[d.recipient]
            self.peers[d.recipient] = replace(peer, unread=max(0, peer.unread - 1))
        via = f"{'by' if d.state == 'shown' else 'to'} {clean(d.path)}" if d.path else ""
        return [(Row(d.ts, d.state, d.id, f"-> {clean(d.recipient)}", via), scope)]

    def _presence(self, p: PresenceChanged) -> list[tuple[Row, Scope]]:
        old = self.peers.get(p.peer.address)
        unread = p.peer.unread if old is None or p.peer.unread else old.unread
        self.peers[p.peer.address] = replace(p.peer, unread=unread)
        kind: RowKind = "join" if p.joined else "leave"
        row = Row(p.ts, kind, clean(p.peer.address), clean(p.peer.address))
        return [(row, Scope("peer", (p.peer.address,)))]

    def _work(self, w: WorkChanged) -> list[tuple[Row, Scope]]:
        old = self.peers.get(w.peer.address)
        unread = old.unread if old is not None else w.peer.unread
        self.peers[w.peer.address] = replace(w.peer, unread=unread)
        address = clean(w.peer.address)
        row = Row(w.ts, "work", address, address, clean(w.peer.work or ""))
        return [(row, Scope("peer", (w.peer.address,)))]

    def _proposal(self, e: ProposalChanged) -> list[tuple[Row, Scope]]:
        p = e.proposal
        pid = str(p.get("id", "?"))
        if e.change in _FINAL or p.get("status") in _FINAL:
            self.proposals.pop(pid, None)
        else:
            self.proposals[pid] = p
        return [(self._proposal_row(e, clean(pid)), proposal_scope(p))]

    def _proposal_row(self, e: ProposalChanged, pid: str) -> Row:
        p = e.proposal
        if e.change == "proposed":
            parties = ", ".join(clean(str(a)) for a in p.get("participants", ()))
            text = f"{one_line(str(p.get('question', '')))} [{clean(str(p.get('rule', '')))}: "
            return Row(e.ts, "proposal", pid, clean(str(p.get("author", ""))), text + parties + "]")
        if e.change == "voted":
            ballots = list(p.get("ballots", ()))
            last = max(ballots, key=lambda b: float(b.get("ts", 0)), default=None)
            voter = clean(str(last["voter"])) if last else ""
            text = clean(str(last["choice"])) if last else "vote"
            if last and last.get("reason"):
                text += f": {one_line(str(last['reason']), 80, 1)}"
            return Row(e.ts, "vote", pid, voter, f"{text} ({tally_text(p)})")
        text = clean(e.change)
        if p.get("outcome") and p["outcome"] != e.change:
            text += clean(f": {p['outcome']}")
        if e.change == "escalated" and p.get("judge"):
            text += clean(f" to {p['judge']}")
        if p.get("reason"):
            text += f" ({one_line(str(p['reason']), 100, 1)})"
        return Row(e.ts, "verdict", pid, clean(str(p.get("author", ""))), text)

    def _link(self, e: LinkChanged) -> list[tuple[Row, Scope]]:
        self.connected = e.up
        text = clean(e.reason) or ("connected" if e.up else "disconnected")
        return [(Row(e.ts, "link", "up" if e.up else "down", "bridge", text), Scope("link"))]

    # --- views out ------------------------------------------------------------------

    def state_text(self, message_id: str) -> str:
        """The delivery state of a message: ``shown (hook)``, or ``shown 2/3 · delivered 1``."""
        entry = self._messages.get(message_id)
        if entry is None or not entry.states:
            return ""
        states = entry.states.values()
        if len(entry.states) == 1:
            state, _, path = next(iter(states))
            return state + (f" ({clean(path)})" if path and state == "shown" else "")
        counts = {s: sum(1 for st, _, _ in states if st == s) for s in ("shown", "delivered")}
        n = len(entry.states)
        parts = [f"shown {counts['shown']}/{n}"]
        if counts["delivered"]:
            parts.append(f"delivered {counts['delivered']}")
        if waiting := n - counts["shown"] - counts["delivered"]:
            parts.append(f"waiting {waiting}")
        return " · ".join(parts)

    def states(self, message_id: str) -> dict[str, DeliveryState]:
        """Each recipient's state of a message the watch saw (empty if it did not)."""
        entry = self._messages.get(message_id)
        return {r: s for r, (s, _, _) in entry.states.items()} if entry else {}

    def message(self, message_id: str) -> MessageSeen | None:
        entry = self._messages.get(message_id)
        return entry.event if entry else None

    def detail(self, message_id: str, now: float, lines: int = 8) -> str:
        """A message in full, as far as the watch knows it: who, thread, each recipient's
        state with its path and time, and the preview's first ``lines`` lines."""
        entry = self._messages.get(message_id)
        if entry is None:
            return ""
        m = entry.event
        head = f"{clean(m.id)} · {self._route(m)} · {stamp(m.ts, now)}"
        if m.thread:
            head += f" · thread {clean(m.thread)}"
        if m.reply_to:
            head += f" · reply to {clean(m.reply_to)}"
        out = [head]
        for recipient, (state, since, path) in entry.states.items():
            via = f" ({clean(path)})" if path else ""
            if state == "accepted" and recipient not in m.online:
                via = " (offline: waits in its mailbox)"
            out.append(f"  {clean(recipient)}: {state}{via} at {stamp(since, now)}")
        body = clean(m.preview, multiline=True).split("\n")
        out += ["  | " + line for line in body[:lines]]
        if len(body) > lines or m.size > len(m.preview.encode()):
            out.append("  | …")
        if summary := context_summary(m.context):
            out.append(f"  context: {summary}")
        return "\n".join(out)

    def peer_rows(self, now: float) -> list[PeerRow]:
        """Online first, then by address; only the peers the filters pass."""
        shown = [p for p in self.peers.values() if self.filters.passes_peer(p.address)]
        shown.sort(key=lambda p: (not p.online, p.address.casefold()))
        return [
            PeerRow(
                clean(p.address),
                p.online,
                "online" if p.online else ago(p.last_seen, now),
                p.unread,
                clean(p.work or ""),
            )
            for p in shown
        ]

    def attention(self, now: float) -> Attention:
        unread = sorted(
            ((clean(p.address), p.unread) for p in self.peers.values() if p.unread > 0),
            key=lambda item: (-item[1], item[0].casefold()),
        )
        stale = sorted(
            (
                (mid, clean(recipient), since)
                for (mid, recipient), (since, _) in self._unshown.items()
                if now - since >= self.stale_s
            ),
            key=lambda item: item[2],
        )
        waiting = []
        for pid, p in self.proposals.items():
            if who := _waiting_for(p):
                waiting.append((clean(pid), tuple(clean(a) for a in who)))
        return Attention(tuple(unread), tuple(stale), tuple(waiting))

    def load(self, events: Iterable[WatchEvent]) -> list[Row]:
        """Applies several events; returns all their rows."""
        return [row for event in events for row in self.apply(event)]


def _seen(peer: PeerInfo, now: float) -> str:
    return "online" if peer.online else ago(peer.last_seen, now)


def _waiting_for(p: dict[str, Any]) -> list[str]:
    """Who a proposal waits for: participants without a ballot, or its judge."""
    status = p.get("status")
    if status == "escalated":
        return [str(p["judge"])] if p.get("judge") and not p.get("ruling") else []
    if status != "open":
        return []
    voted = {str(b.get("voter")) for b in p.get("ballots", ()) if b.get("choice") != "continue"}
    return [str(a) for a in p.get("participants", ()) if str(a) not in voted]
