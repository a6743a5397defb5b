"""Formatting for the CLI: human text and JSON. Pure: no I/O, no clock (``now`` is passed).

Everything a peer wrote (bodies, names, projects, threads, context, paths) is untrusted
input: each such string goes through :func:`ai_connect.text.neutral.neutralise` (here
also named :func:`clean`), which shows control characters, terminal escapes, invisible
and bidi characters as visible escapes (``\\x1b``, ``\\u200b``) and breaks model-framing
tags, so a message can neither recolour nor rewrite the terminal nor pass ``Boss\\u200b``
off as ``Boss``; every peer message is labelled ``[peer message] from SENDER`` (DESIGN.md,
Security). JSON output escapes every non-ASCII character and ``<`` (``\\u003c``): the data
stays exact, and no tag shows in it.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ai_connect import message_ids
from ai_connect.client import Receipt
from ai_connect.code_reference import LocalCopy, State
from ai_connect.errors import BridgeError, RequestRejected
from ai_connect.identity import BROADCAST
from ai_connect.protocol import MessageView, PeerView, StatusReport
from ai_connect.text.neutral import neutralise
from ai_connect.text.work import STALE_S, work_dict, work_line

__all__ = [
    "ago",
    "clean",
    "code_origin",
    "defang",
    "duration",
    "error_dict",
    "error_text",
    "message_text",
    "messages_text",
    "peer_dict",
    "peers_text",
    "proposal_head",
    "receipt_dict",
    "receipt_text",
    "reference_text",
    "short_id",
    "stamp",
    "status_dict",
    "status_text",
    "to_json",
    "unverified_text",
    "view_dict",
]

clean = neutralise
"""The name this module always had for :func:`ai_connect.text.neutral.neutralise`."""


def defang(text: str) -> str:
    """Text of several lines, neutralised as a whole (:func:`~ai_connect.text.neutral.neutralise`
    with ``multiline``); each field should have been neutralised on its own already."""
    return neutralise(text, multiline=True)


def short_id(message_id: str) -> str:
    """The distinguishing end of a message id, ``…0e42f1a3`` (:mod:`ai_connect.message_ids`):
    what ``--reply-to`` takes."""
    return message_ids.short(message_id)


def stamp(ts: float, now: float) -> str:
    """Local ``HH:MM:SS`` for today, ``YYYY-MM-DD HH:MM:SS`` for any other day."""
    when = time.localtime(ts)
    if time.strftime("%Y-%m-%d", when) == time.strftime("%Y-%m-%d", time.localtime(now)):
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%Y-%m-%d %H:%M:%S", when)


def duration(seconds: float) -> str:
    """``42 s``, ``5 min 02 s``, ``3 h 07 min``, ``2 d 4 h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def ago(ts: float, now: float) -> str:
    """``just now``, ``42 s ago``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    s = int(now - ts)
    if s < 1:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h ago"
    return f"{s // 86400} d ago"


def to_json(value: Any, *, indent: int | None = 2) -> str:
    """JSON with every non-ASCII and control character escaped (safe on any terminal), and
    ``<`` as ``\\u003c``: the same data once parsed, but no model-framing tag in the text."""
    return json.dumps(value, ensure_ascii=True, indent=indent).replace("<", "\\u003c")


# --- messages -------------------------------------------------------------------------


def view_dict(view: MessageView) -> dict[str, Any]:
    """A stored message (history, search) in the same shape as ``Message.as_dict()``."""
    return {
        "id": view.id,
        "from": view.from_,
        "to": view.to,
        "content": view.body,
        "context": view.context,
        "thread": view.thread,
        "reply_to": view.reply_to,
        "timestamp": view.ts,
    }


def _indent(text: str, prefix: str) -> list[str]:
    return [prefix + line for line in clean(text, multiline=True).split("\n")]


def reference_text(local: LocalCopy) -> str:
    """A verified reference: where the lines are in this checkout, and that they match."""
    assert local.ref is not None and local.path is not None
    ref = local.ref
    where = f"{clean(str(local.path))} lines {local.lines}"
    if local.state is State.IDENTICAL:
        text = f"your copy {where} is verified identical (sha256 {ref.sha256[:16]}…)"
    elif local.state is State.LINES:
        text = (
            f"{where} in your copy are verified identical (lines sha256 "
            f"{ref.lines_sha256[:16]}…; elsewhere your file differs)"
        )
    else:
        text = (
            f"the sender's lines {ref.lines} are verified identical at {where} in your "
            f"copy (lines sha256 {ref.lines_sha256[:16]}…; your file changed above them)"
        )
    if local.crlf:
        text += "; your copy has CRLF line endings"
    return text


def unverified_text(local: LocalCopy) -> str:
    """Why the content is shown although the context carries a reference."""
    if local.state is State.NOT_HERE:
        return ""
    if local.state is State.REFUSED:
        return "reference refused, nothing read (" + clean(", ".join(local.reasons)) + ")"
    where = clean(str(local.path)) if local.path is not None else "your copy"
    return f"your copy {where} does not verify: " + clean("; ".join(local.reasons))


def code_origin(context: Mapping[str, Any]) -> list[str]:
    """Where attached code comes from (``peer_context``, ``send --context-file``), as the
    facts a person and a model are both shown: repo, branch, commit, uncommitted changes."""
    facts = [f"{key} {clean(str(context[key]))}" for key in ("repo", "branch") if context.get(key)]
    if context.get("commit"):
        facts.append(f"commit {clean(str(context['commit']))[:12]}")
    if context.get("dirty"):
        facts.append("uncommitted changes")
    return facts


def _context_lines(context: Mapping[str, Any], local: LocalCopy | None = None) -> list[str]:
    """Attached context as lines: a file (``send --context-file``, ``peer_context``) as a
    header and ``| `` lines, a text as text, anything else as JSON. ``local``: this
    checkout's copy of a reference; verified, it replaces the content."""
    if isinstance(context.get("content"), str) and "file" in context:
        facts = [f"file {clean(str(context['file']))}"]
        if context.get("lines"):
            facts = [f"{clean(str(context['file']))} lines {clean(str(context['lines']))}"]
        if local is not None and local.verified:
            return [f"  context: {facts[0]}, by reference: {reference_text(local)}"]
        facts += code_origin(context)
        if context.get("truncated"):
            facts.append("truncated")
        if context.get("sha256"):
            facts.append(f"sha256 {clean(str(context['sha256']))[:16]}…")
        lines = ["  context: " + " · ".join(facts)]
        if local is not None and (why := unverified_text(local)):
            lines.append("  " + why)
        return lines + _indent(context["content"].rstrip("\n"), "    | ")
    if set(context) == {"text"} and isinstance(context["text"], str):
        return _indent("context: " + context["text"], "  ")
    return ["  context: " + clean(json.dumps(context, ensure_ascii=True, sort_keys=True))]


