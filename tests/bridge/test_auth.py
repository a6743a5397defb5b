"""Tokens and name ownership (bridge/auth.py): pure, no clock, no store."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from datetime import datetime

import pytest

from ai_connect.bridge.auth import (
    ANONYMOUS,
    Authenticator,
    AuthRefusal,
    Grant,
    new_token,
    owns,
    parse_expiry,
    token_hash,
    token_id_of,
)
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.errors import ConfigError, ErrorCode
from ai_connect.redaction import redact

NOW = 1_800_000_000.0  # January 2027


def make(
    name: str = "alice", *names: str, admin: bool = False, expires: float | None = None
) -> tuple[str, TokenRecord]:
    """A new token and its record, made at NOW."""
    return new_token(name, names, admin=admin, now=NOW, expires=expires)


def test_a_new_token_is_random_and_only_its_hash_is_kept() -> None:
    """A token is aic_<id>_<43 chars>; the record holds its SHA-256, never the token."""
    token, record = make()
    other, _ = make()
    assert token != other
    assert token_id_of(token) == record.id and len(record.id) == 8
    assert record.hash == hashlib.sha256(token.encode()).hexdigest() == token_hash(token)
    assert token not in repr(record) and token.split("_", 2)[2] not in repr(record)


def test_a_token_owns_its_label_by_default() -> None:
    """Without --names the token may register the name it is labelled with."""
    _, record = make("ci-bot")
    assert record.names == ("ci-bot",)
    _, record = make("team", "alice", "bob*")
    assert record.names == ("alice", "bob*")


@pytest.mark.parametrize("bad", ["", "x" * 65, "a\nb", "a\x1b"])
def test_bad_labels_are_refused(bad: str) -> None:
    """Token labels must be 1-64 characters without control characters."""
    with pytest.raises(ConfigError):
        new_token(bad, now=NOW)


@pytest.mark.parametrize("text", ["", "aic_", "aic_1234567_x", "nope", "aic_12345678_short"])
def test_malformed_tokens_have_no_id(text: str) -> None:
    """Only a well-formed token yields an id."""
    assert token_id_of(text) is None


@pytest.mark.parametrize(
    ("patterns", "name", "project", "expected"),
    [
        (["alice"], "alice", "p", True),
        (["alice"], "alice#2", "p", True),
        (["alice"], "Alice", "p", False),
        (["alice"], "alice2", "p", False),
        (["ci-*"], "ci-7", "p", True),
        (["* (webshop)"], "bob", "webshop", True),
        (["* (webshop)"], "bob", "other", False),
        (["alice (p)"], "alice#3", "p", True),
        (["*"], "anyone", "any", True),
    ],
)
def test_ownership_patterns(patterns: list[str], name: str, project: str, expected: bool) -> None:
    """Patterns match the bare name, or the address when they hold '('; case-sensitive."""
    assert owns(patterns, name, project) is expected


def test_durations_and_dates_parse_to_timestamps() -> None:
    """30d, 12h, 2w, 45s, 90m, ISO dates and 'never' are understood."""
    assert parse_expiry("30d", NOW) == NOW + 30 * 86400
    assert parse_expiry("12h", NOW) == NOW + 12 * 3600
    assert parse_expiry("2w", NOW) == NOW + 14 * 86400
    assert parse_expiry("90m", NOW) == NOW + 5400
    assert parse_expiry("45s", NOW) == NOW + 45
    assert parse_expiry("never", NOW) is None and parse_expiry(None, NOW) is None
    stamp = parse_expiry("2999-12-31", NOW)
    assert stamp == datetime(2999, 12, 31).astimezone().timestamp()


@pytest.mark.parametrize("text", ["soon", "0d", "-3d", "2000-01-01", "12x"])
def test_bad_or_past_expiries_are_refused(text: str) -> None:
    """Garbage, zero and past expiries are a ConfigError that says what is accepted."""
    with pytest.raises(ConfigError):
        parse_expiry(text, NOW)


def test_auth_is_off_without_tokens_and_on_with_any() -> None:
    """No token and no --auth: anyone registers; a stored token (even revoked) turns it on."""
    assert Authenticator().check(None, "a", "p", NOW) is ANONYMOUS
    assert Authenticator().check("garbage", "a", "p", NOW) is ANONYMOUS
    _, record = make()
    revoked = dataclasses.replace(record, revoked=NOW)
    assert Authenticator([revoked]).required
    assert Authenticator(required=True).required


def refusal(attempt: Callable[[], Grant]) -> AuthRefusal:
    """The refusal ``attempt`` raises (it must raise one)."""
    with pytest.raises(AuthRefusal) as refused:
        attempt()
    return refused.value


def test_each_refusal_has_its_own_reason_and_message() -> None:
    """Missing, wrong, revoked, expired and not-owner are told apart, each with a hint."""
    token, record = make("alice")
    revoked_token, revoked = make("old")
    expired_token, expired = make("late", expires=NOW + 10)
    auth = Authenticator([record, dataclasses.replace(revoked, revoked=NOW), expired])
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")
    results = {
        "missing": lambda: auth.check(None, "alice", "p", NOW),
        "wrong": lambda: auth.check(wrong, "alice", "p", NOW),
        "revoked": lambda: auth.check(revoked_token, "old", "p", NOW),
        "expired": lambda: auth.check(expired_token, "late", "p", NOW + 10),
        "not_owner": lambda: auth.check(token, "bob", "p", NOW),
    }
    messages = set()
    for reason, result in results.items():
        r = refusal(result)
        assert r.reason == reason and r.hint
        messages.add(r.message)
    assert len(messages) == 5


def test_an_auth_refusal_is_the_bridge_refusal_auth_failed() -> None:
    """check raises the router's one Refusal type, with the auth_failed code."""
    r = refusal(lambda: Authenticator(required=True).check(None, "alice", "p", NOW))
    assert isinstance(r, Refusal) and r.code == ErrorCode.AUTH_FAILED
    assert r.error("h").model_dump(exclude_none=True) == {
        "type": "error",
        "rid": "h",
        "code": "auth_failed",
        "message": r.message,
        "hint": r.hint,
    }


