"""The hot frames (protocol/hot.py): the same frames and the same errors as the models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_connect.errors import FrameError
from ai_connect.protocol import Accepted, Ack, Acked, Deliver, Send, decode_client, encode
from ai_connect.protocol.hot import (
    MIRRORS,
    HotAck,
    HotSend,
    accepted_data,
    acked_data,
    decode_hot,
    deliver_data,
    deliver_tail,
)

from ..fuzz.strategies import json_values, raw_frames

CORPUS = sorted((Path(__file__).parent.parent / "fuzz" / "corpus").glob("*.json"))
LIMIT = 1_048_576


def outcome(decode: Any, data: str | bytes) -> tuple[str, Any]:
    """What a decoder makes of ``data``: the frame's fields, or the error it raises."""
    try:
        frame = decode(data, LIMIT)
    except FrameError as exc:
        return "error", (exc.code, str(exc), exc.hint, exc.rid)
    fields = {f: getattr(frame, f) for f in type(frame).__struct_fields__} if isinstance(
        frame, msgspec.Struct
    ) else frame.model_dump(exclude={"type"})  # fmt: skip
    return frame.type, fields


def test_good_send_and_ack_frames_come_out_fast_with_the_models_fields() -> None:
    """A valid send or ack decodes to its msgspec twin, field for field as the model."""
    send = {"type": "send", "rid": "r", "cid": "c1", "to": "Bob", "body": "ça 😀 {[x]}"}
    more = {**send, "rid": 7, "thread": "t", "reply_to": "m1", "context": {"a": [1, {"b": 2}]}}
    for obj in (send, more, {"type": "ack", "seq": 3}, {"type": "ack", "seq": 0, "rid": "a"}):
        text = json.dumps(obj)
        frame = decode_hot(text, LIMIT)
        assert isinstance(frame, HotSend | HotAck)
        assert outcome(decode_hot, text) == outcome(decode_client, text)


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "send", "rid": "r", "cid": "", "to": "Bob", "body": "x"},
        {"type": "send", "rid": "", "cid": "c", "to": "Bob", "body": "x"},
        {"type": "send", "rid": True, "cid": "c", "to": "Bob", "body": "x"},
        {"type": "send", "rid": "r", "cid": "c", "to": "Bob"},
        {"type": "send", "rid": "r", "cid": "c", "to": "Bob", "body": 5},
        {"type": "send", "rid": "r", "cid": "c" * 129, "to": "Bob", "body": "x"},
        {"type": "send", "rid": "r", "cid": "c", "to": "Bob", "body": "x", "thread": "t" * 129},
        {"type": "send", "rid": "r", "cid": "c", "to": "Bob", "body": "\ud800"},
        {"type": "send", "rid": "r", "cid": "c", "to": "B", "body": "x", "context": [1]},
        {"type": "ack", "seq": -1},
        {"type": "ack", "seq": 2**63},
        {"type": "ack", "seq": True},
        {"type": "ack", "seq": 1.0, "rid": "a"},
        {"type": "ack", "seq": 1, "rid": {}},
    ],
)
def test_bad_send_and_ack_frames_get_the_models_errors(obj: dict[str, Any]) -> None:
    """A bad send or ack gets exactly the error decode_client gives it."""
    text = json.dumps(obj)
    assert outcome(decode_hot, text)[0] == "error"
    assert outcome(decode_hot, text) == outcome(decode_client, text)


def test_a_context_nested_too_deep_gets_the_models_error() -> None:
    """The context depth rule holds on the fast path, with the model's message."""
    context: Any = 1
    for _ in range(80):
        context = {"a": context}
    frame = {"type": "send", "rid": "r", "cid": "c", "to": "B", "body": "", "context": context}
    text = json.dumps(frame)
    assert outcome(decode_hot, text)[0] == "error"
    assert outcome(decode_hot, text) == outcome(decode_client, text)


