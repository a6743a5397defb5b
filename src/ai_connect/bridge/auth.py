"""Tokens and name ownership: who may register which name (docs/security.md).

Pure: no I/O, no clock (``now`` is passed in). ``ai-connect token create`` makes a token
with :func:`new_token` and stores only its :class:`TokenRecord` (a SHA-256 hash: the
token carries 256 random bits, so a slow KDF would add nothing); the router asks an
:class:`Authenticator` built from the stored records whether a ``hello`` may register,
and it answers with a :class:`Grant` or raises an :class:`AuthRefusal` (the router's one
:class:`~ai_connect.bridge.refusal.Refusal`, code ``auth_failed``, plus why).

A token reads ``aic_<id>_<secret>``: the public ``id`` finds the record (and names it in
``token list`` and ``token revoke``), the secret proves possession. Only a token whose hash
matches learns more than "wrong token" (revoked, expired, or which names it owns), so an
outsider can probe nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Literal

from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.errors import ConfigError, ErrorCode

__all__ = [
    "ANONYMOUS",
    "TOKEN_PREFIX",
    "AuthReason",
    "AuthRefusal",
    "Authenticator",
    "Grant",
    "check_label",
    "check_pattern",
    "new_token",
    "owns",
    "parse_expiry",
    "token_hash",
    "token_id_of",
]

TOKEN_PREFIX = "aic_"
_TOKEN_RE = re.compile(r"^aic_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def token_hash(token: str) -> str:
    """SHA-256 hex digest of the whole token text."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def token_id_of(token: str) -> str | None:
    """The public id of a well-formed token, else ``None``."""
    match = _TOKEN_RE.match(token)
    return match[1] if match else None


def check_label(name: str) -> str:
    """A token's label: 1-64 characters, no control characters; else ConfigError."""
    name = name.strip()
    if not 0 < len(name) <= 64 or _CONTROL_RE.search(name):
        raise ConfigError(f"token name {name!r} must be 1-64 characters without control characters")
    return name


def check_pattern(pattern: str) -> str:
    """A name pattern (fnmatch): 1-200 characters, no control characters; else ConfigError."""
    pattern = pattern.strip()
    if not 0 < len(pattern) <= 200 or _CONTROL_RE.search(pattern):
        raise ConfigError(
            f"name pattern {pattern!r} must be 1-200 characters without control characters"
        )
    return pattern


def new_token(
    name: str,
    names: Iterable[str] = (),
    *,
    admin: bool = False,
    now: float,
    expires: float | None = None,
) -> tuple[str, TokenRecord]:
    """A fresh token and the record to store for it (the token itself is never stored).

    ``names`` defaults to ``[name]``: the token may register that peer name, in any
    project (and its ``#N`` variants).
    """
    label = check_label(name)
    patterns = tuple(check_pattern(p) for p in names) or (label,)
    token_id = secrets.token_hex(4)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    record = TokenRecord(token_id, label, token_hash(token), patterns, admin, now, expires)
    return token, record


_LATEST = datetime(9999, 12, 31, tzinfo=UTC).timestamp()
"""The latest expiry a token may have: the last day a date can name."""


def parse_expiry(text: str | None, now: float) -> float | None:
    """``30d``, ``12h``, ``90m``, ``2w``, ``45s``, an ISO date or date-time, or ``never``.

    A date without a time means its midnight, local time. Raises ConfigError otherwise.
    """
    if text is None or text.strip().lower() in ("", "never", "none"):
        return None
    text = text.strip()
    match = _DURATION_RE.match(text.lower())
    if match:
        seconds = float(match[1]) * _UNITS[match[2]]
        if seconds <= 0:
            raise ConfigError(f"--expires {text!r} must be in the future")
        if now + seconds > _LATEST:  # no clock or calendar shows it (it was a traceback)
            raise ConfigError(
                f"--expires {text!r} is after 9999-12-31; leave --expires out (or say "
                "'never') for a token that does not expire"
            )
        return now + seconds
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"--expires {text!r} is neither a duration (30d, 12h, 2w) nor a date "
            "(2026-12-31 or 2026-12-31T18:00)"
        ) from None
    stamp = when.timestamp() if when.tzinfo else when.astimezone().timestamp()
    if stamp <= now:
        raise ConfigError(f"--expires {text!r} is in the past")
    return stamp


def owns(patterns: Iterable[str], name: str, project: str) -> bool:
    """Whether a pattern matches the peer ``name`` (``#N`` dropped) or its address.

    A pattern with ``(`` is matched against ``Name (Project)``, any other against the
    bare name; matching is case-sensitive (``fnmatchcase``).
    """
    base = name.split("#", 1)[0]
    address = f"{base} ({project})"
    return any(fnmatchcase(address if "(" in p else base, p) for p in patterns)


@dataclass(frozen=True, slots=True)
class Grant:
    """A ``hello`` may register. ``token_id`` is ``None`` when auth is off."""

    token_id: str | None
    token_name: str | None
    admin: bool


