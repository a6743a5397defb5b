"""The scripted Anthropic Messages API (now tests/agents/apis.py), under its old names."""

from __future__ import annotations

import json
from typing import Any

from tests.agents.apis import AnthropicApi as ScriptedApi
from tests.agents.scripted import Text, ToolUse

__all__ = ["ScriptedApi", "Text", "ToolUse", "texts"]


def texts(body: dict[str, Any]) -> str:
    """The conversation a request carries (its ``messages``, tool results included, and
    its ``system`` blocks: newer Claude Code sends hook context as a system message) as
    one JSON string, to look for a text in."""
    return json.dumps([body.get("system", []), body.get("messages", [])], ensure_ascii=False)
