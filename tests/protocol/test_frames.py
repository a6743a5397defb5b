"""The frame tables and the shared ``context`` field: each defined once, used by every frame."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest

from ai_connect.errors import FrameError
from ai_connect.protocol import (
    CLIENT_FRAMES,
    MAX_CONTEXT_DEPTH,
    SERVER_FRAMES,
    ClientFrame,
    ErrorCode,
    Propose,
    Send,
    ServerFrame,
    decode_client,
)
from ai_connect.protocol.frame import Frame, frame_table

from .test_protocol import nested


@pytest.mark.parametrize(
    ("table", "union"), [(CLIENT_FRAMES, ClientFrame), (SERVER_FRAMES, ServerFrame)]
)
def test_each_table_lists_every_frame_of_its_union_under_its_type(
    table: dict[str, type[Frame]], union: Any
) -> None:
    """A decoder's table is its union: every member under the default of its ``type``."""
    assert list(table.values()) == list(typing.get_args(union))
    for kind, model in table.items():
        assert model.model_fields["type"].default == kind


def test_two_frames_with_one_type_are_refused_when_the_table_is_built() -> None:
    """A frame copied under a new name but with the old ``type`` cannot shadow the first."""

    class Twin(Send):
        pass

    with pytest.raises(TypeError, match="share a type"):
        frame_table(Send | Twin)


@pytest.mark.parametrize("kind", ["send", "propose"])
def test_every_frame_with_context_bounds_its_nesting(kind: str) -> None:
    """send and propose share one context rule: MAX_CONTEXT_DEPTH levels, no deeper."""
    fields: dict[str, Any] = {
        "send": {"type": "send", "rid": 1, "cid": "c", "to": "B", "body": "hi"},
        "propose": {"type": "propose", "rid": 1, "question": "q?", "participants": ["B"]},
    }[kind]
    ok = decode_client(json.dumps({**fields, "context": {"a": nested(MAX_CONTEXT_DEPTH - 1)}}))
    assert isinstance(ok, Send | Propose) and ok.context is not None
    with pytest.raises(FrameError) as caught:
        decode_client(json.dumps({**fields, "context": {"a": nested(MAX_CONTEXT_DEPTH)}}))
    assert caught.value.code == ErrorCode.BAD_FRAME
    assert f"context must nest at most {MAX_CONTEXT_DEPTH} levels" in caught.value.message