ANONYMOUS = Grant(None, None, False)


AuthReason = Literal["missing", "wrong", "revoked", "expired", "not_owner", "not_admin"]

_CLOSE_REASONS: dict[AuthReason, str] = {
    "missing": "auth token required",
    "wrong": "auth token deleted",
    "revoked": "auth token revoked",
    "expired": "auth token expired",
    "not_owner": "auth token no longer owns this name",
    "not_admin": "auth token is no longer an admin token",
}


class AuthRefusal(Refusal):
    """A token may not register a name (``auth_failed``), and why: ``reason`` is one of
    missing, wrong, revoked, expired, not_owner, not_admin."""

    def __init__(self, reason: AuthReason, message: str, hint: str) -> None:
        super().__init__(ErrorCode.AUTH_FAILED, message, hint)
        self.reason = reason

    @property
    def close_reason(self) -> str:
        """Why a live connection is closed when its grant ends for this reason."""
        return _CLOSE_REASONS[self.reason]


_ASK = "ask the bridge's operator for a token (ai-connect token create NAME)"


class Authenticator:
    """Decides whether a token may register a name, from the stored token records.

    Auth is on when ``required`` (``ai-connect bridge --auth``) or when any token exists,
    revoked and expired ones included: revoking every token never opens the bridge.
    """

    def __init__(self, tokens: Iterable[TokenRecord] = (), *, required: bool = False) -> None:
        self._always = required
        self.update(tokens)

    def update(self, tokens: Iterable[TokenRecord]) -> None:
        """Decides from these records from now on (``ai-connect token`` changed them)."""
        self.records = tuple(tokens)
        self._by_id = {t.id: t for t in self.records}
        self.required = self._always or bool(self._by_id)

    def check(
        self, token: str | None, name: str, project: str, now: float, *, observer: bool = False
    ) -> Grant:
        """What ``token`` may do as ``name`` in ``project`` at ``now``; raises
        :class:`AuthRefusal` if it may not register. An ``observer`` (docs/protocol.md
        §9) owns no name: its token must be an admin token instead."""
        if not self.required:
            return ANONYMOUS
        if not token:
            raise AuthRefusal(
                "missing",
                "this bridge requires an auth token, and the hello carried none",
                "pass --token-file FILE, set AI_CONNECT_TOKEN, or bridge.token_file in the "
                "config file; " + _ASK,
            )
        token_id = token_id_of(token)
        record = self._by_id.get(token_id) if token_id else None
        if record is None or not hmac.compare_digest(record.hash, token_hash(token)):
            raise AuthRefusal(
                "wrong",
                "the auth token is not valid for this bridge",
                "check that the whole token was copied (it starts with aic_); " + _ASK,
            )
        refusal = self.recheck(record, name, project, now, observer=observer)
        if refusal is not None:
            raise refusal
        return Grant(record.id, record.name, record.admin)

    def recheck(
        self, record: TokenRecord, name: str, project: str, now: float, *, observer: bool = False
    ) -> AuthRefusal | None:
        """Why a genuine token may not (or no longer) hold ``name`` (or observe), or
        ``None``."""
        if record.revoked is not None:
            return AuthRefusal(
                "revoked",
                f"the auth token {record.id} ({record.name}) was revoked",
                "ask the bridge's operator for a new token",
            )
        if record.expires is not None and now >= record.expires:
            return AuthRefusal(
                "expired",
                f"the auth token {record.id} ({record.name}) has expired",
                "ask the bridge's operator for a new token",
            )
        if observer and not record.admin:
            return AuthRefusal(
                "not_admin",
                f"the auth token {record.id} ({record.name}) is not an admin token: only "
                "an admin token may watch the bridge",
                "run it with a token made by `ai-connect token create NAME --admin`",
            )
        if observer:
            return None
        if not owns(record.names, name, project):
            return AuthRefusal(
                "not_owner",
                f"the auth token {record.id} ({record.name}) may not register the name "
                f"{name!r} in project {project!r}",
                f"register under a name it owns ({', '.join(record.names)}), or ask the "
                "operator for a token that owns this name",
            )
        return None

    def still_valid(
        self, token_id: str | None, name: str, project: str, now: float, *, observer: bool = False
    ) -> AuthRefusal | None:
        """Re-checks a live connection's grant after the tokens changed or time passed.

        Returns the refusal rather than raising it: there is no request to answer, the
        router closes the connection with :attr:`AuthRefusal.close_reason`.
        """
        if not self.required:
            return None
        record = self._by_id.get(token_id) if token_id else None
        if record is None:
            return AuthRefusal(
                "missing" if token_id is None else "wrong",
                "this bridge now requires an auth token"
                if token_id is None
                else "the auth token was deleted",
                "reconnect with a valid token; " + _ASK,
            )
        return self.recheck(record, name, project, now, observer=observer)
