"""The lease rules: patterns, matching, overlap and TTLs (ai_connect.leases.rules)."""

from __future__ import annotations

import pytest

from ai_connect.leases.rules import (
    DEFAULT_TTL_S,
    MAX_TTL_S,
    LeaseRuleError,
    format_ttl,
    matches,
    normalise,
    overlaps,
    parse_ttl,
)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/app.py", "src/app.py", True),
        ("src/app.py", "src/app.pyc", False),
        ("app.py", "src/app.py", False),
        ("src/*.py", "src/a.py", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**", "src/x/a.py", True),
        ("src/**", "src", False),
        ("src/**/test_*.py", "src/test_a.py", True),
        ("src/**/test_*.py", "src/x/y/test_a.py", True),
        ("**/a.py", "a.py", True),
        ("**/a.py", "x/y/a.py", True),
        ("[a-c]?.py", "bx.py", True),
        ("[!a-c]?.py", "bx.py", False),
        ("src/A.py", "src/a.py", False),
    ],
)
def test_matches(pattern: str, path: str, expected: bool) -> None:
    """A pattern names whole repo-relative paths: * stays in a segment, ** spans them."""
    assert matches(pattern, path) is expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("src/app.py", "src/app.py", True),
        ("src/*.py", "src/app.py", True),
        ("src/*.py", "src/a*", True),
        ("src/*.py", "src/x/a.py", False),
        ("src/**", "src/*/b.py", True),
        ("a/**", "b/**", False),
        ("[a-c].py", "[d-f].py", False),
        ("[!a-c].py", "[a-f].py", True),
        ("[!a-f].py", "[a-f].py", False),
        ("**", "x", True),
        ("**/x.py", "a/b/x.py", True),
        ("src/*_test.py", "src/test_*.py", True),
        ("src/*.py", "src/*.md", False),
    ],
)
def test_overlaps_exactly(a: str, b: str, expected: bool) -> None:
    """Two patterns overlap when some path matches both, and only then."""
    assert overlaps(a, b) is expected
    assert overlaps(b, a) is expected


def test_normalise_keeps_one_form() -> None:
    """./ is dropped and a trailing / names the folder and everything below it."""
    assert normalise("./src/app.py") == "src/app.py"
    assert normalise("src/") == "src/**"


@pytest.mark.parametrize("bad", ["/etc/passwd", "a/../b", "a//b", "", "a\\b", "src/[abc", "[z-a]"])
def test_normalise_refuses_what_leaves_the_repository(bad: str) -> None:
    """Absolute paths, .., empty segments, backslashes and broken sets are refused."""
    with pytest.raises(LeaseRuleError):
        normalise(bad)


def test_ttls() -> None:
    """TTLs read as people write them; none is the default; bounds are enforced."""
    assert parse_ttl(None) == DEFAULT_TTL_S
    assert parse_ttl("1h30m") == 5400
    assert parse_ttl("90s") == 90
    assert parse_ttl(600) == 600
    assert parse_ttl("1d") == MAX_TTL_S
    assert format_ttl(5400) == "1h30m"
    for bad in ("30", "soon", "2d", "5s", True):
        with pytest.raises(LeaseRuleError):
            parse_ttl(bad)
