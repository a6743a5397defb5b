"""Addresses ``Name (Project)``: format, parse, suffixes, project detection, resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_connect.errors import RequestRejected, UnknownPeer
from ai_connect.identity import (
    BROADCAST,
    detect_project,
    format_address,
    parse_address,
    resolve,
    with_suffix,
)

KNOWN = [
    "Alice (web)",
    "Alice#2 (web)",
    "Bob (api)",
    "Bobby (api)",
    "mini (laptop)",
    "Mini (desk)",
    "Zed (ops)",
]


# --- format / parse ------------------------------------------------------------------------


def test_format_address() -> None:
    """format_address joins name and project as 'Name (Project)'."""
    assert format_address("Mini", "ai-connect") == "Mini (ai-connect)"
    assert format_address("Mini#2", "my repo") == "Mini#2 (my repo)"


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("Mini (ai-connect)", ("Mini", "ai-connect")),
        ("Mini#2 (p)", ("Mini#2", "p")),
        ("two words (my repo)", ("two words", "my repo")),
        ("  Mini (p)  ", ("Mini", "p")),
    ],
)
def test_parse_address(address: str, parts: tuple[str, str]) -> None:
    """parse_address splits 'Name (Project)' back into its parts."""
    assert parse_address(address) == parts


@pytest.mark.parametrize(
    "text", ["Mini", "Mini ()", "(p)", "Mini(p)", "Mini (a) (b)", "Mini (a(b))", "*", ""]
)
def test_parse_address_rejects_what_is_not_an_address(text: str) -> None:
    """parse_address returns None for anything that is not exactly 'Name (Project)'."""
    assert parse_address(text) is None


def test_parse_inverts_format() -> None:
    """parse_address(format_address(n, p)) gives back (n, p)."""
    for name, project in [("A", "b"), ("Mini#7", "x y z"), ("Zoë", "dépôt")]:
        assert parse_address(format_address(name, project)) == (name, project)


# --- with_suffix -----------------------------------------------------------------------------


def test_with_suffix_returns_the_plain_address_when_free() -> None:
    """with_suffix gives 'Name (Project)' when nothing holds it."""
    assert with_suffix("Mini", "p", lambda a: False) == "Mini (p)"


def test_with_suffix_counts_from_two() -> None:
    """with_suffix gives the first free of Name#2, Name#3, ... in order."""
    held = {"Mini (p)", "Mini#2 (p)", "Mini#4 (p)"}
    assert with_suffix("Mini", "p", held.__contains__) == "Mini#3 (p)"
    held.add("Mini#3 (p)")
    assert with_suffix("Mini", "p", held.__contains__) == "Mini#5 (p)"


# --- detect_project --------------------------------------------------------------------------


def test_detect_project_uses_the_git_root(tmp_path: Path) -> None:
    """Inside a git work tree the project is the name of its root folder."""
    root = tmp_path / "ai-connect"
    (root / ".git").mkdir(parents=True)
    deep = root / "src" / "pkg"
    deep.mkdir(parents=True)
    assert detect_project(deep) == "ai-connect"
    assert detect_project(root) == "ai-connect"


def test_detect_project_accepts_a_git_file(tmp_path: Path) -> None:
    """A .git file (worktrees, submodules) marks a root as a .git folder does."""
    root = tmp_path / "worktree"
    root.mkdir()
    (root / ".git").write_text("gitdir: /elsewhere\n")
    (root / "docs").mkdir()
    assert detect_project(root / "docs") == "worktree"


def test_detect_project_uses_the_nearest_git_root(tmp_path: Path) -> None:
    """A nested repository wins over the one around it."""
    (tmp_path / "outer" / ".git").mkdir(parents=True)
    (tmp_path / "outer" / "inner" / ".git").mkdir(parents=True)
    assert detect_project(tmp_path / "outer" / "inner") == "inner"


def test_detect_project_without_git_uses_the_directory(tmp_path: Path) -> None:
    """Outside any git work tree the project is the directory's own name."""
    plain = tmp_path / "notes" / "today"
    plain.mkdir(parents=True)
    if any((p / ".git").exists() for p in plain.parents):
        pytest.skip("the temporary directory lies inside a git work tree")
    assert detect_project(plain) == "today"


