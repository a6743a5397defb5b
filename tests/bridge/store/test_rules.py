"""The rules both stores share: how an address splits, how text is cut into search words."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from ai_connect import identity
from ai_connect.bridge.store.rules import search_words, split_address
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