def test_new_tokens_turn_auth_on_in_place() -> None:
    """update() swaps the records: the same Authenticator then requires a token."""
    token, record = make("alice")
    auth = Authenticator()
    assert auth.check(None, "alice", "p", NOW) is ANONYMOUS
    auth.update([record])
    assert auth.required and auth.records == (record,)
    assert auth.check(token, "alice", "p", NOW) == Grant(record.id, "alice", False)
    assert refusal(lambda: auth.check(None, "alice", "p", NOW)).reason == "missing"


def test_a_wrong_token_learns_nothing() -> None:
    """A token that does not match says only that it is not valid: no id, label or names."""
    _, record = make("alice-laptop", "alice")
    auth = Authenticator([record])
    forged = f"aic_{record.id}_{'A' * 43}"
    for attempt in (forged, "aic_00000000_" + "B" * 43, "x"):
        r = refusal(functools.partial(auth.check, attempt, "alice", "p", NOW))
        text = r.message + r.hint
        assert r.reason == "wrong"
        assert record.id not in text and "alice" not in text


def test_a_good_token_is_granted_with_its_admin_flag() -> None:
    """A valid token for an owned name is granted, carrying its id, label and admin flag."""
    token, record = make("ops", "*", admin=True)
    grant = Authenticator([record]).check(token, "dashboard", "ops", NOW)
    assert grant == Grant(record.id, "ops", True)


def test_still_valid_notices_revocation_expiry_and_deletion() -> None:
    """A live grant is re-checked: revoked, expired, deleted, or auth turned on."""
    _, record = make("alice", expires=NOW + 5)
    auth = Authenticator([record])
    assert auth.still_valid(record.id, "alice", "p", NOW) is None
    assert refusal_of(auth.still_valid(record.id, "alice", "p", NOW + 5)).reason == "expired"
    gone = Authenticator([dataclasses.replace(record, id="other000", hash="x")])
    assert refusal_of(gone.still_valid(record.id, "alice", "p", NOW)).reason == "wrong"
    assert refusal_of(gone.still_valid(None, "alice", "p", NOW)).reason == "missing"
    assert Authenticator().still_valid(None, "alice", "p", NOW) is None


def refusal_of(value: AuthRefusal | None) -> AuthRefusal:
    assert value is not None
    return value


def test_redact_hides_tokens_in_raw_frames() -> None:
    """Raw frames in debug logs show *** instead of the token, escapes and elisions included."""
    raw = '{"type":"hello","token": "se\\"cret","name":"a"}'
    assert redact(raw) == '{"type":"hello","token": "***","name":"a"}'
    assert redact('{"type":"ping"}') == '{"type":"ping"}'
    token, _ = make()
    elided = redact(f'< TEXT \'{{"token":"{token[:20]}...\' [300 bytes]')
    assert token[4:12] not in elided and elided.endswith("' [300 bytes]")
    assert token not in redact(f"token={token} in a message")
