"""The hot frames, fast: ``send`` and ``ack`` decoded, ``deliver`` and ``accepted`` encoded
with msgspec (docs/protocol.md §3.1-§3.3).

Every message crosses the bridge as a ``send`` in, an ``accepted`` and one ``deliver``
per recipient out, and an ``ack`` back; validating and encoding those through pydantic
cost the bridge's event loop ~15 µs per message (issue 13). Here they are msgspec
Structs with the same fields and limits as their pydantic models in
:mod:`~ai_connect.protocol.client_frames` and :mod:`~ai_connect.protocol.bridge_frames`,
which stay the one definition of the protocol and its errors:

- :func:`decode_hot` reads a ``send`` or an ``ack`` as a :class:`HotSend` or
  :class:`HotAck`; anything else, and anything the fast decoder does not take as it is
  (bad input, a lone surrogate, a ``context`` too deep, a frame near the size limit,
  a binary frame),
  goes to :func:`~ai_connect.protocol.codec.decode_client`, so bad input gets exactly
  the errors it always got.
- :func:`deliver_tail` encodes what every recipient of a message gets alike, once;
  :func:`deliver_data` puts one recipient's ``seq`` in front of it.
- :func:`accepted_data` encodes an ``accepted``.

The bytes are the JSON that ``encode()`` writes for the same pydantic frame (same field
order and names, absent optionals left out).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import msgspec

from ai_connect.protocol.bridge_frames import Accepted, Acked, Deliver
from ai_connect.protocol.client_frames import Ack, ClientFrame, Send
from ai_connect.protocol.codec import decode_client
from ai_connect.protocol.frame import Rid, depth_ok
from ai_connect.protocol.limits import MAX_CONTEXT_DEPTH, MAX_INT

__all__ = [
    "AckFrame",
    "HotAck",
    "HotSend",
    "SendFrame",
    "accepted_data",
    "acked_data",
    "decode_hot",
    "deliver_data",
    "deliver_tail",
]

_Rid = Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | int


class HotSend(msgspec.Struct, frozen=True, tag="send", tag_field="type"):
    """A ``send`` frame as :class:`~ai_connect.protocol.client_frames.Send` reads it."""

    type: ClassVar[str] = "send"
    rid: _Rid
    cid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    to: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    body: str
    context: dict[str, Any] | None = None
    thread: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    reply_to: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    as_: str | None = msgspec.field(default=None, name="as")
    """Checked by the pydantic model (its name rule): a frame carrying it is decoded there."""
    receipt: bool | None = None


class HotAck(msgspec.Struct, frozen=True, tag="ack", tag_field="type"):
    """An ``ack`` frame as :class:`~ai_connect.protocol.client_frames.Ack` reads it."""

    type: ClassVar[str] = "ack"
    seq: Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
    rid: _Rid | None = None
    path: Literal["hook", "tool", "channel", "cli"] | None = None


SendFrame = Send | HotSend
"""A ``send`` as the router takes it, from either decoder."""
AckFrame = Ack | HotAck
"""An ``ack`` as the router takes it, from either decoder."""

_decoder = msgspec.json.Decoder(HotSend | HotAck)
_FAILED = (msgspec.MsgspecError, RecursionError, ValueError)  # UnicodeError is a ValueError


def decode_hot(data: str | bytes, max_bytes: int | None = None) -> ClientFrame | HotSend | HotAck:
    """Decodes a client frame as :func:`~ai_connect.protocol.codec.decode_client` does,
    ``send`` and ``ack`` fast; raises the same :class:`~ai_connect.errors.FrameError`."""
    # msgspec refuses a lone surrogate (escaped or raw) anywhere in the text, skipped
    # fields included, so such a frame reaches decode_client's own error (§6).
    if isinstance(data, str) and (max_bytes is None or len(data) * 4 <= max_bytes):
        try:
            frame = _decoder.decode(data)
        except _FAILED:
            pass
        else:
            context = getattr(frame, "context", None)
            if getattr(frame, "as_", None) is None and (
                context is None or depth_ok(context, MAX_CONTEXT_DEPTH)
            ):
                return frame
    return decode_client(data, max_bytes)


class _DeliverTail(msgspec.Struct, omit_defaults=True, kw_only=True):
    id: str
    from_: str = msgspec.field(name="from")
    to: str
    body: str
    context: dict[str, Any] | None = None
    thread: str | None = None
    reply_to: str | None = None
    ts: float
    paused: str | None = None
    human: bool | None = None


class _Accepted(msgspec.Struct, omit_defaults=True, tag="accepted", tag_field="type"):
    rid: _Rid
    cid: str
    id: str
    ts: float
    to: str
    recipients: list[str]
    online: list[str]
    duplicate: bool
    paused: str | None = None


class _Acked(msgspec.Struct, omit_defaults=True, kw_only=True, tag="acked", tag_field="type"):
    rid: _Rid | None = None
    seq: int


_encode = msgspec.json.Encoder().encode
_DELIVER_HEAD = b'{"type":"deliver","seq":'


def deliver_tail(
    id: str,
    sender: str,
    to: str,
    body: str,
    context: dict[str, Any] | None,
    thread: str | None,
    reply_to: str | None,
    ts: float,
    paused: str | None = None,
    human: bool | None = None,
) -> bytes:
    """The part of a message's ``deliver`` frame that all its recipients share: every
    field after ``seq`` (``sender`` is ``from`` on the wire; ``human`` only when true)."""
    tail = _DeliverTail(
        id=id, from_=sender, to=to, body=body, context=context, thread=thread,
        reply_to=reply_to, ts=float(ts), paused=paused, human=True if human else None,
    )  # fmt: skip
    return b"," + _encode(tail)[1:]


def deliver_data(seq: int, tail: bytes) -> bytes:
    """One recipient's ``deliver`` frame: its ``seq`` and the message's :func:`deliver_tail`."""
    return _DELIVER_HEAD + str(seq).encode() + tail


def accepted_data(
    rid: Rid,
    cid: str,
    id: str,
    ts: float,
    to: str,
    recipients: list[str],
    online: list[str],
    duplicate: bool = False,
    paused: str | None = None,
) -> bytes:
    """An ``accepted`` frame (§3.1), as ``encode(Accepted(...))`` writes it."""
    return _encode(_Accepted(rid, cid, id, float(ts), to, recipients, online, duplicate, paused))


def acked_data(rid: Rid | None, seq: int) -> bytes:
    """An ``acked`` frame (§2.2, §3.3), as ``encode(Acked(...))`` writes it: the reply to
    each ``ack`` with a ``rid`` (every recipient of a broadcast sends one)."""
    return _encode(_Acked(rid=rid, seq=seq))


# The Structs mirror these models; tests/protocol/test_hot.py holds them to it.
MIRRORS: dict[type[msgspec.Struct], type[Any]] = {
    HotSend: Send,
    HotAck: Ack,
    _DeliverTail: Deliver,
    _Accepted: Accepted,
    _Acked: Acked,
}
