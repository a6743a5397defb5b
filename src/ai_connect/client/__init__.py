"""The client library every surface (CLI, MCP, hooks) stands on: :class:`BridgeClient`.

::

    client.py     BridgeClient: the public requests, from_settings, composed of the parts below
    link.py       Link: connect (the transport seam), hello, reading, heartbeat, reconnect, TLS
    pending.py    Pending: requests in flight by rid, timeouts, all failed when the link drops
    outbox.py     Outbox and Receipt: sends until the bridge confirms them, kept across outages
    mailbox.py    Inbox and Message: drop duplicates, compute the cumulative ack (pure)
    keep.py       Keep: queued sends and shown message ids on disk (long-running surfaces)
    durable.py    Durable: what BridgeClient keeps there, and the log of what became of it
    consensus.py  its consensus requests (propose, vote, status, list, withdraw)
    observer.py   the observer feed: observe() yields the snapshot, then each event
"""

from ai_connect.client.client import BridgeClient
from ai_connect.client.link import Connect, LinkState, backoff
from ai_connect.client.mailbox import Message
from ai_connect.client.observer import FeedItem
from ai_connect.client.outbox import Receipt

__all__ = ["BridgeClient", "Connect", "FeedItem", "LinkState", "Message", "Receipt", "backoff"]
