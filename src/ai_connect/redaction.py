"""Keeping auth tokens out of logs (docs/security.md): never printed, even at DEBUG.

:func:`redact` hides the value of a ``"token"`` JSON field and anything shaped like an
ai-connect token (``aic_<id>_<secret>``, even cut short, as websockets elides long frames
in its DEBUG lines). :class:`Redacting` wraps a logger for websockets' ``logger=``
argument, so its frame-level DEBUG lines pass through :func:`redact` as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Redacting", "redact"]

_JSON_TOKEN = re.compile(r'("token"\s*:\s*)"(?:[^"\\\s\']|\\.)*"?')
_BARE_TOKEN = re.compile(r"aic_[0-9a-f]{0,8}_?[A-Za-z0-9_-]*")


def redact(text: str) -> str:
    """``text`` with every token (a ``"token"`` field's value, or ``aic_…``) as ``***``."""
    return _BARE_TOKEN.sub("aic_***", _JSON_TOKEN.sub(r'\1"***"', text))


class Redacting(logging.LoggerAdapter[logging.Logger]):
    """A logger adapter whose records have tokens redacted from their formatted text."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(logger, {})

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        extra: Mapping[str, object] | None = kwargs.pop("extra", None)
        self.logger.log(level, redact(text), extra=extra, stacklevel=2, **kwargs)
