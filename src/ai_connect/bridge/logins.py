"""Failed logins, counted per remote address: how long to hold each answer (docs/security.md).

Pure: the time comes with each call. A ``hello`` the
:class:`~ai_connect.bridge.auth.Authenticator` refuses is a failed login. The first
``free`` failures of an address (a person mistyping, a client with a stale token) are
answered at once; each later one is held ``base_s``, then twice that, up to ``max_s``:
the refusal is sent only then, and the connection is not read meanwhile. So guessing
tokens from one address costs each of its connections ``max_s`` per guess.

Only failures are held: a valid token is answered at once, from any address, and a
failure from one address slows no other. An address with no failure for ``forget_s``
starts over; at most ``max_addresses`` are remembered (the oldest is forgotten first).
``max_s`` stays under the client's 5 s wait for its ``welcome``, so a held refusal still
reaches the client as a refusal, not as a timeout.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

__all__ = ["LoginLimiter", "LoginPolicy"]


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    free: int = 5
    """Failures per address answered at once."""
    base_s: float = 0.5
    """The hold of the first failure past ``free``; it doubles with each next one."""
    max_s: float = 4.0
    """The longest hold."""
    forget_s: float = 900.0
    """An address with no failure for this long starts over."""
    max_addresses: int = 10_000
    """Addresses remembered at most (memory stays bounded under a spray of addresses)."""


@dataclass(slots=True)
class _Record:
    failures: int
    last: float


class LoginLimiter:
    """Counts failed logins per address; says how long to hold the answer to each."""

    def __init__(self, policy: LoginPolicy | None = None) -> None:
        self.policy = policy or LoginPolicy()
        self._seen: OrderedDict[str, _Record] = OrderedDict()

    def failed(self, address: str, now: float) -> tuple[int, float]:
        """One more failed login from ``address``: its failures so far (this one
        included, within ``forget_s`` of each other) and the seconds to hold the answer."""
        policy = self.policy
        record = self._seen.pop(address, None)
        if record is None or now - record.last > policy.forget_s:
            record = _Record(0, now)
        record.failures += 1
        record.last = now
        self._seen[address] = record  # now the newest
        while len(self._seen) > policy.max_addresses:
            self._seen.popitem(last=False)
        return record.failures, self.hold(record.failures)

    def hold(self, failures: int) -> float:
        """The hold of the ``failures``-th failure of an address."""
        policy = self.policy
        past = failures - policy.free
        if past <= 0:
            return 0.0
        return min(policy.max_s, policy.base_s * 2.0 ** min(past - 1, 32))

    def failures(self, address: str, now: float) -> int:
        """The failures of ``address`` that still count at ``now``."""
        record = self._seen.get(address)
        if record is None or now - record.last > self.policy.forget_s:
            return 0
        return record.failures

    def __len__(self) -> int:
        return len(self._seen)