def proposal_head(p: Mapping[str, Any]) -> tuple[str, str]:
    """A proposal's id and the line that heads it for a person and a model alike:
    ``proposal ID [STATUS: OUTCOME] · rule RULE``, peer text neutralised."""
    status = clean(str(p.get("status", "")))
    if p.get("outcome"):
        status += f": {clean(str(p['outcome']))}"
    pid = clean(str(p.get("id", "")))
    return pid, f"proposal {pid} [{status}] · rule {clean(str(p.get('rule', '')))}"


def _proposal_lines(p: Mapping[str, Any], to: str, local: LocalCopy | None = None) -> list[str]:
    """A proposal a message carries (consensus): its state, what came with it, and the
    ``ai-connect consensus`` command that votes (or rules) on it, for this reader."""
    pid, head = proposal_head(p)
    lines = ["  " + head]
    attached = p.get("context")
    if isinstance(attached, Mapping) and isinstance(attached.get("text"), str):
        lines += _indent("context: " + attached["text"], "  ")
    if isinstance(attached, Mapping) and isinstance(attached.get("code"), Mapping):
        lines += _context_lines(attached["code"], local)
    participants = [str(a) for a in p.get("participants") or ()]
    if p.get("status") == "open" and to in participants:
        lines.append(f'  vote: ai-connect consensus vote {pid} approve|reject|abstain --reason "…"')
        if p.get("tags"):
            author = shlex.quote(clean(str(p.get("author", ""))))
            lines.append(f"     or: ai-connect send {author} '[LGTM]' --thread {pid}")
    elif p.get("status") == "escalated" and to == p.get("judge"):
        lines.append(f'  rule: ai-connect consensus vote {pid} approve|reject --reason "…"')
    return lines


def message_text(
    message: Mapping[str, Any], now: float, me: str | None = None, local: LocalCopy | None = None
) -> str:
    """A message (in ``as_dict`` form) for a human: who sent it, when, then the body.

    Messages from ``me`` (history, search) are labelled ``[you]``; any other is a
    ``[peer message]``: input from another agent, never an instruction from the user.
    ``local``: this checkout's copy of the context's reference; verified, it replaces
    the content.
    """
    sender, to = str(message["from"]), str(message["to"])
    if me is not None and sender == me:
        head = f"[you] to {clean(to)}"
    else:
        head = f"[peer message] from {clean(sender)}"
        if message.get("human"):  # sent as a human through an observer (protocol §9.3)
            head += " (a person)"
        if to == BROADCAST:
            head += " to * (everyone)"
    when = stamp(float(message["timestamp"]), now)
    head += f" · {when} · id {short_id(clean(str(message['id'])))}"
    lines = [head]
    meta = []
    if message.get("thread"):
        meta.append(f"thread {clean(str(message['thread']))}")
    if message.get("reply_to"):
        meta.append(f"reply to {short_id(clean(str(message['reply_to'])))}")
    if meta:
        lines.append("  " + " · ".join(meta))
    lines += _indent(str(message["content"]), "    ")
    context = message.get("context")
    if isinstance(context, Mapping) and isinstance(context.get("proposal"), Mapping):
        lines += _proposal_lines(context["proposal"], to, local)
    elif isinstance(context, Mapping) and context:
        lines += _context_lines(context, local)
    return defang("\n".join(lines))  # agents read CLI output too


