"""Protocol v1 frames: decoding of bad input, limits, names, and encode/decode round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ai_connect.errors import FrameError
from ai_connect.protocol import (
    CLIENT_FRAMES,
    MAX_CONTEXT_DEPTH,
    PROTOCOL_VERSION,
    SERVER_FRAMES,
    Accepted,
    Ack,
    Acked,
    Brakes,
    BridgeReport,
    ClientInfo,
    Deliver,
    Error,
    ErrorCode,
    FeedDelivery,
    FeedEvent,
    FeedMessage,
    FeedPeer,
    FeedSnapshot,
    Forgotten,
    Hello,
    History,
    HistoryPage,
    LeaseConflict,
    LeaseReport,
    LeaseView,
    Limits,
    MessageView,
    PeerDetail,
    PeerList,
    Peers,
    PeerView,
    Ping,
    Pong,
    Presence,
    ProposalInfo,
    ProposalList,
    ReceiptNotice,
    ReceiptReport,
    RecipientState,
    Search,
    SearchResults,
    Send,
    ServerFrame,
    Status,
    StatusReport,
    Welcome,
    decode_client,
    decode_server,
    encode,
    flow_bytes,
)


def hello(**fields: Any) -> dict[str, Any]:
    frame = {"type": "hello", "rid": 1, "protocol": PROTOCOL_VERSION, "name": "A", "project": "p"}
    frame.update(fields)
    return frame


def send(**fields: Any) -> dict[str, Any]:
    frame = {"type": "send", "rid": "r", "cid": "c", "to": "B", "body": "hi"}
    frame.update(fields)
    return frame


def refused(data: str | bytes, max_bytes: int | None = None) -> FrameError:
    """Decodes ``data`` expecting a FrameError, and returns it."""
    with pytest.raises(FrameError) as caught:
        decode_client(data, max_bytes)
    error = caught.value
    assert error.message and error.hint
    return error


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# --- not a frame at all ------------------------------------------------------------------


@pytest.mark.parametrize("data", ["", "{", "not json", '{"type": "ping",}', "{'type': 'ping'}"])
def test_invalid_json_is_bad_json(data: str) -> None:
    """Text that is not JSON is refused with bad_json."""
    assert refused(data).code == ErrorCode.BAD_JSON


@pytest.mark.parametrize(
    ("data", "kind"),
    [("[]", "list"), ('[{"type": "ping"}]', "list"), ("42", "int"), ("4.5", "float"),
     ('"ping"', "str"), ("null", "NoneType"), ("true", "bool")],
)  # fmt: skip
def test_json_that_is_not_an_object_is_bad_frame(data: str, kind: str) -> None:
    """A JSON array, number, string, null or bool is refused with bad_frame naming it."""
    error = refused(data)
    assert error.code == ErrorCode.BAD_FRAME
    assert kind in error.message
    assert "object" in error.hint


def test_bytes_that_are_not_utf8_are_bad_json() -> None:
    """A binary frame that is not UTF-8 is refused with bad_json."""
    assert refused(b'{"type": "ping", "x": "\xff\xfe"}').code == ErrorCode.BAD_JSON


def test_utf8_bytes_decode_like_text() -> None:
    """A binary frame holding UTF-8 JSON decodes as the same text frame would."""
    assert decode_client(json.dumps(send(body="ça")).encode()) == decode_client(
        json.dumps(send(body="ça"))
    )


# --- type and fields -----------------------------------------------------------------------


@pytest.mark.parametrize("frame", [{}, {"rid": 1}, {"type": None}, {"type": 5}, {"type": ["send"]}])
def test_missing_type_is_unknown_type(frame: dict[str, Any]) -> None:
    """A frame without a string type gets unknown_type."""
    assert refused(json.dumps(frame)).code == ErrorCode.UNKNOWN_TYPE


def test_unknown_type_hint_lists_the_types() -> None:
    """An unknown type gets unknown_type; the hint lists every client frame type."""
    error = refused(json.dumps({"type": "welcome", "rid": "x"}))
    assert error.code == ErrorCode.UNKNOWN_TYPE
    assert "welcome" in error.message
    for kind in CLIENT_FRAMES:
        assert kind in error.hint
    assert error.rid == "x"


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        (send(body=None), "body"),
        (send(body=5), "body"),
        (send(to=""), "to"),
        (send(cid=["c"]), "cid"),
        (send(context="file.py"), "context"),
        (send(context=[1, 2]), "context"),
        (send(thread=7), "thread"),
        ({"type": "send", "rid": 1, "cid": "c", "to": "B"}, "body"),
        ({"type": "ack"}, "seq"),
        ({"type": "ack", "seq": -1}, "seq"),
        ({"type": "ack", "seq": "x"}, "seq"),
        ({"type": "ack", "seq": 1.5}, "seq"),
        (hello(protocol="one"), "protocol"),
        (hello(resume=-2), "resume"),
        (hello(presence=[]), "presence"),
        (hello(client={"kind": 5}), "client.kind"),
        ({"type": "hello", "rid": 1, "protocol": 1, "name": "A"}, "project"),
        ({"type": "history", "rid": 1, "limit": 0}, "limit"),
        ({"type": "history", "rid": 1, "limit": 501}, "limit"),
        ({"type": "search", "rid": 1, "query": ""}, "query"),
        ({"type": "peers"}, "rid"),
        ({"type": "status", "rid": ""}, "rid"),
        ({"type": "status", "rid": "x" * 65}, "rid"),
        ({"type": "status", "rid": {"id": 1}}, "rid"),
        ({"type": "status", "rid": True}, "rid"),
        ({"type": "ack", "seq": "3"}, "seq"),
        ({"type": "ack", "seq": True}, "seq"),
        (hello(protocol="1"), "protocol"),
        (hello(presence="yes"), "presence"),
        ({"type": "history", "rid": 1, "limit": "5"}, "limit"),
    ],
)
def test_missing_or_wrongly_typed_fields_are_bad_frame_naming_the_field(
    frame: dict[str, Any], field: str
) -> None:
    """A missing or wrongly typed field gets bad_frame and the message names the field."""
    error = refused(json.dumps(frame))
    assert error.code == ErrorCode.BAD_FRAME
    assert field in error.message
    assert frame["type"] in error.message


def test_rid_is_recovered_from_a_broken_frame() -> None:
    """A frame that fails validation still carries its readable rid in the error."""
    assert refused(json.dumps({"type": "send", "rid": "abc", "to": "B"})).rid == "abc"
    assert refused(json.dumps({"type": "send", "rid": 7})).rid == 7
    assert refused(json.dumps({"type": "nope", "rid": "n"})).rid == "n"


@pytest.mark.parametrize("rid", [True, "", "x" * 65, 1.5, None, [1]])
def test_an_unreadable_rid_is_not_echoed(rid: Any) -> None:
    """A rid that is no valid rid is not echoed in the error."""
    assert refused(json.dumps({"type": "send", "rid": rid})).rid is None


def test_unknown_fields_are_ignored() -> None:
    """Extra fields are ignored for forward compatibility."""
    frame = decode_client(json.dumps(send(future={"x": 1}, priority=3)))
    assert isinstance(frame, Send)
    assert frame.body == "hi"


def test_every_client_frame_decodes_to_its_model() -> None:
    """Each client frame type decodes to its model with its defaults."""
    samples: list[dict[str, Any]] = [
        hello(),
        send(),
        {"type": "ack", "seq": 3},
        {"type": "peers", "rid": 1},
        {"type": "history", "rid": 1},
        {"type": "search", "rid": 1, "query": "q"},
        {"type": "status", "rid": 1},
        {"type": "receipts", "rid": 1, "id": "m1"},
        {"type": "feed_sync", "rid": 1},
        {"type": "ping"},
        {"type": "admin_status", "rid": 1},
        {"type": "admin_history", "rid": 1, "viewer": "A"},
        {"type": "admin_search", "rid": 1, "viewer": "A", "query": "q"},
        {"type": "human", "rid": 1},
        {"type": "admin_brakes", "rid": 1},
        {"type": "admin_resume", "rid": 1, "conversation": "pair:A (p) <-> B (p)"},
        {"type": "admin_forget", "rid": 1, "peer": "B"},
        {"type": "propose", "rid": 1, "question": "q", "participants": ["B"]},
        {"type": "vote", "rid": 1, "proposal": "p1", "choice": "approve"},
        {"type": "proposal_status", "rid": 1, "proposal": "p1"},
        {"type": "proposals", "rid": 1},
        {"type": "withdraw", "rid": 1, "proposal": "p1"},
        {"type": "forget", "rid": 1},
        {"type": "claim", "rid": 1, "repo": "github.com/o/a", "paths": ["src/app.py"]},
        {"type": "release", "rid": 1},
        {"type": "claims", "rid": 1},
        {"type": "lease_check", "rid": 1, "repo": "github.com/o/a", "paths": ["src/app.py"]},
    ]
    decoded = [decode_client(json.dumps(s)) for s in samples]
    assert [type(f) for f in decoded] == list(CLIENT_FRAMES.values())
    assert [f.type for f in decoded] == list(CLIENT_FRAMES)
    hello_frame = decoded[0]
    assert isinstance(hello_frame, Hello)
    assert (hello_frame.presence, hello_frame.session, hello_frame.resume) == (False, None, None)
    history = decoded[4]
    assert isinstance(history, History) and history.limit == 50


# --- limits --------------------------------------------------------------------------------


def test_oversize_frame_is_frame_too_large() -> None:
    """A frame above max_bytes gets frame_too_large; one at the limit decodes."""
    data = json.dumps(send(body="x" * 100))
    size = len(data)
    assert isinstance(decode_client(data, size), Send)
    error = refused(data, size - 1)
    assert error.code == ErrorCode.FRAME_TOO_LARGE
    assert str(size) in error.message


def test_frame_size_counts_utf8_bytes_not_characters() -> None:
    """max_bytes counts UTF-8 bytes: fewer characters than the limit can still be too many."""
    data = json.dumps(send(body="é" * 100), ensure_ascii=False)
    assert len(data) < 200 < len(data.encode())
    assert refused(data, 200).code == ErrorCode.FRAME_TOO_LARGE
    assert refused(data.encode(), 200).code == ErrorCode.FRAME_TOO_LARGE


def test_default_limits_are_documented_values() -> None:
    """The default limits are those of docs/protocol.md §5."""
    limits = Limits()
    assert limits.max_frame_bytes == 1_048_576
    assert limits.max_body_bytes == 262_144
    assert (limits.window_messages, limits.window_bytes) == (256, 1_048_576)
    assert (limits.max_errors, limits.error_window_s) == (50, 60.0)
    assert set(limits.as_dict()) == {
        "max_frame_bytes",
        "max_body_bytes",
        "max_context_bytes",
        "window_messages",
        "window_bytes",
        "rate_per_s",
        "rate_burst",
    }


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a(b", "a)b", "Mini#2", "a*", "*", "a\x00b", "a\nb", "a\tb", "a\x1bb", "a\x7f",
             "", "   ", "x" * 65],
)  # fmt: skip
def test_invalid_names_are_refused(name: str) -> None:
    """Names with ( ) # *, control characters, empty or over 64 characters are refused."""
    error = refused(json.dumps(hello(name=name)))
    assert error.code == ErrorCode.BAD_FRAME
    assert "name" in error.message


