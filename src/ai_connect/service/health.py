"""Is a local bridge or MCP server answering? ``GET /healthz`` on its port.

The bridge answers ``ok``; the MCP server answers ``ok`` while its link to the bridge is
up and ``503`` with the reason while it is not. Used by ``ai-connect service status``
and ``ai-connect doctor``.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass

__all__ = ["Health", "healthz", "probe_host"]


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    answered: bool
    """Something answered HTTP on the port (``ok`` or not)."""
    text: str
    """What it said, or why nothing did."""


def probe_host(host: str) -> str:
    """The address to probe a server bound to ``host`` at: a wildcard means this machine."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)


def healthz(host: str, port: int, *, tls: bool = False, timeout: float = 3.0) -> Health:
    """Asks ``http(s)://host:port/healthz``; never raises."""
    host = probe_host(host)
    conn: http.client.HTTPConnection
    if tls:
        # A liveness probe of our own port: whether the certificate verifies is
        # doctor's question (the TLS check), not this one's.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        body = response.read(4096).decode("utf-8", "replace").strip()
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return Health(False, False, f"nothing answers on {host}:{port} ({reason})")
    finally:
        conn.close()
    if response.status == 200:
        return Health(True, True, body or "ok")
    return Health(False, True, f"HTTP {response.status}: {body}")
