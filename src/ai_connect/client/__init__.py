"""The client library every surface (CLI, MCP, hooks) stands on: :class:`BridgeClient`.

::

    client.py     BridgeClient: its parts, connect and close, what the link calls back
    sending.py    send, and the outbox that outlives an outage (BridgeClient's methods)
    receiving.py  wait, drain, unread, ack, listeners (BridgeClient's methods)
    queries.py    peers, history, search, status, receipts, find_message (its methods)
    admin.py      the operator's requests: admin_status, admin_history, admin_forget, ...
    consensus.py  its consensus requests (propose, vote, status, list, withdraw)
    leases.py     its file lease requests (claim, release, claims, lease_check)
    observer.py   the observer feed: observe() yields the snapshot, then each event
    link.py       Link: connect (the transport seam), hello, reading, heartbeat, reconnect, TLS
    pending.py    Pending: requests in flight by rid, timeouts, all failed when the link drops
    outbox.py     Outbox and Receipt: sends until the bridge confirms them, kept across outages
    mailbox.py    Inbox and Message: drop duplicates, compute the cumulative ack (pure)
    notices.py    Notices: the receipts the bridge pushed, until the surface takes them
    keep.py       Keep: queued sends and shown message ids on disk (long-running surfaces)
    durable.py    Durable: what BridgeClient keeps there, and the log of what became of it
"""

from ai_connect.client.client import BridgeClient
from ai_connect.client.link import Connect, LinkState, backoff
from ai_connect.client.mailbox import Message
from ai_connect.client.observer import FeedItem
from ai_connect.client.outbox import Receipt

__all__ = ["BridgeClient", "Connect", "FeedItem", "LinkState", "Message", "Receipt", "backoff"]
