"""File lease requests of :class:`~ai_connect.client.BridgeClient` (docs/protocol.md §10).

A mixin, as the consensus requests are: each method builds one frame and waits for its
``lease_report`` by ``rid``. Paths are repo-relative (the surfaces make them so with
:func:`repo_paths`); ``repo`` is the key of :func:`ai_connect.repo_identity.repo_identity`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ai_connect.client.pending import Requester
from ai_connect.errors import ConfigError
from ai_connect.protocol import Claim, Claims, LeaseCheck, LeaseReport, Release

__all__ = ["LeaseMixin", "repo_paths"]


class LeaseMixin:
    """``claim``, ``release``, ``claims``, ``lease_check``."""

    async def claim(
        self: Requester,
        repo: str,
        paths: Sequence[str],
        *,
        ttl: float | None = None,
        reason: str = "",
    ) -> LeaseReport:
        """Leases ``paths`` (repo-relative paths or globs) of ``repo`` for ``ttl`` seconds
        (``None``: the bridge's default). All or nothing: with ``conflicts`` in the
        report, nothing was granted."""
        frame = Claim(rid=self._rid(), repo=repo, paths=list(paths), ttl=ttl, reason=reason)
        return await self._request(frame, LeaseReport)

    async def release(
        self: Requester, repo: str | None = None, paths: Sequence[str] | None = None
    ) -> LeaseReport:
        """Gives back this address's leases of ``paths`` (as claimed; ``None``: all), in
        ``repo`` (``None``: everywhere)."""
        frame = Release(rid=self._rid(), repo=repo, paths=list(paths) if paths else None)
        return await self._request(frame, LeaseReport)

    async def claims(self: Requester, repo: str | None = None) -> LeaseReport:
        """The live leases of ``repo`` (``None``: of every repository)."""
        return await self._request(Claims(rid=self._rid(), repo=repo), LeaseReport)

    async def lease_check(
        self: Requester,
        repo: str,
        paths: Sequence[str],
        *,
        renew: bool = True,
        timeout: float | None = None,
    ) -> LeaseReport:
        """Before editing ``paths``: others' leases on them (``conflicts``), and this
        address's own renewed (``renewed``)."""
        frame = LeaseCheck(rid=self._rid(), repo=repo, paths=list(paths), renew=renew)
        return await self._request(frame, LeaseReport, timeout)


def repo_paths(root: Path, paths: Iterable[str], cwd: Path) -> list[str]:
    """``paths`` (relative to ``cwd``, or absolute) as POSIX paths relative to the
    repository ``root``. Globs pass through (``*`` is joined like any other character);
    a trailing ``/`` is kept. A path outside the repository: :class:`ConfigError`."""
    out: list[str] = []
    base = root.resolve()
    for text in paths:
        folder = text.endswith("/")
        given = Path(text)
        full = given if given.is_absolute() else cwd / given
        # normpath, not resolve: a glob or a file not made yet must not be looked up.
        absolute = Path(os.path.normpath(full))
        try:
            relative = absolute.relative_to(base)
        except ValueError:
            try:
                relative = Path(os.path.realpath(absolute)).relative_to(base)
            except ValueError:
                raise ConfigError(
                    f"{text} is outside the repository at {base}; claim paths inside it"
                ) from None
        posix = relative.as_posix()
        if posix in ("", "."):
            posix = "**"
            folder = False
        out.append(posix + ("/" if folder else ""))
    return out
