"""The wire between the bridge and its store process (store/sqlite/process.py, child.py).

One call at a time over a stream socket, each way a frame: a 4-byte big-endian length,
then msgpack (msgspec). A call is ``[method, [args...]]``: any write method of
:class:`~ai_connect.bridge.store.sqlite.SqliteStore`, its arguments typed by that
method's own annotations (one generic proxy, no hand-written copy per method). The answer
is ``[0, result]`` or ``[1, [module, class, message]]``: the error the method raised,
raised again in the bridge as the same :class:`~ai_connect.errors.StoreError` class with
the same message. msgspec, not pickle: a batch of 16 messages and its result go there and
back in 1.6 µs per message against pickle's 12 (bench/RESULTS.md, issue 13 item 5).
"""

from __future__ import annotations

import functools
import importlib
import socket
import struct
import typing
from typing import Any

import msgspec

from ai_connect.bridge.store.base import AppendResult, CommitResult, StoredMessage, WriteBatch
from ai_connect.errors import StoreError

__all__ = [
    "WRITES",
    "Committed",
    "Decoders",
    "committed",
    "decoders",
    "encode_error",
    "raise_error",
    "read_frame",
    "write_frame",
]

WRITES = ("commit", "put_token", "revoke_token", "close")
"""What the store process does; everything else (reads) stays in the bridge process."""

_HEADER = struct.Struct(">I")
_FIRST_READ = 1 << 16
_encoder = msgspec.msgpack.Encoder()
encode = _encoder.encode
call_decoder = msgspec.msgpack.Decoder(tuple[str, msgspec.Raw])
answer_decoder = msgspec.msgpack.Decoder(tuple[int, msgspec.Raw])
_error_decoder = msgspec.msgpack.Decoder(tuple[str, str, str])


class Decoders(msgspec.Struct, frozen=True):
    """How one method's arguments and result read back."""

    args: msgspec.msgpack.Decoder[Any]
    result: msgspec.msgpack.Decoder[Any]


class Committed(msgspec.Struct, array_like=True):
    """A commit's answer, without the messages the bridge sent itself: per append its
    mailbox numbers, and the stored message only for a duplicate (the original one)."""

    seqs: list[dict[str, int]]
    duplicates: dict[int, StoredMessage]
    pruned: int

    @classmethod
    def of(cls, result: CommitResult) -> Committed:
        duplicates = {i: a.message for i, a in enumerate(result.appends) if a.duplicate}
        return cls([a.seqs for a in result.appends], duplicates, result.pruned)


def committed(batch: WriteBatch, answer: Committed) -> CommitResult:
    """The :class:`CommitResult` of ``batch`` from the child's :class:`Committed`."""
    duplicates = answer.duplicates
    appends = [
        AppendResult(duplicates[i], seqs, True)
        if i in duplicates
        else AppendResult(op.message, seqs, False)
        for i, (op, seqs) in enumerate(zip(batch.appends, answer.seqs, strict=True))
    ]
    return CommitResult(appends, answer.pruned)


@functools.cache
def decoders(method: str) -> Decoders:
    """The decoders of ``method``'s arguments and result, from its annotations."""
    if method not in WRITES:
        raise StoreError(f"the store process does not do {method!r}: only {', '.join(WRITES)}")
    from ai_connect.bridge.store.sqlite import SqliteStore

    hints = typing.get_type_hints(getattr(SqliteStore, method))
    result = hints.pop("return")
    if method == "commit":  # what the bridge does not know already (Committed)
        result = Committed
    args: Any = tuple[tuple(hints.values())] if hints else tuple[()]  # type: ignore[misc]
    return Decoders(msgspec.msgpack.Decoder(args), msgspec.msgpack.Decoder(result))


def encode_error(exc: BaseException) -> bytes:
    """The answer that carries ``exc`` back to the bridge."""
    kind = type(exc)
    return encode((1, (kind.__module__, kind.__qualname__, str(exc))))


def raise_error(raw: msgspec.Raw) -> typing.NoReturn:
    """Raises the error an answer carries: its own class if it is one of ours."""
    module, name, message = _error_decoder.decode(raw)
    kind: Any = None
    if module.startswith("ai_connect."):
        try:
            kind = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            kind = None
    if isinstance(kind, type) and issubclass(kind, StoreError):
        raise kind(message)
    raise StoreError(
        f"the store process failed: {name}: {message}. Nothing of this write is known to be "
        "stored; the bridge log says more."
    )


def write_frame(sock: socket.socket, payload: bytes) -> None:
    """Sends one frame (length, then ``payload``)."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def read_frame(sock: socket.socket) -> bytes | None:
    """Reads one frame; ``None`` when the other end closed the stream.

    One ``recv`` for most frames (header and payload together): calls and answers
    alternate, so nothing of a next frame can follow in the stream.
    """
    data = sock.recv(_FIRST_READ)
    while len(data) < _HEADER.size:
        if not data:
            return None
        more = sock.recv(_FIRST_READ)
        if not more:
            return None
        data += more
    (size,) = _HEADER.unpack_from(data)
    end = _HEADER.size + size
    if len(data) >= end:
        return data[_HEADER.size : end]
    buffer = bytearray(end)
    buffer[: len(data)] = data
    view = memoryview(buffer)
    got = len(data)
    while got < end:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(view[_HEADER.size :])
