"""peer_context's file reader: line ranges, the size cap and its marker, git provenance."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from ai_connect.code_context import ContextError, parse_lines, read_context


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
        check=True,
        capture_output=True,
        timeout=10,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "webshop"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("".join(f"line {n}\n" for n in range(1, 101)))
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "first")
    return root


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (None, None),
        ("", None),
        ("10-40", (10, 40)),
        ("10", (10, 10)),
        ("120-", (120, None)),
        ("-40", (1, 40)),
        ("L10-L40", (10, 40)),
        ("10:40", (10, 40)),
        (" 3 - 5 ", (3, 5)),
    ],
)
def test_parse_lines_accepts_the_usual_spellings(
    spec: str | None, expected: tuple[int, int | None] | None
) -> None:
    """Ranges are 1-based and inclusive; an open end means to the end of the file."""
    assert parse_lines(spec) == expected


@pytest.mark.parametrize("spec", ["abc", "0-3", "9-2", "1-2-3", "-"])
def test_parse_lines_rejects_nonsense_with_an_example(spec: str) -> None:
    """A bad range is a ContextError that shows a valid one."""
    with pytest.raises(ContextError, match=r"'10-40'|lines start at 1"):
        parse_lines(spec)


def test_range_in_git_carries_repo_branch_commit_and_clean_flag(repo: Path) -> None:
    """A committed file's excerpt comes with its path from the repo root and clean status."""
    ctx = read_context("src/app.py", "10-12", cwd=repo)
    head = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    data = (repo / "src" / "app.py").read_bytes()
    assert ctx.content == "line 10\nline 11\nline 12\n"
    assert (ctx.path, ctx.lines, ctx.total_lines) == ("src/app.py", "10-12", 100)
    assert (ctx.git.repo, ctx.git.branch, ctx.git.commit) == ("webshop", "main", head)
    assert (ctx.git.tracked, ctx.git.dirty, ctx.truncated) == (True, False, False)
    assert ctx.sha256 == hashlib.sha256(data).hexdigest()
    assert ctx.as_dict()["excerpt_sha256"] == hashlib.sha256(ctx.content.encode()).hexdigest()


def test_path_is_relative_to_the_repo_root_from_a_subdirectory(repo: Path) -> None:
    """Relative paths start at the working directory; the shown path at the repo root."""
    ctx = read_context("app.py", "1", cwd=repo / "src")
    assert ctx.path == "src/app.py"
    assert ctx.content == "line 1\n"


def test_uncommitted_changes_and_untracked_files_are_dirty(repo: Path) -> None:
    """A modified file and an untracked one are both flagged as differing from the commit."""
    (repo / "src" / "app.py").write_text("changed\n")
    (repo / "new.py").write_text("x = 1\n")
    changed, new = read_context("src/app.py", cwd=repo), read_context("new.py", cwd=repo)
    assert (changed.git.tracked, changed.git.dirty) == (True, True)
    assert (new.git.tracked, new.git.dirty) == (False, True)


def test_outside_git_the_git_fields_are_empty(tmp_path: Path) -> None:
    """Without a repository the file is still shared, relative to the working directory."""
    (tmp_path / "notes.txt").write_text("a\nb\n")
    ctx = read_context(str(tmp_path / "notes.txt"), cwd=tmp_path)
    assert (ctx.path, ctx.content, ctx.lines) == ("notes.txt", "a\nb\n", "1-2")
    assert ctx.git.repo is ctx.git.branch is ctx.git.commit is ctx.git.dirty is None


def test_oversize_excerpt_is_cut_at_a_line_with_a_marker_naming_the_rest(tmp_path: Path) -> None:
    """Past the cap the content ends with a marker that says which lines to ask for next."""
    (tmp_path / "big.txt").write_text("".join(f"{n:04d} {'x' * 94}\n" for n in range(1, 1001)))
    ctx = read_context("big.txt", "1-", cwd=tmp_path, max_bytes=1000)
    assert ctx.truncated and ctx.next_lines == "11-1000"
    assert ctx.content.startswith("0001 ") and "0010 " in ctx.content and "0011 " not in ctx.content
    assert ctx.content.endswith(
        "[... truncated by ai-connect: showing lines 1-10 of 1-1000 (1000 of 100000 bytes); "
        "ask for lines=11-1000 for the rest]\n"
    )
    assert (ctx.start, ctx.end) == (1, 10)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: None, "file not found"),
        (lambda p: p.mkdir(), "not a regular file"),
        (lambda p: p.write_bytes(b"\x00\x01binary"), "looks binary"),
        (lambda p: p.write_text("one\n"), "has 1 lines"),
    ],
)
def test_unshareable_files_are_errors_that_say_what_to_do(
    tmp_path: Path, make: object, match: str
) -> None:
    """Missing files, directories, binaries and ranges past the end raise ContextError."""
    target = tmp_path / "thing"
    make(target)  # type: ignore[operator]
    with pytest.raises(ContextError, match=match):
        read_context("thing", "5-6", cwd=tmp_path)
