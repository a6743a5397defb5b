"""How the message commands print messages for a person, or as JSON (cli/messages.py):
:class:`Printer` as they are handed over (read, wait), :func:`print_page` one stored page
(history, search). Context references resolve in the checkout the command runs in.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ai_connect.client import Message
from ai_connect.launcher import spell
from ai_connect.local_copy import Checkout, localise
from ai_connect.protocol import MessageView
from ai_connect.text import terminal

__all__ = ["Printer", "print_page"]


def _print(text: str) -> None:
    print(text, flush=True)


def print_page(
    messages: list[MessageView], before: int | None, me: str | None, again: str, empty: str
) -> None:
    """One page of stored messages (history, search) for a person, with their context
    references resolved in this shell's checkout; then the command for the older page."""
    found = [terminal.view_dict(m) for m in messages]
    local = localise(((str(m["id"]), m.get("context")) for m in found), Checkout(Path.cwd()))
    _print(terminal.messages_text(found, time.time(), me, local) or empty)
    if before is not None:
        _print(spell(f"\nolder: ai-connect {again} --before {before}"))


class Printer:
    """Prints messages as they are handed over: human blocks, or one streamed JSON array."""

    def __init__(self, as_json: bool) -> None:
        self.as_json, self.count = as_json, 0
        self.here = Checkout(Path.cwd())
        """Context references resolve in the checkout the command runs in."""

    def __enter__(self) -> Printer:
        if self.as_json:
            sys.stdout.write("[")
        return self

    def show(self, messages: list[Message]) -> None:
        local = localise(((m.id, m.context) for m in messages), self.here)
        for m in messages:
            copy = local.get(m.id)
            if self.as_json:
                data = m.as_dict() | ({"local": copy.as_dict()} if copy is not None else {})
                sys.stdout.write(
                    ("," if self.count else "") + "\n  " + terminal.to_json(data, indent=None)
                )
            else:
                gap = "\n" if self.count else ""
                text = terminal.message_text(m.as_dict(), time.time(), local=copy)
                sys.stdout.write(gap + text + "\n")
            self.count += 1
        sys.stdout.flush()

    def __exit__(self, *exc_info: object) -> None:
        if self.as_json:
            sys.stdout.write("\n]\n" if self.count else "]\n")
            sys.stdout.flush()
