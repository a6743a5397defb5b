"""The client library every surface (CLI, MCP, hooks) stands on: :class:`BridgeClient`.

::

    client.py     BridgeClient: hello, requests matched by rid, reconnect, outbox, acks
    consensus.py  its consensus requests (propose, vote, status, list, withdraw)
    mailbox.py    Inbox and Message: drop duplicates, compute the cumulative ack (pure)
"""

from ai_connect.client.client import BridgeClient, LinkState, Receipt, backoff
from ai_connect.client.mailbox import Message

__all__ = ["BridgeClient", "LinkState", "Message", "Receipt", "backoff"]
