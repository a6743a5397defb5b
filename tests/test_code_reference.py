"""Context references, pure: parsing a peer's reference, refusing unsafe paths, verifying
a local copy by hash (same file, same lines, moved lines, CRLF), never by commit."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from ai_connect.code_reference import (
    Match,
    Reference,
    ReferenceRefused,
    compare,
    lines_digest,
    parse_reference,
    safe_parts,
    split_lines,
)

FILE = b"".join(b"line %d\n" % n for n in range(1, 101))


def _ref(data: bytes, start: int, end: int, **extra: Any) -> dict[str, Any]:
    lines = split_lines(data)[start - 1 : end]
    ref = {
        "repo": "github.com/org/app",
        "commit": "a" * 40,
        "path": "src/app.py",
        "lines": f"{start}-{end}",
        "sha256": hashlib.sha256(data).hexdigest(),
        "lines_sha256": lines_digest(lines),
        "dirty": False,
    }
    return {"kind": "code", "content": "...", "ref": ref | extra}


def _parsed(data: bytes, start: int, end: int, **extra: Any) -> Reference:
    return parse_reference(_ref(data, start, end, **extra))


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/etc/passwd",
        "../outside.py",
        "src/../../outside.py",
        "src/./app.py",
        "src//app.py",
        "src/app.py/",
        "..",
        "C:/Windows/win.ini",
        "c:secret",
        "src\\..\\..\\x",
        ".git/config",
        ".GIT/hooks/pre-commit",
        "src/app\x00.py",
        "src/\napp.py",
        "a/" * 3000,
    ],
)
def test_unsafe_paths_are_refused(path: str) -> None:
    """Absolute, climbing, backslashed, drive-lettered, .git, control-char or huge paths."""
    with pytest.raises(ReferenceRefused):
        safe_parts(path)


def test_a_plain_relative_path_splits_into_its_components() -> None:
    """A repo-relative POSIX path is accepted as its parts (dots inside names are fine)."""
    assert safe_parts("src/my..pkg/.env.example") == ("src", "my..pkg", ".env.example")


def test_a_reference_with_a_hostile_path_does_not_parse() -> None:
    """parse_reference checks the path too: a traversal never reaches a reader."""
    context = _ref(FILE, 1, 2)
    context["ref"]["path"] = "../../../../etc/shadow"
    with pytest.raises(ReferenceRefused, match="climbs out"):
        parse_reference(context)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("repo", ""),
        ("sha256", "xyz"),
        ("lines_sha256", None),
        ("lines", "9-2"),
        ("lines", "0-3"),
        ("lines", "1-2-3"),
        ("path", 7),
    ],
)
def test_malformed_references_are_refused(field: str, value: object) -> None:
    """Every field is checked: a bad one refuses the whole reference (content is shown)."""
    context = _ref(FILE, 1, 2)
    context["ref"][field] = value
    with pytest.raises(ReferenceRefused):
        parse_reference(context)


def test_a_context_without_a_reference_is_refused() -> None:
    """No ``ref``: nothing to resolve."""
    with pytest.raises(ReferenceRefused, match="no reference"):
        parse_reference({"kind": "code", "content": "x"})


def test_an_odd_commit_is_dropped_not_trusted() -> None:
    """A commit that is not hex is ignored (it only ever explains a difference)."""
    assert _parsed(FILE, 1, 2, commit="HEAD; rm -rf /").commit is None


def test_the_same_bytes_verify_as_the_whole_file() -> None:
    """Byte-identical file: FILE, at the sender's lines."""
    verdict = compare(FILE, _parsed(FILE, 10, 20))
    assert (verdict.match, verdict.start, verdict.end) == (Match.FILE, 10, 20)


def test_identical_lines_verify_when_the_rest_of_the_file_differs() -> None:
    """An edit far from the lines: LINES (same numbers), not the whole file."""
    mine = FILE.replace(b"line 90\n", b"line ninety\n")
    verdict = compare(mine, _parsed(FILE, 10, 20))
    assert (verdict.match, verdict.start, verdict.end) == (Match.LINES, 10, 20)


def test_lines_that_moved_are_found_at_their_new_numbers() -> None:
    """Three lines inserted above: MOVED, found three lines lower."""
    mine = b"new 1\nnew 2\nnew 3\n" + FILE
    verdict = compare(mine, _parsed(FILE, 10, 20))
    assert (verdict.match, verdict.start, verdict.end) == (Match.MOVED, 13, 23)


def test_changed_lines_do_not_verify() -> None:
    """One byte changed inside the range: NONE."""
    mine = FILE.replace(b"line 15\n", b"line 15 \n")
    assert compare(mine, _parsed(FILE, 10, 20)).match is Match.NONE


def test_crlf_copy_verifies_the_lines_of_an_lf_file_and_says_so() -> None:
    """A Windows checkout (CRLF) of the same text: the lines verify, flagged crlf."""
    mine = FILE.replace(b"\n", b"\r\n")
    verdict = compare(mine, _parsed(FILE, 10, 20))
    assert (verdict.match, verdict.crlf) == (Match.LINES, True)


def test_lf_copy_verifies_the_lines_of_a_crlf_sender() -> None:
    """And the other way round: a CRLF sender, an LF receiver."""
    theirs = FILE.replace(b"\n", b"\r\n")
    verdict = compare(FILE, _parsed(theirs, 5, 6))
    assert (verdict.match, verdict.crlf) == (Match.LINES, False)


def test_lines_are_numbered_at_newlines_only() -> None:
    """A form feed or a lone CR does not start a line (as in editors and sed)."""
    data = b"a\x0cb\nc\rd\ne\n"
    assert split_lines(data) == [b"a\x0cb\n", b"c\rd\n", b"e\n"]
    assert split_lines(b"x\ny") == [b"x\n", b"y"]


def test_a_range_past_the_end_of_a_shorter_file_does_not_verify() -> None:
    """The local file is shorter than the referenced lines: NONE, no error."""
    assert compare(b"line 1\n", _parsed(FILE, 50, 60)).match is Match.NONE


def test_an_empty_file_reference_verifies_an_empty_file() -> None:
    """Lines 1-0 of an empty file: the same empty file verifies."""
    assert compare(b"", _parsed(b"", 1, 0)).match is Match.FILE