@pytest.mark.parametrize("project", ["a(b)", "", "x" * 129, "p\x00", "p\nq"])
def test_invalid_projects_are_refused(project: str) -> None:
    """Projects with parentheses, control characters, empty or over 128 are refused."""
    error = refused(json.dumps(hello(project=project)))
    assert error.code == ErrorCode.BAD_FRAME
    assert "project" in error.message


@pytest.mark.parametrize("name", ["x" * 64, "Zoë", "a b", "mini-2", "  padded  ", "名前"])
def test_valid_names_are_accepted_and_trimmed(name: str) -> None:
    """Names of 1-64 ordinary characters are accepted, surrounding blanks trimmed."""
    frame = decode_client(json.dumps(hello(name=name, project=" my repo#1 ")))
    assert isinstance(frame, Hello)
    assert frame.name == name.strip()
    assert frame.project == "my repo#1"


# --- hostile input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "[" * 100_000 + "]" * 100_000,
        "[" * 100_000,
        '{"a":' * 100_000 + "1" + "}" * 100_000,
        json.dumps(send())[:-1] + ', "context": {"a": ' + "[" * 100_000 + "]" * 100_000 + "}}",
        '{"type": "ack", "seq": ' + "9" * 5_000 + "}",
        '{"type": "ack", "seq": 1e400}',
    ],
    ids=["lists", "unclosed", "objects", "context", "huge-int", "huge-float"],
)
def test_hostile_json_raises_only_frame_error(data: str) -> None:
    """Deep nesting and huge numbers end in a FrameError, never another exception."""
    refused(data)


