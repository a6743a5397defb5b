"""Protocol v1: the frames that travel between clients and the bridge.

JSON text frames over WebSocket, each an object with a ``type``. Requests carry a
client-chosen ``rid`` and every reply echoes it. The full specification, with the
delivery guarantees, is ``docs/protocol.md``; section numbers in these modules refer to it.

This package does no I/O: it validates, decodes and encodes. Its modules::

    limits.py         PROTOCOL_VERSION, MAX_*, ErrorCode, Limits, flow_bytes
    frame.py          the frame base model, Rid, Context, frame_table
    client_frames.py  hello … withdraw: what a client sends; ClientFrame, CLIENT_FRAMES
    bridge_frames.py  welcome … proposal_list: what the bridge sends; ServerFrame, SERVER_FRAMES
    codec.py          encode, decode_client, decode_server
"""

from __future__ import annotations

from ai_connect.protocol.bridge_frames import (
    SERVER_FRAMES,
    Accepted,
    Acked,
    Brakes,
    BridgeReport,
    Deliver,
    Error,
    Forgotten,
    HistoryPage,
    MessageView,
    NodeDetail,
    PeerDetail,
    PeerList,
    PeerView,
    Pong,
    Presence,
    ProposalInfo,
    ProposalList,
    SearchResults,
    ServerFrame,
    StatusReport,
    Welcome,
)
from ai_connect.protocol.client_frames import (
    CLIENT_FRAMES,
    Ack,
    AdminBrakes,
    AdminForget,
    AdminHistory,
    AdminResume,
    AdminStatus,
    ClientFrame,
    ClientInfo,
    Forget,
    Hello,
    History,
    Human,
    Peers,
    Ping,
    Proposals,
    ProposalStatus,
    Propose,
    Search,
    Send,
    Status,
    Vote,
    Withdraw,
)
from ai_connect.protocol.codec import decode_client, decode_server, encode
from ai_connect.protocol.frame import Rid
from ai_connect.protocol.limits import (
    CLOSE_FORGOTTEN_BY_OPERATOR,
    MAX_CONTEXT_DEPTH,
    MAX_INT,
    PROTOCOL_VERSION,
    ErrorCode,
    Limits,
    flow_bytes,
)

__all__ = [
    "CLIENT_FRAMES",
    "CLOSE_FORGOTTEN_BY_OPERATOR",
    "MAX_CONTEXT_DEPTH",
    "MAX_INT",
    "PROTOCOL_VERSION",
    "SERVER_FRAMES",
    "Accepted",
    "Ack",
    "Acked",
    "AdminBrakes",
    "AdminForget",
    "AdminHistory",
    "AdminResume",
    "AdminStatus",
    "Brakes",
    "BridgeReport",
    "ClientFrame",
    "ClientInfo",
    "Deliver",
    "Error",
    "ErrorCode",
    "Forget",
    "Forgotten",
    "Hello",
    "History",
    "HistoryPage",
    "Human",
    "Limits",
    "MessageView",
    "NodeDetail",
    "PeerDetail",
    "PeerList",
    "PeerView",
    "Peers",
    "Ping",
    "Pong",
    "Presence",
    "ProposalInfo",
    "ProposalList",
    "ProposalStatus",
    "Proposals",
    "Propose",
    "Rid",
    "Search",
    "SearchResults",
    "Send",
    "ServerFrame",
    "Status",
    "StatusReport",
    "Vote",
    "Welcome",
    "Withdraw",
    "decode_client",
    "decode_server",
    "encode",
    "flow_bytes",
]
