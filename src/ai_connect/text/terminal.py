"""Formatting for the CLI: human text and JSON. Pure: no I/O, no clock (``now`` is passed).

Everything a peer wrote (bodies, names, threads, context) is untrusted input: control
characters, terminal escape sequences and bidi overrides are shown as visible escapes
(``\\x1b``) so a message can neither recolour nor rewrite the terminal, and every peer
message is labelled ``[peer message] from SENDER`` (DESIGN.md, Security).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ai_connect.client import Receipt
from ai_connect.code_reference import LocalCopy, State
from ai_connect.identity import BROADCAST
from ai_connect.protocol import MessageView, PeerView, StatusReport

__all__ = [
    "ago",
    "clean",
    "defang",
    "duration",
    "message_text",
    "messages_text",
    "peer_dict",
    "peers_text",
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

# C0 and C1 controls, DEL, and the invisible bidi/line controls a terminal may act on.
_UNSAFE = [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F]
_UNSAFE += [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x2028, 0x2029]


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_LINE_TABLE = {code: _escape(code) for code in _UNSAFE}
_TEXT_TABLE = {k: v for k, v in _LINE_TABLE.items() if k not in (0x09, 0x0A)}


def clean(text: str, *, multiline: bool = False) -> str:
    """``text`` with every unsafe character replaced by a visible escape.

    ``multiline`` keeps newlines and tabs (message bodies); otherwise they are escaped
    too (names, addresses, one-line fields).
    """
    return text.translate(_TEXT_TABLE if multiline else _LINE_TABLE)


# Tags that frame text for a model (Claude Code's <channel> and <system-reminder>, chat
# roles, tool calls): peer text must not close or open one, wherever an agent reads it.
_FRAME_TAG = re.compile(
    r"<(?=\s*/?\s*(?:channel|system-reminder|system|user|assistant|human|"
    r"function_calls|function_results|antml:\w+)\b)",
    re.IGNORECASE,
)


def defang(text: str) -> str:
    """``text`` with the ``<`` of every model-framing tag shown as U+2039 (docs/security.md)."""
    return _FRAME_TAG.sub("\u2039", text)


def short_id(message_id: str, width: int = 8) -> str:
    return message_id if len(message_id) <= width else message_id[:width] + "…"


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
    """JSON with every non-ASCII and control character escaped (safe on any terminal)."""
    return json.dumps(value, ensure_ascii=True, indent=indent)


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


def _context_lines(context: Mapping[str, Any], local: LocalCopy | None = None) -> list[str]:
    content = context.get("content")
    if set(context) == {"file", "content"} and isinstance(content, str):
        lines = [f"  context: file {clean(str(context['file']))}"]
        return lines + _indent(content, "    | ")
    if context.get("kind") == "code" and isinstance(content, str) and "file" in context:
        where = f"{clean(str(context['file']))} lines {clean(str(context.get('lines', 'all')))}"
        if local is not None and local.verified:
            return [f"  context: {where}, by reference: {reference_text(local)}"]
        facts = [f"repo {clean(str(context['repo']))}"] if context.get("repo") else []
        if context.get("commit"):
            facts.append(f"commit {clean(str(context['commit']))[:12]}")
        if context.get("dirty"):
            facts.append("uncommitted changes")
        lines = ["  context: " + " · ".join([where, *facts])]
        if local is not None and (why := unverified_text(local)):
            lines.append("  " + why)
        return lines + _indent(content.rstrip("\n"), "    | ")
    return ["  context: " + json.dumps(context, ensure_ascii=True, sort_keys=True)]


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
    head += f" · {stamp(float(message['timestamp']), now)} · id {short_id(str(message['id']))}"
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
    if isinstance(context, Mapping) and context:
        lines += _context_lines(context, local)
    return defang("\n".join(lines))  # agents read CLI output too


def messages_text(messages: Iterable[Mapping[str, Any]], now: float, me: str | None = None) -> str:
    """Several messages, separated by blank lines."""
    return "\n\n".join(message_text(m, now, me) for m in messages)


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
    }


def peers_text(peers: Iterable[PeerView], now: float, me: str | None = None) -> str:
    """Online peers first, then offline ones with when they were last seen."""
    ordered = sorted(peers, key=lambda p: (not p.online, p.address.casefold()))
    if not ordered:
        return "No known peers."
    lines = []
    for peer in ordered:
        you = " (you)" if peer.address == me else ""
        if peer.online:
            lines.append(f"online   {clean(peer.address)}{you}")
        else:
            lines.append(
                f"offline  {clean(peer.address)}{you} · last seen {ago(peer.last_seen, now)}"
            )
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