def test_context_nesting_is_bounded_so_every_accepted_frame_can_be_delivered() -> None:
    """context may nest MAX_CONTEXT_DEPTH levels; deeper is refused, naming context."""
    deepest = decode_client(json.dumps(send(context={"a": nested(MAX_CONTEXT_DEPTH - 1)})))
    assert isinstance(deepest, Send)
    deliver = Deliver(seq=1, id="m", from_="A", to="B", body="", context=deepest.context, ts=1.0)
    assert decode_server(encode(deliver)) == deliver
    error = refused(json.dumps(send(context={"a": nested(MAX_CONTEXT_DEPTH)})))
    assert error.code == ErrorCode.BAD_FRAME
    assert "context" in error.message
    assert refused(json.dumps(send(context={"a": nested(900)}))).code == ErrorCode.BAD_FRAME


@pytest.mark.parametrize(
    "data",
    [
        '{"type": "send", "rid": 1, "cid": "c", "to": "B", "body": "\\ud800"}',
        '{"type": "send", "rid": 1, "cid": "c", "to": "B", "body": "x\\uDFFFy"}',
        '{"type": "hello", "rid": 1, "protocol": 1, "name": "\\udabc", "project": "p"}',
        '{"type": "send", "rid": 1, "cid": "c", "to": "B", "body": "", "context": {"\\ud800": 1}}',
        '{"type": "send", "rid": 1, "cid": "c", "to": "B", "body": "\ud800"}',
    ],
    ids=["escaped", "low", "name", "context-key", "raw"],
)
def test_lone_surrogates_are_refused(data: str) -> None:
    """Strings that cannot be UTF-8 (lone surrogates) are refused with bad_json, rid kept."""
    error = refused(data)
    assert error.code == ErrorCode.BAD_JSON
    assert error.rid == 1


