"""The receiver's side of a context reference, on real checkouts: two clones of one
repository (ssh and https remote spellings) verify by hash; the fallbacks say why; a
hostile reference never reads outside the receiver's checkout."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from ai_connect import local_copy
from ai_connect.code_context import read_context
from ai_connect.code_reference import ReferenceRefused, State, lines_digest, split_lines
from ai_connect.local_copy import Checkout, localise, read_in_checkout, resolve
from tests.support.checkouts import APP, git, two_clones


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path]:
    """alice's checkout (ssh remote) and bob's clone of it (https remote, other folder)."""
    return two_clones(tmp_path)


def _shared(alice: Path, lines: str = "21-40", file: str = "src/app.py") -> dict[str, Any]:
    return read_context(file, lines, cwd=alice).as_dict()


def test_a_clone_with_the_other_remote_spelling_verifies_identical(
    clones: tuple[Path, Path],
) -> None:
    """ssh vs https remote, another folder: one repository; the same bytes verify."""
    alice, bob = clones
    context = _shared(alice)
    assert context["ref"]["repo"] == "github.com/org/app"
    assert context["ref"]["path"] == "src/app.py" and context["ref"]["lines"] == "21-40"
    local = resolve(context, Checkout(bob / "src"))
    assert local is not None and local.state is State.IDENTICAL and local.verified
    assert local.path == (bob / "src" / "app.py").resolve() and local.lines == "21-40"


def test_another_commit_with_identical_file_bytes_still_verifies(
    clones: tuple[Path, Path],
) -> None:
    """Verification is by hash, not commit: bob's HEAD moved on, the file did not."""
    alice, bob = clones
    (bob / "README.md").write_text("changed\n")
    git(bob, "commit", "-qam", "other work")
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.IDENTICAL


def test_another_commit_that_changed_the_lines_differs_and_says_so(
    clones: tuple[Path, Path],
) -> None:
    """Bob's commit changed the lines: content shown, reason names both commits."""
    alice, bob = clones
    (bob / "src" / "app.py").write_text(APP.replace("return 15\n", "return -15\n"))
    git(bob, "commit", "-qam", "negate")
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.DIFFERS and not local.verified
    [why] = local.reasons
    assert why.startswith("other commit (sender ") and git(bob, "rev-parse", "HEAD")[:12] in why


def test_lines_that_moved_in_another_commit_are_found(clones: tuple[Path, Path]) -> None:
    """Lines inserted above the range: the reference points at the new line numbers."""
    alice, bob = clones
    (bob / "src" / "app.py").write_text("import os\nimport sys\n" + APP)
    git(bob, "commit", "-qam", "imports")
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.MOVED and local.lines == "23-42"


def test_a_locally_modified_copy_differs_and_says_so(clones: tuple[Path, Path]) -> None:
    """Bob edited the lines without committing: 'locally modified'."""
    alice, bob = clones
    (bob / "src" / "app.py").write_text(APP.replace("return 12\n", "return 0\n"))
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.DIFFERS
    assert local.reasons == ("locally modified (uncommitted changes here)",)


def test_a_dirty_sender_still_verifies_where_the_lines_are_the_same(
    clones: tuple[Path, Path],
) -> None:
    """Alice's uncommitted edit lies outside the lines: they verify (the file does not)."""
    alice, bob = clones
    (alice / "src" / "app.py").write_text(APP.replace("return 150\n", "return 0\n"))
    context = _shared(alice)
    assert context["dirty"] is True and context["ref"]["dirty"] is True
    local = resolve(context, Checkout(bob))
    assert local is not None and local.state is State.LINES and local.lines == "21-40"


def test_a_dirty_sender_whose_lines_changed_differs_and_says_whose_change(
    clones: tuple[Path, Path],
) -> None:
    """Alice's uncommitted edit is inside the lines: content, 'sender … uncommitted'."""
    alice, bob = clones
    (alice / "src" / "app.py").write_text(APP.replace("return 13\n", "return 0\n"))
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.DIFFERS
    assert local.reasons == ("the sender's copy has uncommitted changes",)


def test_a_renamed_file_is_missing(clones: tuple[Path, Path]) -> None:
    """The file is not at that path in bob's checkout: MISSING, content shown."""
    alice, bob = clones
    git(bob, "mv", "src/app.py", "src/main.py")
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.MISSING
    assert "missing in your checkout" in local.reasons[0]


def test_a_crlf_checkout_verifies_the_lines(clones: tuple[Path, Path]) -> None:
    """Bob's copy has CRLF line endings: the lines verify, flagged crlf."""
    alice, bob = clones
    (bob / "src" / "app.py").write_bytes(APP.replace("\n", "\r\n").encode())
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.LINES and local.crlf


def test_another_repository_is_not_here(clones: tuple[Path, Path], tmp_path: Path) -> None:
    """A checkout of another repository: NOT_HERE, nothing opened."""
    alice, _ = clones
    other = tmp_path / "other"
    (other / "src").mkdir(parents=True)
    (other / "src" / "app.py").write_text(APP)
    git(other, "init", "-q")
    git(other, "remote", "add", "origin", "https://github.com/someone/else")
    local = resolve(_shared(alice), Checkout(other))
    assert local is not None and local.state is State.NOT_HERE and local.path is None


