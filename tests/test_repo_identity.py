"""repo_identity: clones of one repository share one key, whatever the URL spelling."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ai_connect.repo_identity import git, normalise_remote, repo_identity

SAME = [
    "git@github.com:Org/App.git",
    "https://github.com/org/app",
    "https://github.com/Org/App.git/",
    "ssh://git@github.com/org/app.git",
    "ssh://git@github.com:22/org/app",
    "https://user:s3cret@github.com/org/app.git",
    "git://github.com/org/app.git",
    "github.com:org/app",
]


@pytest.mark.parametrize("url", SAME)
def test_every_spelling_of_one_remote_is_one_key(url: str) -> None:
    assert normalise_remote(url) == "github.com/org/app"


def test_credentials_never_reach_the_key() -> None:
    key = normalise_remote("https://alice:ghp_token@gitlab.example.com/team/app.git")
    assert key == "gitlab.example.com/team/app"


def test_local_paths_and_nested_groups() -> None:
    assert normalise_remote("/srv/git/app.git") == "local/srv/git/app"
    assert normalise_remote("file:///srv/git/app.git") == "local/srv/git/app"
    assert normalise_remote("https://gitlab.com/a/b/c.git") == "gitlab.com/a/b/c"
    assert normalise_remote("") is None
    assert normalise_remote("https://github.com/") is None


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True)


def test_two_clones_with_ssh_and_https_remotes_are_one_repository(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "elsewhere" / "two"
    for folder, url in ((one, "git@github.com:Org/App.git"), (two, "https://github.com/org/app")):
        folder.mkdir(parents=True)
        _git(folder, "init", "-q")
        _git(folder, "remote", "add", "origin", url)
    (one / "src").mkdir()
    a, b = repo_identity(one / "src"), repo_identity(two)
    assert a is not None and b is not None
    assert a.key == b.key == "github.com/org/app"
    assert a.name == "app"
    assert a.root == one.resolve() and b.root == two.resolve()


def test_a_checkout_without_remote_is_named_by_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "MyTool"
    folder.mkdir()
    _git(folder, "init", "-q")
    found = repo_identity(folder)
    assert found is not None and found.key == "local/mytool"
    assert repo_identity(tmp_path) is None


def test_git_gives_its_output_as_is_or_stripped_and_none_when_it_fails(tmp_path: Path) -> None:
    """The one git runner (repo_identity and code_context): raw stdout, where leading
    blanks mean something (``git status --porcelain``); stripped on request; None when
    git fails, as outside a repository."""
    folder = tmp_path / "repo"
    folder.mkdir()
    _git(folder, "init", "-q")
    (folder / "a.txt").write_text("a\n", encoding="utf-8")
    _git(folder, "add", "a.txt")
    _git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    (folder / "a.txt").write_text("b\n", encoding="utf-8")
    assert git(folder, "status", "--porcelain=v1") == " M a.txt\n"
    assert git(folder, "rev-parse", "--show-toplevel", strip=True) == str(folder.resolve())
    assert git(tmp_path, "rev-parse", "--verify", "--quiet", "HEAD") is None
