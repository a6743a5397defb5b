"""watch's filters: by peer, project and thread (pure)."""

from __future__ import annotations

import pytest

from ai_connect.watch.filters import Filters, parse_filters

ALICE, BOB, CAROL = "alice (web)", "bob (web)", "carol (api)"


def test_no_filter_passes_everything() -> None:
    """Without filters every message, peer and proposal passes."""
    f = Filters()
    assert not f.active
    assert f.passes_message(ALICE, [BOB], None)
    assert f.passes_peer(CAROL)
    assert f.passes_proposal({"id": "p1", "author": ALICE, "participants": [BOB]})


def test_peer_filter_matches_address_name_case_and_prefix() -> None:
    """A peer filter matches the full address, the bare name in any case, or a prefix."""
    for wanted in ("bob (web)", "BOB", "bo"):
        f = Filters(peers=(wanted,))
        assert f.passes_message(ALICE, [BOB], None), wanted
        assert not f.passes_message(ALICE, [CAROL], None), wanted


def test_peer_filter_matches_sender_or_any_recipient() -> None:
    """A message passes a peer filter when the peer sent it or is one of its recipients."""
    f = Filters(peers=("carol",))
    assert f.passes_message(CAROL, [BOB], None)
    assert f.passes_message(ALICE, [BOB, CAROL], None)
    assert not f.passes_message(ALICE, [BOB], None)


def test_project_filter_reads_the_address() -> None:
    """A project filter matches the (Project) part of a party's address, any case."""
    f = Filters(projects=("API",))
    assert f.passes_message(ALICE, [CAROL], None)
    assert not f.passes_message(ALICE, [BOB], None)
    assert f.passes_peer(CAROL) and not f.passes_peer(ALICE)


def test_thread_filter_and_unknown_thread() -> None:
    """A thread filter passes that thread only; a delivery of an unseen message is hidden."""
    f = Filters(threads=("t1",))
    assert f.passes_message(ALICE, [BOB], "t1")
    assert not f.passes_message(ALICE, [BOB], "t2")
    assert not f.passes_message(ALICE, [BOB], None)
    assert not f.passes_message(ALICE, [BOB], "t1", known=False)
    assert f.passes_peer(CAROL), "threads do not hide peers"


def test_kinds_combine_with_and() -> None:
    """Across kinds all filters must pass; within a kind any value may."""
    f = Filters(peers=("bob", "carol"), projects=("api",))
    assert f.passes_message(ALICE, [CAROL], None)
    assert not f.passes_message(ALICE, [BOB], None)


def test_proposal_filters() -> None:
    """A proposal passes by its author, participants or judge, and by its id as a thread."""
    p = {"id": "prop-1", "author": ALICE, "participants": [BOB], "judge": CAROL}
    assert Filters(peers=("carol",)).passes_proposal(p)
    assert not Filters(peers=("dave",)).passes_proposal(p)
    assert Filters(threads=("prop-1",)).passes_proposal(p)
    assert not Filters(threads=("t1",)).passes_proposal(p)


def test_parse_filters_and_describe() -> None:
    """The filter line reads kind:value words; a bare word is a peer; unknown kinds say how."""
    f = parse_filters("bob project:web thread:t1 peer:carol")
    assert f == Filters(("bob", "carol"), ("web",), ("t1",))
    assert f.describe() == "peer bob or carol · project web · thread t1"
    assert Filters().describe() == "everything"
    with pytest.raises(ValueError, match="peer:NAME"):
        parse_filters("colour:red")
