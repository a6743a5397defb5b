"""The loop brake in the router (§3.6): counting sends, pausing, resuming, telling.

A part of :class:`~ai_connect.bridge.core.Router` over the pure policy of
:mod:`ai_connect.bridge.brake`. A paused conversation's messages are accepted and stored
as any other; ``accepted`` and ``deliver`` carry the reason (``paused``, through
:meth:`Braking.paused_reason`), so hooks show them but wake nobody for them. When a send
pauses a conversation, both sides get a notice (a message from the bridge that is
itself paused) and the server logs it for the operator.
"""

from __future__ import annotations

from collections.abc import Iterator

from ai_connect import identity
from ai_connect.bridge.auth import Authenticator
from ai_connect.bridge.brake import Brake, notice_text
from ai_connect.bridge.events import Action, Braked, Persist, Send
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Registry, RouterConfig
from ai_connect.bridge.store.base import AppendOp, StoredMessage
from ai_connect.protocol import AdminBrakes, AdminResume, Brakes, ErrorCode, Human
from ai_connect.protocol.hot import SendFrame

__all__ = ["AGENT_KIND", "HUMAN_KIND", "NOTICE_SENDER", "Braking"]

NOTICE_SENDER = "brake* (ai-connect)"
"""The sender of the brake's notices: ``*`` is not allowed in peer names."""
_NOTICE_CID = "brake:"
AGENT_KIND, HUMAN_KIND = "mcp", "cli"
"""The client kinds (``hello.client.kind``) of an agent's MCP server and of a person."""


class Braking:
    """Feeds sends and human input to the :class:`~ai_connect.bridge.brake.Brake`."""

    def __init__(
        self, config: RouterConfig, registry: Registry, auth: Authenticator, ids: Iterator[str]
    ) -> None:
        self.brake = Brake(config.brake)
        self.registry, self.auth, self.ids = registry, auth, ids

    def on_send(
        self,
        conn: Conn,
        frame: SendFrame,
        now: float,
        sender: str,
        target: str,
        human: bool = False,
    ) -> list[Action]:
        """Counts a direct message to ``target`` (already accepted for storing; the
        address ``frame.to`` resolved to); when it pauses its conversation, both sides get
        a notice and the operator a log line. ``human``: a person sent it through an
        observer (§9.3), which counts as human input."""
        if target == identity.BROADCAST:
            return []
        if sender == target:
            return []
        # Agents send through their MCP server; a person through the CLI. Other clients
        # (scripts, benchmarks) neither run up nor reset the count.
        if human or conn.kind == HUMAN_KIND:  # a person wrote to the recipient: as in its session
            self.brake.message(sender, target, frame.thread, True, now)
            self.brake.human(target)
            return []
        if conn.kind != AGENT_KIND:
            return []
        verdict = self.brake.message(sender, target, frame.thread, False, now)
        if not verdict.tripped or verdict.paused is None:
            return []
        parties = tuple(sorted({sender, target}))
        out: list[Action] = [Braked(verdict.key, parties, verdict.paused)]
        text = notice_text(verdict.key, verdict.paused)
        for who in parties:
            notice = StoredMessage(
                id=next(self.ids), sender=NOTICE_SENDER, to=who, body=text, context=None,
                thread=frame.thread, reply_to=None, ts=now,
                cid=f"{_NOTICE_CID}{verdict.key}:{now!r}:{who}",
            )  # fmt: skip
            out.append(Persist(AppendOp(notice, (who,))))
        return out

    def paused_reason(self, message: StoredMessage) -> str | None:
        """Why ``message`` must wake nobody now, if so (its conversation is paused, or it
        is the brake's own notice)."""
        if message.cid.startswith(_NOTICE_CID) and message.sender == NOTICE_SENDER:
            return "a notice of the loop brake"
        if message.to == identity.BROADCAST:
            return None
        return self.brake.paused(message.sender, message.to, message.thread)

    def on_frame(self, conn: Conn, frame: Human | AdminBrakes | AdminResume) -> list[Action]:
        """``human`` from anyone; the admin requests from admins (anyone without auth)."""
        assert conn.address is not None
        if isinstance(frame, Human):
            resumed = self.brake.human(conn.address)
        elif not conn.admin and self.auth.required:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                f"{frame.type} needs an admin token on a bridge with auth",
                "run it with a token made by `ai-connect token create NAME --admin`",
            )
        elif isinstance(frame, AdminResume):
            resumed = self.brake.resume(frame.conversation)
        else:
            resumed = []
        paused = self.brake.paused_list()
        return [Send(conn.id, Brakes(rid=frame.rid, paused=paused, resumed=resumed))]

    def forget_idle(self, now: float) -> None:
        self.brake.forget_idle(now)
