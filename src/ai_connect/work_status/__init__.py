"""Work status: what each agent session is doing, published by its hooks, never by its model.

The hooks an agent already runs (docs/hooks.md) see each prompt, each tool call and each
turn end. From them a session's status is built — repository identity, branch, HEAD,
dirty-file count, the files it edited recently (repository-relative), its activity and,
if its user opted in, a one-line task summary — and published as one ``work`` frame
whenever it changed (docs/protocol.md §11). ``peer_list``, ``ai-connect peers``,
``watch`` and the dashboard show it.

::

    settings.py  status.publish and status.task_summary (config file, AI_CONNECT_STATUS)
    observe.py   a hook's input -> an Observation: activity, edited files, prompt (pure)
    tracker.py   Observations -> the session's status: recent files, activity, task (pure)
    git.py       the checkout's branch, HEAD and dirty count (one ``git status``)
    link.py      the local link: a hook hands its Observation to its session's MCP server
    publisher.py the MCP server's side: coalesces, reads git off the hook's path, publishes

A hook hands its Observation to its agent's MCP server over a Unix socket (the server
reads git and publishes on the connection it already holds); without such a server it
publishes itself, on the connection it opens for the mail check anyway.
"""

__all__: list[str] = []