def test_a_lone_surrogate_rid_is_not_echoed() -> None:
    """A rid holding a lone surrogate is not echoed (it could not be encoded)."""
    assert refused('{"type": "ping", "rid": "\\ud800"}').rid is None


def test_surrogate_pairs_are_ordinary_characters() -> None:
    """An escaped surrogate pair (ASCII-only JSON) decodes to the character it encodes."""
    frame = decode_client(json.dumps(send(body="ok 😀 \\ud800")))
    assert isinstance(frame, Send)
    assert frame.body == "ok 😀 \\ud800"


# --- server frames: encode / decode ---------------------------------------------------------

VIEW = MessageView(
    id="m1",
    from_="A (p)",
    to="*",
    body="hi",
    context={"file": "a.py", "lines": [1, 2]},
    thread="t",
    reply_to="m0",
    ts=12.5,
)
PEER = PeerView(address="A (p)", name="A", project="p", online=True, last_seen=3.0)

SERVER_SAMPLES: list[ServerFrame] = [
    Welcome(
        rid="h",
        address="A#2 (p)",
        name="A#2",
        project="p",
        server="0.1.0",
        unread=3,
        tip=5,
        acked=2,
        limits=Limits().as_dict(),
    ),
    Accepted(
        rid=1, cid="c", id="m1", ts=1.5, to="*", recipients=["B (p)", "C (p)"], online=["B (p)"]
    ),
    Deliver(
        seq=4,
        id="m1",
        from_="A (p)",
        to="B (p)",
        body="hello",
        context={"k": [1, {"x": None}]},
        thread="t",
        reply_to="m0",
        ts=2.0,
    ),
    Acked(rid="k", seq=4),
    PeerList(rid=2, peers=[PEER]),
    HistoryPage(rid=3, messages=[VIEW], before=17),
    SearchResults(rid=4, messages=[VIEW]),
    StatusReport(
        rid=5,
        address="A (p)",
        server="0.1.0",
        storage="sqlite",
        uptime_s=9.5,
        peers_online=1,
        peers_known=2,
        unread=0,
        tip=1,
        acked=1,
    ),
    BridgeReport(
        rid=8,
        server="0.1.0",
        storage="sqlite",
        uptime_s=1.0,
        auth=True,
        connections=2,
        throttled=0,
        peers=[
            PeerDetail(
                address="A (p)",
                online=True,
                last_seen=3.0,
                tip=4,
                acked=2,
                connections=2,
                token="alice",
                remote="10.0.0.2:5000",
            )
        ],
    ),
    Presence(event="leave", peer=PEER),
    Pong(rid=6),
    Brakes(rid=6, paused=[{"conversation": "pair:A (p) <-> B (p)", "reason": "r"}], resumed=[]),
    Error(rid=7, code="ambiguous_peer", message="m", hint="h", candidates=["A (p)", "A#2 (p)"]),
    ProposalInfo(rid=8, proposal={"id": "p1", "status": "open"}),
    ProposalList(rid=9, proposals=[{"id": "p1", "status": "decided"}]),
    Forgotten(rid=10, address="A (p)"),
    FeedSnapshot(
        ts=1.0,
        peers=[
            FeedPeer(
                address="A (p)",
                name="A",
                project="p",
                online=True,
                last_seen=1.0,
                unread=2,
                tip=3,
                acked=1,
                connections=1,
            )
        ],
        proposals=[{"id": "prop-1", "status": "open"}],
        unshown=[
            FeedDelivery(
                id="m1",
                from_="B (p)",
                recipient="A (p)",
                seq=3,
                state="delivered",
                path="mcp",
                conn=4,
                ts=1.0,
            )
        ],
    ),
    FeedEvent(
        kind="message",
        ts=2.0,
        message=FeedMessage(
            id="m2",
            from_="Ada (p)",
            to="A (p)",
            recipients=["A (p)"],
            online=[],
            ts=2.0,
            preview="hi",
            size=2,
            context={"file": "x.py", "bytes": 9},
            human=True,
        ),
    ),
    FeedEvent(kind="proposal", ts=3.0, proposal={"id": "prop-1"}, change="voted"),
    ReceiptReport(
        rid=11,
        id="m1",
        from_="A (p)",
        to="*",
        ts=1.0,
        recipients=[
            RecipientState(
                recipient="B (p)",
                state="shown",
                seq=2,
                delivered=1.5,
                shown=2.0,
                path="hook",
                online=True,
            ),
            RecipientState(recipient="C (p)", state="waiting", seq=1),
        ],
    ),
    ReceiptNotice(id="m1", recipient="B (p)", path="channel", ts=2.0),
    LeaseReport(
        rid=12,
        conflicts=[
            LeaseConflict(
                path="src/*.py",
                lease=LeaseView(
                    id="l1",
                    repo="github.com/o/a",
                    path="src/app.py",
                    holder="A (p)",
                    reason="refactor",
                    created=1.0,
                    expires=2.0,
                    online=True,
                ),
            )
        ],
    ),
]


