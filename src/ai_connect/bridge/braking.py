"""The loop brake in the router (§3.6): counting sends, pausing, resuming, telling.

A mixin of :class:`~ai_connect.bridge.core.Router` over the pure policy of
:mod:`ai_connect.bridge.brake`. A paused conversation's messages are accepted and stored
as any other; ``accepted`` and ``deliver`` carry the reason (``paused``), so hooks show
them but wake nobody for them. When a send pauses a conversation, both sides get a notice
(a message from the bridge that is itself paused) and the server logs it for the operator.
"""

from __future__ import annotations

from ai_connect import identity
from ai_connect.bridge.brake import notice_text
from ai_connect.bridge.events import Action, Braked, Persist, Send
from ai_connect.bridge.state import _Conn, _RouterState
from ai_connect.bridge.store.base import AppendOp, StoredMessage
from ai_connect.protocol import AdminBrakes, AdminResume, Brakes, ErrorCode, Human
from ai_connect.protocol import Send as SendFrame

__all__ = ["NOTICE_SENDER"]

NOTICE_SENDER = "brake* (ai-connect)"
"""The sender of the brake's notices: ``*`` is not allowed in peer names."""
_NOTICE_CID = "brake:"
AGENT_KIND, HUMAN_KIND = "mcp", "cli"
"""The client kinds (``hello.client.kind``) of an agent's MCP server and of a person."""


class _Braking(_RouterState):
    def _brake_send(
        self, state: _Conn, frame: SendFrame, target: str, now: float, out: list[Action]
    ) -> None:
        """Counts a direct message; when it pauses its conversation, tells both sides."""
        sender = state.address
        assert sender is not None
        if target == identity.BROADCAST or sender == target:
            return
        # Agents send through their MCP server; a person through the CLI. Other clients
        # (scripts, benchmarks) neither run up nor reset the count.
        if state.kind == HUMAN_KIND:  # a person wrote to the recipient: as in its session
            self._brake.message(sender, target, frame.thread, True, now)
            self._brake.human(target)
            return
        if state.kind != AGENT_KIND:
            return
        verdict = self._brake.message(sender, target, frame.thread, False, now)
        if not verdict.tripped or verdict.paused is None:
            return
        parties = tuple(sorted({sender, target}))
        out.append(Braked(verdict.key, parties, verdict.paused))
        text = notice_text(verdict.key, verdict.paused)
        for who in parties:
            notice = StoredMessage(
                id=next(self._ids), sender=NOTICE_SENDER, to=who, body=text, context=None,
                thread=frame.thread, reply_to=None, ts=now,
                cid=f"{_NOTICE_CID}{verdict.key}:{now!r}:{who}",
            )  # fmt: skip
            out.append(Persist(AppendOp(notice, (who,))))

    def _paused_reason(self, message: StoredMessage) -> str | None:
        """Why ``message`` must wake nobody now, if so (its conversation is paused, or it
        is the brake's own notice)."""
        if message.cid.startswith(_NOTICE_CID) and message.sender == NOTICE_SENDER:
            return "a notice of the loop brake"
        if message.to == identity.BROADCAST:
            return None
        return self._brake.paused(message.sender, message.to, message.thread)

    def _on_brake_frame(
        self, state: _Conn, frame: Human | AdminBrakes | AdminResume, now: float, out: list[Action]
    ) -> None:
        assert state.address is not None
        if isinstance(frame, Human):
            resumed = self._brake.human(state.address)
        elif not state.admin and self._auth.required:
            self._error(
                state, now, out, ErrorCode.FORBIDDEN,
                f"{frame.type} needs an admin token on a bridge with auth",
                "run it with a token made by `ai-connect token create NAME --admin`",
                frame.rid,
            )  # fmt: skip
            return
        elif isinstance(frame, AdminResume):
            resumed = self._brake.resume(frame.conversation)
        else:
            resumed = []
        paused = self._brake.paused_list()
        out.append(Send(state.id, Brakes(rid=frame.rid, paused=paused, resumed=resumed)))