def test_detect_project_cleans_the_name(tmp_path: Path) -> None:
    """Characters an address cannot hold are dropped; nothing left gives 'default'."""
    if any((p / ".git").exists() for p in tmp_path.parents):
        pytest.skip("the temporary directory lies inside a git work tree")
    odd = tmp_path / "repo (old)"
    odd.mkdir()
    assert detect_project(odd) == "repo old"
    empty = tmp_path / "()"
    empty.mkdir()
    assert detect_project(empty) == "default"
    long = tmp_path / ("x" * 200)
    long.mkdir()
    assert detect_project(long) == "x" * 128


# --- resolve ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("Alice (web)", "Alice (web)"),
        ("  Alice (web)  ", "Alice (web)"),
        ("alice (WEB)", "Alice (web)"),
        ("Alice", "Alice (web)"),
        ("alice#2", "Alice#2 (web)"),
        ("Bob", "Bob (api)"),
        ("bobby", "Bobby (api)"),
        ("Bobb", "Bobby (api)"),
        ("z", "Zed (ops)"),
        ("Alice#", "Alice#2 (web)"),
    ],
)
def test_resolve_rules(target: str, expected: str) -> None:
    """Exact address, then case-insensitive, then bare name, then a unique prefix."""
    assert resolve(target, KNOWN) == expected


def test_exact_match_wins_over_case_variants() -> None:
    """An exact address wins even when another address differs only in case."""
    known = ["mini (p)", "Mini (p)"]
    assert resolve("Mini (p)", known) == "Mini (p)"
    assert resolve("mini (p)", known) == "mini (p)"
    with pytest.raises(UnknownPeer) as caught:
        resolve("MINI (P)", known)
    assert caught.value.code == "ambiguous_peer"


def test_bare_name_wins_over_a_longer_prefix_match() -> None:
    """'Bob' is the bare name of Bob (api), although it is also a prefix of Bobby (api)."""
    assert resolve("Bob", ["Bob (api)", "Bobby (api)"]) == "Bob (api)"


@pytest.mark.parametrize(
    ("target", "candidates"),
    [
        ("mini", ("Mini (desk)", "mini (laptop)")),
        ("Ali", ("Alice (web)", "Alice#2 (web)")),
        ("Bo", ("Bob (api)", "Bobby (api)")),
    ],
)
def test_ambiguous_targets_list_the_candidates(target: str, candidates: tuple[str, ...]) -> None:
    """A target matching several peers raises ambiguous_peer with every match."""
    with pytest.raises(UnknownPeer) as caught:
        resolve(target, KNOWN)
    error = caught.value
    assert error.code == "ambiguous_peer"
    assert error.candidates == candidates
    assert "full address" in error.hint
    assert isinstance(error, RequestRejected)


def test_unknown_target_suggests_close_matches() -> None:
    """A target naming nobody raises unknown_peer with close matches as candidates."""
    with pytest.raises(UnknownPeer) as caught:
        resolve("Alcie (web)", KNOWN)
    error = caught.value
    assert error.code == "unknown_peer"
    assert "Alice (web)" in error.candidates
    assert "did you mean" in error.hint and "peers" in error.hint


def test_unknown_target_with_nothing_close_has_no_candidates() -> None:
    """With no close match the error still says how to list the peers."""
    with pytest.raises(UnknownPeer) as caught:
        resolve("qqqqqqqq", KNOWN)
    assert caught.value.code == "unknown_peer"
    assert caught.value.candidates == ()
    assert "peers" in caught.value.hint


def test_nobody_known_means_unknown_peer() -> None:
    """With no known peer every target is unknown."""
    with pytest.raises(UnknownPeer) as caught:
        resolve("Alice", [])
    assert caught.value.code == "unknown_peer"


def test_candidates_are_bounded() -> None:
    """Even with many similar peers at most 10 candidates are listed."""
    known = [f"agent{i} (p)" for i in range(40)]
    with pytest.raises(UnknownPeer) as caught:
        resolve("agentx", known)
    assert 0 < len(caught.value.candidates) <= 10


def test_broadcast_is_a_star() -> None:
    """The broadcast target is '*'."""
    assert BROADCAST == "*"


def test_a_typo_of_a_bare_name_suggests_the_peer() -> None:
    """'alcie' and 'bop' are close to the names alice and bob, not to whole addresses:
    the error lists them as candidates."""
    known = ["alice (ai-connect)", "bob (webshop)", "carol (x)"]
    with pytest.raises(UnknownPeer) as typo:
        resolve("alcie", known)
    assert typo.value.candidates == ("alice (ai-connect)",)
    with pytest.raises(UnknownPeer) as typo:
        resolve("bop", known)
    assert typo.value.candidates == ("bob (webshop)",)