def test_samples_cover_every_server_frame_type() -> None:
    """The round-trip samples include one frame of every server frame type."""
    assert {f.type for f in SERVER_SAMPLES} == set(SERVER_FRAMES)


@pytest.mark.parametrize("frame", SERVER_SAMPLES, ids=lambda f: f.type)
def test_server_frames_round_trip(frame: ServerFrame) -> None:
    """encode then decode_server gives back an equal frame."""
    text = encode(frame)
    assert json.loads(text)["type"] == frame.type
    assert decode_server(text) == frame


def test_encode_leaves_out_absent_optionals() -> None:
    """encode omits fields that are None, so optional fields are simply absent."""
    assert json.loads(encode(Pong())) == {"type": "pong"}
    assert "candidates" not in json.loads(encode(Error(code="x", message="m")))


def test_from_is_the_wire_name_of_the_sender() -> None:
    """Deliver and MessageView use "from" on the wire and from_ in Python."""
    deliver = SERVER_SAMPLES[2]
    wire = json.loads(encode(deliver))
    assert wire["from"] == "A (p)" and "from_" not in wire
    page = json.loads(encode(HistoryPage(rid=1, messages=[VIEW])))
    assert page["messages"][0]["from"] == "A (p)"
    decoded = decode_server(json.dumps(wire))
    assert isinstance(decoded, Deliver) and decoded.from_ == "A (p)"
    by_field_name = Deliver.model_validate({**wire, "from_": "Z (p)", "from": "A (p)"})
    assert by_field_name.from_ == "A (p)"


def test_decode_server_refuses_client_frames() -> None:
    """decode_server knows only server frame types."""
    with pytest.raises(FrameError) as caught:
        decode_server(json.dumps(send()))
    assert caught.value.code == ErrorCode.UNKNOWN_TYPE


@pytest.mark.parametrize(
    "frame",
    [
        Hello(
            rid=1,
            protocol=1,
            name="A",
            project="p",
            token="t",
            session="s",
            address="A#2 (p)",
            resume=4,
            presence=True,
            client=ClientInfo(kind="cli", version="0.1"),
        ),
        Send(rid="r", cid="c", to="*", body="b", context={"a": 1}, thread="t", reply_to="m"),
        Ack(seq=3, rid="k"),
        Peers(rid=1, include_offline=False),
        History(rid=1, peer="B", limit=5, before=9),
        Search(rid=1, query="deploy", limit=3),
        Status(rid=1),
        Ping(rid=2),
    ],
    ids=lambda f: f.type,
)
def test_client_frames_round_trip(frame: Any) -> None:
    """encode then decode_client gives back an equal client frame."""
    assert decode_client(encode(frame)) == frame


def test_flow_bytes_counts_the_utf8_body_and_the_compact_context() -> None:
    """flow_bytes: UTF-8 bytes of the body plus compact JSON of a non-empty context."""
    assert flow_bytes("héllo", None) == 6
    assert flow_bytes("héllo", {}) == 6
    assert flow_bytes("ab", {"k": [1, 2]}) == 2 + len('{"k":[1,2]}')
