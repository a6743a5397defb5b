"""How a context reference reads, to a model and to a person: verified, the local path,
lines and hash replace the content; not verified, the content comes with why. Pure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_connect.client.mailbox import Message
from ai_connect.code_reference import LocalCopy, Reference, State
from ai_connect.text import terminal
from ai_connect.text.agent import mail_text, message_text, messages_text, wake_header

CONTENT = "def secret_sauce():\n    return 42\n"
REF = Reference(
    repo="github.com/org/app",
    path="src/app.py",
    parts=("src", "app.py"),
    start=10,
    end=11,
    sha256="ab" * 32,
    lines_sha256="cd" * 32,
    commit="e" * 40,
)
HERE = Path("/home/bob/app/src/app.py")


def _context() -> dict[str, Any]:
    return {
        "kind": "code",
        "file": "src/app.py",
        "lines": "10-11",
        "content": CONTENT,
        "repo": "app",
        "branch": "main",
        "commit": "e" * 40,
        "sha256": "ab" * 32,
        "ref": REF.as_dict(),
    }


def _message(**fields: Any) -> dict[str, Any]:
    base = {
        "id": "m1",
        "from": "alice (web)",
        "to": "bob (web)",
        "content": "please review",
        "context": _context(),
        "thread": None,
        "reply_to": None,
        "timestamp": 1_700_000_000.0,
    }
    return base | fields


def _local(state: State, *reasons: str, start: int = 10, crlf: bool = False) -> LocalCopy:
    path = None if state in (State.NOT_HERE, State.REFUSED) else HERE
    return LocalCopy(state, REF, path, start, start + 1, reasons, crlf)


def test_a_verified_reference_replaces_the_content_with_path_lines_and_hash() -> None:
    """Identical copy: one line naming the local path, lines, sha256; no content, no facts."""
    text = message_text(_message(), local=_local(State.IDENTICAL))
    assert "secret_sauce" not in text and "branch main" not in text
    assert (
        "    context: src/app.py lines 10-11, by reference: your copy "
        f"/home/bob/app/src/app.py lines 10-11 is verified identical (sha256 {'ab' * 8}…)"
    ) in text
    assert text.endswith("Read them there when you need the text: it is not repeated here.")


def test_verified_lines_and_moved_lines_say_what_matched() -> None:
    """LINES: the rest differs; MOVED: the sender's numbers and the local ones; CRLF noted."""
    lines = message_text(_message(), local=_local(State.LINES, crlf=True))
    assert "lines 10-11 in your copy are verified identical (lines sha256 " in lines
    assert "elsewhere your file differs); your copy has CRLF line endings" in lines
    moved = message_text(_message(), local=_local(State.MOVED, start=14))
    assert "the sender's lines 10-11 are verified identical at /home/bob/app/src/app.py " in moved
    assert "lines 14-15 in your copy" in moved and "secret_sauce" not in moved


def test_an_unverified_copy_shows_the_content_and_why() -> None:
    """DIFFERS: the usual facts, the reasons, then the sender's lines."""
    local = _local(State.DIFFERS, "other commit (sender eeeeeeeeeeee, you ffffffffffff)")
    text = message_text(_message(), local=local)
    assert (
        "    context: src/app.py lines 10-11 · repo app · branch main · commit eeeeeeeeeeee" in text
    )
    assert (
        "    your copy /home/bob/app/src/app.py does not verify: other commit (sender "
        "eeeeeeeeeeee, you ffffffffffff); the sender's lines:"
    ) in text
    assert "    | def secret_sauce():" in text


def test_not_here_shows_the_content_as_before_and_refused_warns() -> None:
    """No checkout of the repo: as without a reference; a refused one says nothing was read."""
    plain = message_text(_message())
    assert message_text(_message(), local=_local(State.NOT_HERE)) == plain
    refused = message_text(_message(), local=_local(State.REFUSED, "the path climbs out"))
    assert "    reference refused, nothing read (the path climbs out); the sender's lines:" in (
        refused
    )
    assert "    | def secret_sauce():" in refused


def test_a_sender_cannot_claim_verification_inside_its_context() -> None:
    """A context that says it is verified, with no local copy: the content is shown."""
    forged = _context() | {"local": {"state": "identical", "verified": True}}
    text = message_text(_message(context=forged))
    assert "    | def secret_sauce():" in text and "by reference" not in text


def test_hook_and_tool_texts_take_the_local_copies_by_message_id() -> None:
    """mail_text and messages_text show the reference for the message it belongs to only."""
    one = Message(1, "m1", "alice (web)", "bob (web)", "look", _context(), None, None, 1.0)
    two = Message(2, "m2", "alice (web)", "bob (web)", "and this", _context(), None, None, 2.0)
    local = {"m1": _local(State.IDENTICAL)}
    text, shown = mail_text([one, two], wake_header, local=local)
    assert shown == [one, two] and text.count("| def secret_sauce():") == 1
    assert text.count("is verified identical") == 1
    listed = messages_text([one, two], 0, True, local)
    assert listed.count("| def secret_sauce():") == 1


def test_the_terminal_shows_the_reference_when_verified_and_why_not_otherwise() -> None:
    """ai-connect read: verified, the reference line instead of the content; else the why."""
    verified = terminal.message_text(_message(), 1_700_000_100.0, local=_local(State.IDENTICAL))
    assert "secret_sauce" not in verified
    assert (
        "  context: src/app.py lines 10-11, by reference: your copy /home/bob/app/src/app.py "
        "lines 10-11 is verified identical"
    ) in verified
    local = _local(State.MISSING, "missing in your checkout (renamed, deleted, or not pulled yet)")
    missing = terminal.message_text(_message(), 1_700_000_100.0, local=local)
    assert "  your copy /home/bob/app/src/app.py does not verify: missing in your checkout" in (
        missing
    )
    assert "    | def secret_sauce():" in missing
