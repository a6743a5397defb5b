"""The text of a message a person gives ``ai-connect send``: MESSAGE, or stdin for ``-``;
refused with what to do unless it is UTF-8 text no larger than any frame can be."""

from __future__ import annotations

import sys

import typer

from ai_connect.protocol import Limits

__all__ = ["message_body"]


_STDIN_CAP = Limits().hard_frame_bytes
"""More than this on stdin can never be one message (no frame is larger): refused
before it fills memory."""


def _not_text(what: str, raw: bytes) -> typer.BadParameter:
    """The refusal of ``raw``, which is not UTF-8: where its first bad byte is."""
    try:
        raw.decode("utf-8")
        where = ""
    except UnicodeDecodeError as exc:
        where = f" (byte 0x{raw[exc.start]:02x} at offset {exc.start})"
    return typer.BadParameter(
        f"{what} is not UTF-8 text{where}; a message is text: convert it first (e.g. "
        "iconv -f latin1 -t utf-8), or share a text file with --context-file",
        param_hint="MESSAGE",
    )


def _text(what: str, text: str) -> str:
    """``text`` if it is Unicode text: bytes that are not UTF-8 reach argv (and a text
    stdin) as lone surrogates (surrogateescape), which no frame can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _not_text(what, text.encode("utf-8", "surrogateescape")) from exc
    return text


def message_body(message: str) -> str:
    """The text to send: MESSAGE, or stdin for ``-``; refused unless it is UTF-8 text."""
    if message != "-":
        return _text("MESSAGE", message)
    stream = getattr(sys.stdin, "buffer", None)
    raw = stream.read(_STDIN_CAP + 1) if stream is not None else sys.stdin.read(_STDIN_CAP + 1)
    if len(raw) > _STDIN_CAP:
        raise typer.BadParameter(
            f"stdin holds more than {_STDIN_CAP} bytes, more than any message can be (a "
            f"bridge takes bodies up to {Limits().max_body_bytes} bytes by default); "
            "shorten it or send it in parts",
            param_hint="MESSAGE",
        )
    if isinstance(raw, str):  # a text stream without bytes beneath (tests, embedding)
        return _text("stdin", raw)
    try:
        return bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_text("stdin", bytes(raw)) from exc