def test_every_corpus_frame_decodes_as_decode_client_decodes_it() -> None:
    """The fuzz corpus's nastiest frames: the same frame or the same error, each one."""
    for path in CORPUS:
        for raw in json.loads(path.read_text(encoding="utf-8"))["frames"]:
            data = bytes.fromhex(raw["hex"]) if isinstance(raw, dict) else raw
            assert outcome(decode_hot, data) == outcome(decode_client, data), (path.name, raw)


@settings(max_examples=300, deadline=None)
@given(raw_frames())
def test_any_frame_decodes_as_decode_client_decodes_it(data: str | bytes) -> None:
    """Fuzzed frames of every kind: decode_hot agrees with decode_client on each."""
    assert outcome(decode_hot, data) == outcome(decode_client, data)


TEXT = st.text(max_size=30)
OPTIONAL = st.none() | TEXT
CONTEXT = st.none() | st.dictionaries(st.text(max_size=5), json_values, max_size=4)
TS = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(1, 2**63 - 1), id=TEXT, sender=TEXT, to=TEXT, body=TEXT, context=CONTEXT,
    thread=OPTIONAL, reply_to=OPTIONAL, ts=TS, paused=OPTIONAL,
)  # fmt: skip
def test_a_deliver_is_the_bytes_encode_writes(
    seq: int,
    id: str,
    sender: str,
    to: str,
    body: str,
    context: dict[str, Any] | None,
    thread: str | None,
    reply_to: str | None,
    ts: float,
    paused: str | None,
) -> None:
    """seq + the shared tail is the deliver frame encode() writes for the same fields."""
    model = Deliver(
        seq=seq, id=id, from_=sender, to=to, body=body, context=context, thread=thread,
        reply_to=reply_to, ts=ts, paused=paused,
    )  # fmt: skip
    tail = deliver_tail(id, sender, to, body, context, thread, reply_to, ts, paused)
    data = deliver_data(seq, tail)
    assert json.loads(data) == json.loads(encode(model))
    if context is None or not _has_float(context):
        assert data == encode(model).encode()


@settings(max_examples=200, deadline=None)
@given(
    rid=st.integers(0, 2**63 - 1) | st.text(min_size=1, max_size=64), cid=TEXT, id=TEXT,
    ts=TS, to=TEXT, recipients=st.lists(TEXT, max_size=3), online=st.lists(TEXT, max_size=3),
    duplicate=st.booleans(), paused=OPTIONAL,
)  # fmt: skip
def test_an_accepted_is_the_bytes_encode_writes(
    rid: str | int,
    cid: str,
    id: str,
    ts: float,
    to: str,
    recipients: list[str],
    online: list[str],
    duplicate: bool,
    paused: str | None,
) -> None:
    """accepted_data writes the bytes encode() writes for the same Accepted."""
    model = Accepted(
        rid=rid, cid=cid, id=id, ts=ts, to=to, recipients=recipients, online=online,
        duplicate=duplicate, paused=paused,
    )  # fmt: skip
    data = accepted_data(rid, cid, id, ts, to, recipients, online, duplicate, paused)
    assert data == encode(model).encode()


@settings(max_examples=200, deadline=None)
@given(rid=st.none() | st.integers(0, 2**63 - 1) | st.text(min_size=1, max_size=64),
       seq=st.integers(0, 2**63 - 1))  # fmt: skip
def test_an_acked_is_the_bytes_encode_writes(rid: str | int | None, seq: int) -> None:
    """acked_data writes the bytes encode() writes for the same Acked (rid left out when
    there is none)."""
    assert acked_data(rid, seq) == encode(Acked(rid=rid, seq=seq)).encode()


def test_each_struct_has_the_fields_of_its_model() -> None:
    """A field added to Send, Ack, Deliver, Accepted or Acked must be added to its fast twin."""
    assert set(MIRRORS.values()) == {Send, Ack, Deliver, Accepted, Acked}
    for struct, model in MIRRORS.items():
        names = {f.encode_name for f in msgspec.structs.fields(struct)}
        wire = {f.alias or name for name, f in model.model_fields.items()} - {"type", "seq"}
        assert names - {"seq"} == wire, struct.__name__


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False