def test_outside_git_nothing_resolves(clones: tuple[Path, Path], tmp_path: Path) -> None:
    """A surface outside any checkout: NOT_HERE."""
    alice, _ = clones
    plain = tmp_path / "plain"
    plain.mkdir()
    local = resolve(_shared(alice), Checkout(plain))
    assert local is not None and local.state is State.NOT_HERE


def test_without_a_reference_there_is_nothing_to_resolve(clones: tuple[Path, Path]) -> None:
    """by_reference off (or a plain context): resolve says None, localise skips it."""
    alice, bob = clones
    context = read_context("src/app.py", "1-2", cwd=alice, reference=False).as_dict()
    assert "ref" not in context and resolve(context, Checkout(bob)) is None
    assert localise([("m1", context), ("m2", None), ("m3", "text")], Checkout(bob)) == {}


# --- hostile references ------------------------------------------------------------------


def _hostile(path: str, target: bytes) -> dict[str, Any]:
    """A reference whose hashes match ``target``: if it were read, it would verify."""
    ref = {
        "repo": "github.com/org/app",
        "commit": None,
        "path": path,
        "lines": "1-1",
        "sha256": hashlib.sha256(target).hexdigest(),
        "lines_sha256": lines_digest(split_lines(target)[:1]),
    }
    return {"kind": "code", "file": path, "lines": "1-1", "content": "x\n", "ref": ref}


@pytest.fixture
def secret(tmp_path: Path) -> tuple[Path, bytes]:
    path = tmp_path / "secret.txt"
    data = b"TOP SECRET\n"
    path.write_bytes(data)
    return path, data


@pytest.mark.parametrize(
    "path",
    ["../../secret.txt", "src/../../../secret.txt", "/secret.txt", "..\\..\\secret.txt"],
)
def test_traversal_and_absolute_paths_are_refused_unread(
    clones: tuple[Path, Path], secret: tuple[Path, bytes], path: str
) -> None:
    """A path that climbs out, or an absolute one: REFUSED before anything is opened."""
    _, bob = clones
    target, data = secret
    hostile = _hostile(path.replace("/secret.txt", str(target)), data)
    local = resolve(hostile, Checkout(bob))
    assert local is not None and local.state is State.REFUSED and not local.verified
    assert local.path is None


def test_a_symlinked_file_pointing_out_of_the_checkout_is_refused(
    clones: tuple[Path, Path], secret: tuple[Path, bytes]
) -> None:
    """src/leak.txt -> the secret outside: not followed, REFUSED (it would have verified)."""
    _, bob = clones
    target, data = secret
    (bob / "src" / "leak.txt").symlink_to(target)
    local = resolve(_hostile("src/leak.txt", data), Checkout(bob))
    assert local is not None and local.state is State.REFUSED
    assert "symlink" in local.reasons[0]


def test_a_symlinked_folder_pointing_out_of_the_checkout_is_refused(
    clones: tuple[Path, Path], secret: tuple[Path, bytes]
) -> None:
    """src/out -> the secret's folder: the walk does not follow it."""
    _, bob = clones
    target, data = secret
    (bob / "src" / "out").symlink_to(target.parent, target_is_directory=True)
    local = resolve(_hostile("src/out/secret.txt", data), Checkout(bob))
    assert local is not None and local.state is State.REFUSED


def test_a_fifo_or_a_folder_is_refused_without_blocking(clones: tuple[Path, Path]) -> None:
    """A named pipe (opening it could block) or a directory: REFUSED, not a regular file."""
    _, bob = clones
    os.mkfifo(bob / "src" / "pipe")
    for path in ("src/pipe", "src"):
        local = resolve(_hostile(path, b"x\n"), Checkout(bob))
        assert local is not None and local.state is State.REFUSED, path
        assert "regular file" in local.reasons[0]


def test_an_oversize_local_file_is_refused(
    clones: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the size cap the local file is not read: the content is shown instead."""
    alice, bob = clones
    monkeypatch.setattr(local_copy, "MAX_FILE_BYTES", 100)
    local = resolve(_shared(alice), Checkout(bob))
    assert local is not None and local.state is State.REFUSED


def test_without_openat_the_resolved_path_is_checked_instead(
    clones: tuple[Path, Path], secret: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fallback reader (no dir_fd support) refuses symlinks out and reads the rest."""
    _, bob = clones
    target, _ = secret
    monkeypatch.setattr(os, "supports_dir_fd", set())
    (bob / "src" / "leak.txt").symlink_to(target)
    with pytest.raises(ReferenceRefused):
        read_in_checkout(bob, ("src", "leak.txt"))
    with pytest.raises(FileNotFoundError):
        read_in_checkout(bob, ("src", "nope.py"))
    assert read_in_checkout(bob, ("src", "app.py")) == APP.encode()


@pytest.mark.parametrize("ignored", [True, False])
def test_an_ignored_or_untracked_file_is_never_compared(
    clones: tuple[Path, Path], ignored: bool
) -> None:
    """bob's .env (ignored, or just untracked) matches a guessed hash: REFUSED, so a peer
    cannot confirm a guess of a local-only file through bob's model."""
    _, bob = clones
    secret = b"API_KEY=hunter2\n"
    (bob / ".env").write_bytes(secret)
    if ignored:
        (bob / ".gitignore").write_text(".env\n")
    local = resolve(_hostile(".env", secret), Checkout(bob))
    assert local is not None and local.state is State.REFUSED and not local.verified
    assert local.reasons == ("not tracked by git here (only tracked files are looked up)",)
