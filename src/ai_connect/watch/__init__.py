"""``ai-connect watch``: the live view of a bridge's traffic (README, "Watch it").

::

    events.py   what the watch is told: its own event types (pure data)
    feed.py     the bridge's observer feed (BridgeClient) turned into those events
    filters.py  by peer, project, thread (pure)
    model.py    events in; rows, the peers panel and the attention line out (pure)
    summary.py  peer text made short for a row: first lines, context, tally (pure)
    lines.py    one line per event: pipes, files, plain terminals (pure)
    compose.py  what the operator types to send as a person: @PEER text (pure)
    app.py      the terminal view (Textual)
    run.py      which view, the line-mode pump, stdin read for sending as a person

The command itself is :mod:`ai_connect.cli.watch`.
"""

__all__: list[str] = []
