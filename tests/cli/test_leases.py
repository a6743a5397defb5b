"""``ai-connect claim|release|claims``: leases from the command line, in two clones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect import cli
from tests.cli import test_cli
from tests.leases.support import clones
from tests.support.bridge import ThreadedBridge
from tests.support.inprocess import CLIENT_OPTIONS, serving

isolated_env = test_cli.isolated_env  # the same fixture as the CLI tests


@pytest.fixture
def url() -> Iterator[str]:
    with ThreadedBridge(listen=False) as running, serving(running) as served:
        yield served


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv), client_options=CLIENT_OPTIONS)
    out, err = capsys.readouterr()
    return code, out, err


def test_claim_conflict_claims_release(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A person's claim in one clone stops another's in the other clone (exit 3) until
    released; claims --json lists it with holder, reason and expiry."""
    a_root, b_root = clones(tmp_path)
    monkeypatch.chdir(a_root / "src")
    code, out, _ = run(capsys, "claim", "app.py", "--ttl", "45m", "--reason", "rename",
                       "--bridge", url, "--name", "ann")  # fmt: skip
    assert code == 0 and "src/app.py" in out
    monkeypatch.chdir(b_root)
    code, out, _ = run(capsys, "claim", "src/", "--bridge", url, "--name", "ben")
    assert code == 3
    assert "ann (proj)" in out and "rename" in out and "Nothing was claimed" in out
    code, out, _ = run(capsys, "claims", "--json", "--bridge", url, "--name", "ben")
    (lease,) = json.loads(out)["leases"]
    assert (lease["path"], lease["holder"], lease["reason"]) == (
        "src/app.py",
        "ann (proj)",
        "rename",
    )
    assert json.loads(out)["repo"] == "github.com/org/app"
    monkeypatch.chdir(a_root)
    code, out, _ = run(capsys, "release", "--bridge", url, "--name", "ann")
    assert code == 0 and "src/app.py" in out
    monkeypatch.chdir(b_root)
    code, out, _ = run(capsys, "claim", "src/", "--bridge", url, "--name", "ben")
    assert code == 0 and "src/**" in out


def test_claim_outside_a_repository_says_where_to_run_it(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Outside git, claim explains that leases need a checkout; a bad TTL names --ttl."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "claim", "x.py", "--bridge", url)
    assert code == 1 and "inside a checkout" in err
    code, _, err = run(capsys, "claim", "x.py", "--ttl", "soon", "--bridge", url)
    assert code == 2 and "--ttl" in err
