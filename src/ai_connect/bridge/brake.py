"""The loop brake (pure): agents answering each other unattended are stopped in time.

Once woken agents answer without a human, two of them can ping-pong forever at their
owners' expense. The bridge counts, per conversation, the messages that pass between
agents with no human input in between, and the messages per minute; past a limit it
pauses the conversation: what is sent is still accepted and stored, but delivered with
the reason attached, so that no hook wakes an agent for it (docs/hooks.md, "The loop
brake"). A person resumes it by speaking in either session (a prompt the hooks see, or a
CLI send), or an operator with ``ai-connect admin resume``.

A conversation is a thread when the message has one, else the pair of peers. Time comes
in as ``now``; nothing here does I/O. The bridge's :class:`~ai_connect.bridge.core.Router`
owns one :class:`Brake`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = ["Brake", "BrakeLimits", "Verdict", "conversation", "notice_text"]

WINDOW_S = 60.0
IDLE_S = 6 * 3600.0
"""A conversation not paused and silent this long is forgotten (its count starts anew)."""


@dataclass(frozen=True, slots=True)
class BrakeLimits:
    """When to pause. ``0`` turns a limit off.

    The defaults let a review round of tens of exchanges run (agents that think between
    messages send a few a minute) and stop a runaway within a minute (agents that answer
    at once send one every few seconds).
    """

    hops: int = 40
    """Messages between agents with no human input in between."""
    per_minute: int = 12
    """Messages per minute within one conversation."""


@dataclass(frozen=True, slots=True)
class Verdict:
    key: str
    paused: str | None
    """Why the conversation is paused (``None``: it is not)."""
    tripped: bool = False
    """This very message paused it: tell both sides and the operator."""


@dataclass(slots=True)
class _Conversation:
    key: str
    parties: set[str] = field(default_factory=set)
    hops: int = 0
    recent: deque[float] = field(default_factory=deque)
    paused: str | None = None
    last: float = 0.0


def conversation(sender: str, to: str, thread: str | None) -> str:
    """The conversation a message belongs to: its thread, else its pair of peers."""
    if thread:
        return f"thread:{thread}"
    first, second = sorted((sender, to))
    return f"pair:{first} <-> {second}"


def notice_text(key: str, reason: str) -> str:
    """What both sides of a paused conversation are told (as a message that wakes nobody)."""
    what = key.split(":", 1)[1]
    return (
        f"ai-connect paused the conversation {what}: {reason}. Messages in it are still "
        "stored and shown, but wake no agent, until a person speaks in either session (or "
        "an operator runs `ai-connect admin resume`). If you are an agent: do not send "
        "more in this conversation; end your turn, a person will pick it up."
    )


class Brake:
    """Counts unattended exchanges per conversation; pauses past the limits."""

    def __init__(self, limits: BrakeLimits | None = None) -> None:
        self.limits = limits or BrakeLimits()
        self._conversations: dict[str, _Conversation] = {}
        self._paused = 0
        """How many of them are paused: with none (nearly always), :meth:`paused` answers
        without building a key (it is asked for every delivery, issue 13)."""

    def message(self, sender: str, to: str, thread: str | None, human: bool, now: float) -> Verdict:
        """A message from ``sender`` to ``to``; ``human``: a person sent it (the CLI)."""
        key = conversation(sender, to, thread)
        c = self._conversations.get(key)
        if c is None:
            c = self._conversations[key] = _Conversation(key)
        c.parties |= {sender, to}
        c.last = now
        if human:
            self._reset(c)
            return Verdict(key, None)
        if c.paused is not None:
            return Verdict(key, c.paused)
        c.hops += 1
        c.recent.append(now)
        while c.recent and c.recent[0] <= now - WINDOW_S:
            c.recent.popleft()
        hops, rate = self.limits.hops, self.limits.per_minute
        if hops and c.hops > hops:
            c.paused = f"{hops} messages passed between agents with no human input (the limit)"
        elif rate and len(c.recent) > rate:
            c.paused = f"more than {rate} messages in one minute (the limit)"
        if c.paused is not None:
            self._paused += 1
        return Verdict(key, c.paused, tripped=c.paused is not None)

    def paused(self, sender: str, to: str, thread: str | None) -> str | None:
        """Why the conversation of such a message is paused now, if it is."""
        if not self._paused:
            return None
        c = self._conversations.get(conversation(sender, to, thread))
        return c.paused if c is not None else None

    def human(self, address: str) -> list[str]:
        """A person spoke in ``address``'s session: its conversations start counting anew
        and resume. Returns the keys of those that were paused."""
        resumed = []
        for c in self._conversations.values():
            if address in c.parties:
                if c.paused is not None:
                    resumed.append(c.key)
                self._reset(c)
        return sorted(resumed)

    def resume(self, key: str | None = None) -> list[str]:
        """The operator lifts the pause of ``key`` (``None``: of every conversation)."""
        resumed = []
        for c in self._conversations.values():
            if c.paused is not None and key in (None, c.key):
                resumed.append(c.key)
                self._reset(c)
        return sorted(resumed)

    def paused_list(self) -> list[dict[str, object]]:
        """Every paused conversation: key, parties, reason."""
        return [
            {"conversation": c.key, "parties": sorted(c.parties), "reason": c.paused}
            for c in sorted(self._conversations.values(), key=lambda c: c.key)
            if c.paused is not None
        ]

    def forget_idle(self, now: float) -> None:
        """Drops conversations not paused and silent for :data:`IDLE_S` (bounded memory)."""
        idle = [
            k for k, c in self._conversations.items() if c.paused is None and c.last < now - IDLE_S
        ]
        for key in idle:
            del self._conversations[key]

    def _reset(self, c: _Conversation) -> None:
        c.hops = 0
        c.recent.clear()
        if c.paused is not None:
            self._paused -= 1
        c.paused = None
