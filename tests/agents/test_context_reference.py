"""Context by reference with the real Claude Code (issue 15, item 4): Ann's model shares
lines of a file with ``peer_context``; Bob works in a clone of the same repository (the
https spelling of Ann's ssh remote, another folder); the hook that wakes Bob's idle
session shows his model the verified reference — his own path, the lines, the hash —
and not the lines themselves.

Two headless Claude Code sessions (the pinned and the newest version), scripted models.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.agents.apis import conversation
from tests.agents.clients import versions
from tests.agents.pairs import PROJECT, act, agent, woken
from tests.support.bridge import bridge
from tests.support.checkouts import APP, git


def _clones(root: Path) -> tuple[Path, Path]:
    """``root/ann/proj`` (ssh remote) and its clone ``root/bob/proj`` (https remote)."""
    ann = root / "ann" / PROJECT
    (ann / "src").mkdir(parents=True)
    (ann / "src" / "app.py").write_text(APP)
    git(ann, "init", "-q", "-b", "main")
    git(ann, "add", ".")
    git(ann, "commit", "-q", "-m", "first")
    git(ann, "remote", "add", "origin", "git@github.com:Org/App.git")
    bob = root / "bob" / PROJECT
    git(root, "clone", "-q", str(ann), str(bob))
    git(bob, "remote", "set-url", "origin", "https://github.com/org/app")
    return ann, bob


@pytest.mark.parametrize("channel", ["pinned", "newest"])
def test_a_woken_clone_is_shown_the_verified_reference_not_the_lines(
    channel: str, tmp_path: Path
) -> None:
    """peer_context from Ann's checkout wakes Bob; his model reads his own path, the
    lines and 'verified identical', and none of the shared lines."""

    async def scenario() -> None:
        found = versions("claude")
        version = found[0] if channel == "pinned" else found[-1]
        ann_repo, bob_repo = _clones(tmp_path)
        async with (
            bridge() as br,
            agent("claude", version, tmp_path, "ann", br.url, project=ann_repo) as ann,
            agent("claude", version, tmp_path, "bob", br.url, project=bob_repo) as bob,
        ):
            await ann.driver.say("Ask bob to review f11 to f20 in src/app.py.")
            body = await ann.next_request()
            args = {"file": "src/app.py", "lines": "21-40", "to": bob.address}
            args["message"] = "REVIEW-ME: f11-f20"
            _, tail = await act(ann, body, "peer_context", args, "asked bob")
            assert '\\"by_reference\\":true' in tail  # Claude Code shows structured content
            body, _ = await woken(bob, "REVIEW-ME")
            seen = conversation(body)
            local = (bob_repo / "src" / "app.py").resolve()
            assert f"your copy {local} lines 21-40 is verified identical" in seen
            assert "return 11" not in seen and "def f12" not in seen
            await act(bob, body, "peer_send", {"to": ann.address, "message": "LGTM"}, "ok")

    asyncio.run(asyncio.wait_for(scenario(), 150))
