"""The one neutraliser of peer-controlled text: :func:`neutralise` (docs/security.md).

Everything a peer chose -- its name and project (so its address), a thread, a body, a
context and the file paths in it, a proposal's question and ballots -- is untrusted input
for whoever reads it: a person at a terminal (:mod:`ai_connect.text.terminal`) or a
model (:mod:`ai_connect.text.agent`, the MCP tools, the hooks, the channel). Every
surface passes each such string through :func:`neutralise` before showing it, which
makes three kinds of text inert and *visible*:

- **control characters and terminal escapes**: C0 and C1 controls and DEL (``ESC`` starts
  every escape sequence) are shown as ``\\x1b``; a one-line field shows its newlines and
  tabs as ``\\x0a`` and ``\\x09`` too, so it cannot start a forged line;
- **invisible characters**: zero-width spaces, bidi embeddings, overrides and isolates,
  the word joiner and other format characters, a zero-width joiner outside an emoji
  sequence, a zero-width non-joiner outside Persian or Indic words, the BOM, soft hyphen,
  filler characters that render blank, variation selectors (but U+FE0F, emoji presentation) and
  Unicode tag characters (U+E0000-E007F, a known way to hide text from a person that a
  model still reads) are shown as ``\\u200b`` -- ``Boss\\u200b`` never displays as ``Boss``;
- **tags a model treats as control**: the ``<`` of ``<system-reminder>``,
  ``<task-notification>``, ``</channel>``, chat roles, tool-call tags and any other tag
  whose name holds ``-``, ``_`` or ``:`` (the shape of every framing tag agent clients
  use) becomes U+2039 (a single left angle quotation mark), so the tag can neither
  open nor close anything. Ordinary angle brackets stay: ``List<String>``, ``<div>``, ``x < y``.

Pure: no I/O. The escapes are lossless to a reader (``\\u200b`` names the character).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["TAG_MARK", "neutralise", "neutralise_data"]

TAG_MARK = "\u2039"
"""What the ``<`` of a neutralised tag becomes (SINGLE LEFT-POINTING ANGLE QUOTATION MARK)."""

# Invisible or reordering code points (besides C0/C1): format characters (Unicode Cf),
# line/paragraph separators, blank fillers, variation selectors and tag characters.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b\u200e\u200f\u2028-\u202e"
    "\u2060-\u206f\u3164\ufe00-\ufe0e\ufeff\uffa0\ufff9-\ufffb\ufffe\uffff"
    "\u0600-\u0605\u06dd\u070f\u0890\u0891\u08e2"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef"
    "\ud800-\udfff"  # lone surrogates (JSON may carry them): no terminal can print them
)
# The zero-width joiner is kept only inside an emoji sequence (a pictograph, or U+FE0F or
# a skin tone, on its left; a pictograph on its right): between letters it hides itself.
# The zero-width non-joiner is spelling in Persian and Indic scripts: kept between two of
# their letters (U+0600-U+0DFF). Both are matched with the rest; _escape looks around.
_EMOJI = re.compile("[\u2190-\u2bff\U0001f000-\U0001faff]")
_SCRIPT = re.compile("[\u0600-\u0dff]")
_JOINERS = "\u200c\u200d"
_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}{_JOINERS}]")
_TEXT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_INVISIBLE}{_JOINERS}]")

# Framing tags: chat roles and the tags Claude Code, Codex and Gemini CLI wrap context in
# (<system-reminder>, <task-notification>, <channel>, <function_calls>, <invoke>,
# <local-command-stdout>, <user-prompt-submit-hook> ...): listed names, and any name with
# '-', '_' or ':' between letters, opening or closing, in any case, spaces allowed.
_ROLES = "system|user|assistant|human|developer|channel|instructions|thinking|invoke|parameter"
_FRAME_TAG = re.compile(
    r"<(?=\s*/?\s*(?:(?:" + _ROLES + r")(?![\w:-])"
    r"|[a-z][a-z0-9]*(?:[-_:][a-z0-9]+)+(?=[\s/>])))",
    re.IGNORECASE,
)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _JOINERS:
        text, at = match.string, match.start()
        before, after = text[at - 1 : at], text[at + 1 : at + 2]
        emoji_before = before == "\ufe0f" or _EMOJI.match(before)
        if char == "\u200d" and emoji_before and _EMOJI.match(after):
            return char  # inside an emoji sequence
        if char == "\u200c" and _SCRIPT.match(before) and _SCRIPT.match(after):
            return char  # inside a Persian or Indic word
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def neutralise(text: str, *, multiline: bool = False) -> str:
    """``text`` as any surface may show it: controls, escapes and invisible characters
    shown as visible escapes, framing tags broken (the module docstring lists them).

    ``multiline`` keeps newlines and tabs (bodies, shared code); otherwise they are
    escaped too (names, addresses, threads, paths: one-line fields).
    """
    text = (_TEXT if multiline else _LINE).sub(_escape, text)
    return _FRAME_TAG.sub(TAG_MARK, text)


def neutralise_data(value: Any) -> Any:
    """``value`` (JSON-shaped data: dicts, lists, strings, numbers) with every string in
    it -- keys too -- passed through :func:`neutralise` (newlines kept: JSON escapes them).

    For data a model may read as it is, such as an MCP tool's structured result (some
    clients hand the model that JSON rather than the text).
    """
    if isinstance(value, str):
        return neutralise(value, multiline=True)
    if isinstance(value, Mapping):
        return {neutralise_data(k): neutralise_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [neutralise_data(v) for v in value]
    return value
