"""The stdio MCP server's part in the work status (docs/hooks.md "Work status").

:func:`stdio_status` reads the switches and picks the socket its agent's hooks hand their
observations to (named in the server's advert); :func:`publishing_for` runs the Hub's
:class:`~ai_connect.work_status.publisher.Publisher` on the server's own client while
the session is served. A broken ``status:`` section or a socket that cannot listen turns
the status off, never the server.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from ai_connect.errors import ConfigError
from ai_connect.work_status import link
from ai_connect.work_status.publisher import publishing
from ai_connect.work_status.settings import StatusSettings, status_settings

if TYPE_CHECKING:
    from ai_connect.mcp.server import Hub

__all__ = ["publishing_for", "stdio_status"]

log = logging.getLogger("ai_connect.mcp")


def stdio_status() -> tuple[StatusSettings, Path | None]:
    """The work-status switches, and the socket the hooks hand their observations to."""
    try:
        status = status_settings()
        return status, link.socket_path() if status.publish else None
    except (ConfigError, OSError) as exc:  # a broken status: section must not stop it
        log.warning("work status is off: %s", exc)
        return StatusSettings(publish=False), None


@asynccontextmanager
async def publishing_for(
    hub: Hub, status: StatusSettings, sock: Path | None
) -> AsyncIterator[None]:
    """The Hub's publisher (``hub.publisher``) while the block runs."""
    cwd = hub.settings.tools.cwd
    async with publishing(hub.default, status, sock, cwd) as publisher:
        hub.publisher = publisher
        try:
            yield
        finally:
            hub.publisher = None