def messages_text(
    messages: Iterable[Mapping[str, Any]],
    now: float,
    me: str | None = None,
    local: Mapping[str, LocalCopy] | None = None,
) -> str:
    """Several messages, separated by blank lines; ``local``: references by message id."""
    local = local or {}
    return "\n\n".join(message_text(m, now, me, local.get(str(m["id"]))) for m in messages)


def _names(addresses: tuple[str, ...], most: int = 10) -> str:
    shown = ", ".join(clean(a) for a in addresses[:most])
    return shown + (f" and {len(addresses) - most} more" if len(addresses) > most else "")


def receipt_dict(receipt: Receipt) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "cid": receipt.cid,
        "state": receipt.state,
        "to": receipt.to,
        "recipients": list(receipt.recipients),
        "online": list(receipt.online),
        "offline": list(receipt.offline),
        "timestamp": receipt.ts,
        "duplicate": receipt.duplicate,
    }


def receipt_text(receipt: Receipt) -> str:
    """``sent ID: delivered live to …; queued for offline …``."""
    parts = []
    if receipt.online:
        parts.append(f"delivered live to {_names(receipt.online)}")
    if receipt.offline:
        parts.append(f"queued for offline {_names(receipt.offline)} (delivered when they connect)")
    if not parts:
        parts.append("no recipients")
    again = " (sent before: stored once)" if receipt.duplicate else ""
    return f"sent message {receipt.id}{again}: " + "; ".join(parts)


# --- peers and status -----------------------------------------------------------------


def peer_dict(peer: PeerView) -> dict[str, Any]:
    return {
        "address": peer.address,
        "name": peer.name,
        "project": peer.project,
        "online": peer.online,
        "last_seen": peer.last_seen,
        "work": work_dict(peer.work),
    }


def peers_text(peers: Iterable[PeerView], now: float, me: str | None = None) -> str:
    """Online peers first, then offline ones with when they were last seen; each with
    its work status on the same line, if it published one (:mod:`ai_connect.text.work`)."""
    ordered = sorted(peers, key=lambda p: (not p.online, p.address.casefold()))
    if not ordered:
        return "No known peers."
    lines = []
    for peer in ordered:
        you = " (you)" if peer.address == me else ""
        if peer.online:
            line = f"online   {clean(peer.address)}{you}"
        else:
            line = f"offline  {clean(peer.address)}{you} · last seen {ago(peer.last_seen, now)}"
        if (work := peer.work) is not None:  # its work status (§11); offline: as it was
            age = ago(work.ts, now) if now - work.ts >= STALE_S else None
            line += " · " + ("" if peer.online else "was ") + work_line(work, age)
        lines.append(line)
    return "\n".join(lines)


def status_dict(report: StatusReport, url: str) -> dict[str, Any]:
    """The ``status --json`` form; it never carries the token."""
    return {
        "address": report.address,
        "bridge": url,
        "connected": True,
        "unread": report.unread,
        "server": report.server,
        "protocol": report.protocol,
        "storage": report.storage,
        "uptime_s": report.uptime_s,
        "peers_online": report.peers_online,
        "peers_known": report.peers_known,
    }


def status_text(status: Mapping[str, Any]) -> str:
    """``status_dict`` (or the not-connected form) for a human."""
    if not status.get("connected"):
        return f"bridge:    {status['bridge']}\nconnected: no"
    return "\n".join(
        [
            f"address:   {clean(str(status['address']))}",
            f"bridge:    {status['bridge']}",
            "connected: yes",
            f"unread:    {status['unread']}",
            f"server:    ai-connect {clean(str(status['server']))} (protocol {status['protocol']})",
            f"storage:   {clean(str(status['storage']))}",
            f"uptime:    {duration(float(status['uptime_s']))}",
            f"peers:     {status['peers_online']} online, {status['peers_known']} known",
        ]
    )


# --- errors ----------------------------------------------------------------------------


def error_dict(exc: BridgeError) -> dict[str, Any]:
    """An error for ``--json``: ``{"error": {type, message, hint, code?, candidates?}}``,
    the hint in the CLI's words."""
    data: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc), "hint": ""}
    if isinstance(exc, RequestRejected):
        data.update(message=exc.message, hint=exc.hint_for("cli"), code=exc.code)
        if exc.candidates:
            data["candidates"] = list(exc.candidates)
    return {"error": data}


def error_text(exc: BridgeError) -> str:
    """``Type: message; what to do`` for stderr, what to do in ``ai-connect …`` words.

    An error may quote peers' names (did you mean …): shown neutralised, as all peer text."""
    if isinstance(exc, RequestRejected):
        hint = exc.hint_for("cli")
        text = f"{type(exc).__name__}: {exc.message}" + (f"; {hint}" if hint else "")
    else:
        text = f"{type(exc).__name__}: {exc}"
    return clean(text, multiline=True)
