"""Text, once each for its two readers.

::

    terminal.py  what a person reads: the CLI's human text and JSON
    agent.py     what an agent reads: MCP tool results, hook mail, channel events

Both neutralise peer text (control characters, escapes) and label peer messages as input
from other agents, never from the user (DESIGN.md, Security).
"""

__all__: list[str] = []
