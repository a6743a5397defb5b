"""``ai-connect mcp``: the MCP server, a thin shell over BridgeClient on the official SDK.

::

    server.py     the low-level SDK Server, its lifespan (a Hub of BridgeClients), stdio
    http.py       Starlette: /mcp Streamable HTTP, /sse + /messages/ legacy SSE, /healthz
    run.py        ``ai-connect mcp``: settings from flags > env > config, then serve
    tools.py      the peer_* tools: adapters of a few lines over BridgeClient
    consensus.py  the consensus_* tools
    models.py     pydantic argument and result models (the tools' JSON Schemas)
    channel.py    Claude Code channel events over stdio

Nothing is imported here: the SDK loads only where a module of this package is used.
"""

__all__: list[str] = []
