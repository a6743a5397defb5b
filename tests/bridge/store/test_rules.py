"""The rules the stores share: how appends are numbered, how an address splits, how text
is cut into search words."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ai_connect import identity
from ai_connect.bridge.store.base import AppendOp, AppendResult, StoredMessage
from ai_connect.bridge.store.rules import holds_words, numbered, search_words, split_address
from ai_connect.protocol import PROTOCOL_VERSION, Hello


def registered(name: str, project: str) -> tuple[str, str] | None:
    """The name and project a hello carries once validated, or None if refused."""
    try:
        hello = Hello(rid=0, protocol=PROTOCOL_VERSION, name=name, project=project)
    except ValidationError:
        return None
    return hello.name, hello.project


@given(st.text(min_size=1, max_size=70), st.text(min_size=1, max_size=130), st.integers(1, 99))
def test_the_store_splits_every_bridge_address_as_identity_parses_it(
    name: str, project: str, suffix: int
) -> None:
    """For every address the bridge can give a peer, the store's split is identity's parse."""
    valid = registered(name, project)
    if valid is None:
        return
    for who in (valid[0], f"{valid[0]}#{suffix}"):
        address = identity.format_address(who, valid[1])
        assert split_address(address) == identity.parse_address(address) == (who, valid[1])


def test_the_store_files_an_address_identity_would_refuse() -> None:
    """Where identity says "not an address", the store still files the recipient."""
    assert identity.parse_address("a (b) (c)") is None
    assert split_address("a (b) (c)") == ("a", "b) (c")
    assert split_address("no project") == ("no project", "")


def test_search_words_are_lower_case_without_accents_split_like_fts5() -> None:
    """Words are lower-cased, lose their accents, and split on everything but letters/digits."""
    assert search_words("Crème brûlée_2 go-live!") == ["creme", "brulee", "2", "go", "live"]


_PIECES = [
    "deploy",
    "Deploy",
    "DEPLOY",
    "deploys",
    "re",
    "redeploy",
    "2",
    "v2",
    "_",
    "-",
    " ",
    ".",
    "é",
    "café",
    "CAFÉ",
    "cafe",
    "\u212a",
    "k",
    "ß",
    "ǅ",
    "日本",
    "x_y",
    "!",
]
_QUERIES = ["deploy", "cafe", "café", "k", "2", "v2", "x y", "deploy cafe", "re deploy", "日本"]


def _agree(text: str, query: str) -> None:
    words = search_words(query)
    assert holds_words(words)(text) is (set(words) <= set(search_words(text)))


@given(st.lists(st.sampled_from(_PIECES), max_size=8), st.sampled_from(_QUERIES))
def test_holds_words_answers_as_the_words_of_the_whole_text_do(
    pieces: list[str], query: str
) -> None:
    """The fast test of search's unindexed messages (rules.holds_words) agrees with
    splitting the text (search_words): word edges, "_", digits, case, accents, characters
    that lower-case to ASCII (the Kelvin sign), punctuation."""
    _agree("".join(pieces), query)


@given(st.text(), st.text())
def test_holds_words_agrees_on_any_text(text: str, query: str) -> None:
    _agree(text, query)
    _agree(query + " " + text, query)


def _op(sender: str, cid: str, *recipients: str, ts: float = 1.0) -> AppendOp:
    to = recipients[0]
    message = StoredMessage(f"id-{sender}-{cid}", sender, to, "b", None, None, None, ts, cid)
    return AppendOp(message, recipients)


def test_appends_are_numbered_once_per_recipient_and_duplicates_by_cid() -> None:
    """The one numbering rule of every store (rules.numbered): n after last_n, a seq per
    recipient after its tip (a recipient named twice gets one), a resent cid -- stored or
    earlier in the batch -- is a duplicate carrying the first one's message and seqs."""
    old = _op("a", "old", "x")
    stored = {("a", "old"): AppendResult(old.message, {"x": 4}, True)}
    ops = [
        _op("a", "1", "x", "y", "x", ts=5.0),
        _op("a", "old", "x"),
        _op("b", "1", "y", ts=6.0),
        _op("a", "1", "z"),
    ]
    plan = numbered(ops, 10, {"x": 7}, stored)
    assert [(n, m.cid, seqs) for n, m, seqs in plan.new] == [
        (11, "1", {"x": 8, "y": 1}),
        (12, "1", {"y": 2}),
    ]
    assert [(r.message.id, r.seqs, r.duplicate) for r in plan.results] == [
        ("id-a-1", {"x": 8, "y": 1}, False),
        ("id-a-old", {"x": 4}, True),
        ("id-b-1", {"y": 2}, False),
        ("id-a-1", {"x": 8, "y": 1}, True),
    ]
    assert plan.tips == {"x": 8, "y": 2}
    assert plan.first_ts == {"x": 5.0, "y": 5.0}
    assert numbered([], 3, {}, {}).new == []
