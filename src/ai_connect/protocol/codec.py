"""Encoding and decoding of frames, with the checks that turn bad input into an error frame.

A frame that cannot be decoded raises :class:`~ai_connect.errors.FrameError` with a code
(docs/protocol.md §6), a message that says what is wrong, a hint, and the request id
when one could be read, so the bridge can answer it and keep the connection (§6).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from ai_connect.errors import FrameError, LocalProtocolError
from ai_connect.protocol.bridge_frames import SERVER_FRAMES, ServerFrame
from ai_connect.protocol.client_frames import CLIENT_FRAMES, ClientFrame
from ai_connect.protocol.frame import Frame
from ai_connect.protocol.limits import ErrorCode

__all__ = ["decode_client", "decode_server", "encode"]


def encode(frame: Frame) -> str:
    """Serialises a frame to its JSON text (aliases applied, absent optionals left out).

    Text that is not Unicode (a lone surrogate: how Python carries bytes that were not
    UTF-8, from argv, a file or stdin) cannot be sent: :class:`LocalProtocolError`.
    """
    try:
        return frame.model_dump_json(by_alias=True, exclude_none=True)
    except PydanticSerializationError as exc:
        raise LocalProtocolError(
            f"cannot send this {getattr(frame, 'type', 'frame')}: its text holds characters "
            "that are not valid Unicode (bytes that were not UTF-8); send UTF-8 text"
        ) from exc


def _rid_of(obj: dict[str, Any]) -> str | int | None:
    rid = obj.get("rid")
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) or (isinstance(rid, str) and 0 < len(rid) <= 64):
        return rid
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "frame"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _maybe_surrogate(data: str) -> bool:
    """Cheap pre-check: could ``data`` hold a lone surrogate, escaped or raw?

    A lone surrogate (``\\ud800`` in JSON, or raw in a str) cannot be encoded as UTF-8:
    it would break every later encode, so frames holding one are refused (§6).
    """
    if "\\ud" in data or "\\uD" in data:
        return True
    if data.isascii():
        return False
    try:
        data.encode()
    except UnicodeEncodeError:
        return True
    return False


def _unicode_ok(obj: Any) -> bool:
    """Whether every string in a decoded frame can be encoded as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return True


def _decode(data: str | bytes, table: dict[str, type[Frame]], max_bytes: int | None) -> Frame:
    if isinstance(data, bytes):
        # Binary frames are not part of protocol v1 (§1), but a UTF-8 payload is harmless.
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(
                ErrorCode.BAD_JSON, "frame is not UTF-8 text", "send JSON text frames"
            ) from exc
    if max_bytes is not None and len(data) * 4 > max_bytes:
        # len() counts characters, and one character is 1 to 4 bytes of UTF-8.
        size = len(data.encode(errors="surrogatepass"))
        if size > max_bytes:
            raise FrameError(
                ErrorCode.FRAME_TOO_LARGE,
                f"frame of {size} bytes exceeds the limit of {max_bytes}",
                "split the content or share a smaller excerpt",
            )
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FrameError(
            ErrorCode.BAD_JSON, f"frame is not valid JSON ({exc})", "send one JSON object"
        ) from exc
    if not isinstance(obj, dict):
        raise FrameError(
            ErrorCode.BAD_FRAME,
            f"frame is a JSON {type(obj).__name__}, not an object",
            'send a JSON object with a "type" field',
        )
    rid = _rid_of(obj)
    if _maybe_surrogate(data) and not _unicode_ok(obj):
        raise FrameError(
            ErrorCode.BAD_JSON,
            "frame holds a lone surrogate (e.g. \\ud800), which is not valid Unicode",
            "send valid UTF-8 text; escape characters beyond U+FFFF as surrogate pairs",
            rid if _unicode_ok(rid) else None,
        )
    kind = obj.get("type")
    model = table.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(table))
        raise FrameError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown frame type {kind!r}",
            f"use one of: {known}",
            rid,
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise FrameError(
            ErrorCode.BAD_FRAME,
            f"invalid {kind} frame: {_describe(exc)}",
            "fix the fields named above (docs/protocol.md lists every field)",
            rid,
        ) from exc
    except (RecursionError, ValueError) as exc:
        raise FrameError(
            ErrorCode.BAD_FRAME, f"invalid {kind} frame", "send a flatter frame", rid
        ) from exc


def decode_client(data: str | bytes, max_bytes: int | None = None) -> ClientFrame:
    """Decodes a client frame; raises :class:`FrameError` with a code and a hint."""
    return _decode(data, CLIENT_FRAMES, max_bytes)  # type: ignore[return-value]


def decode_server(data: str | bytes) -> ServerFrame:
    """Decodes a bridge frame; raises :class:`FrameError` with a code and a hint."""
    return _decode(data, SERVER_FRAMES, None)  # type: ignore[return-value]
