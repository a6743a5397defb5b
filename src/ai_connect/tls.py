"""TLS for ``wss://``: the bridge's server context and the clients' verification.

A client verifies the bridge in one of three ways (docs/security.md):

- the system's trust store (default for ``wss://``), for a certificate from a public CA;
- ``--ca FILE`` (``AI_CONNECT_CA``, config ``bridge.ca``): a private CA, or the bridge's
  own self-signed certificate;
- ``--fingerprint SHA256`` (``AI_CONNECT_FINGERPRINT``, config ``bridge.fingerprint``):
  the SHA-256 of the bridge's certificate, which ``ai-connect bridge`` prints at start.
  The pin replaces chain and host-name validation (the certificate is known exactly);
  with ``--ca`` as well, both are checked. The pin is checked right after the TLS and
  WebSocket handshakes, before ``hello`` (and so the token) is sent.

A failed verification raises :class:`~ai_connect.errors.TlsError`; nothing ever falls
back to ``ws://``.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from pathlib import Path
from typing import Any

from ai_connect.errors import ConfigError, TlsError

__all__ = [
    "cert_fingerprint",
    "client_context",
    "client_options",
    "colon_hex",
    "describe_failure",
    "file_fingerprint",
    "normalise_fingerprint",
    "server_context",
]

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def normalise_fingerprint(text: str) -> str:
    """``AB:CD:…``, ``abcd…`` or ``sha256:…`` -> 64 lower-case hex digits; else ConfigError."""
    value = text.strip().lower()
    if value.startswith("sha256:") or value.startswith("sha256="):
        value = value[7:]
    value = value.replace(":", "").replace(" ", "")
    if not _HEX64.match(value):
        raise ConfigError(
            f"fingerprint {text!r} is not a SHA-256 fingerprint (64 hex digits, colons "
            "allowed); copy the one 'ai-connect bridge' prints at start"
        )
    return value


def cert_fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, as 64 lower-case hex digits."""
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(cert_file: str | Path) -> str:
    """SHA-256 of the first certificate of a PEM file (what clients pin)."""
    text = Path(cert_file).read_text(encoding="ascii", errors="replace")
    match = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    if match is None:
        raise ConfigError(f"{cert_file} holds no PEM certificate")
    return cert_fingerprint(ssl.PEM_cert_to_DER_cert(match[0]))


def colon_hex(fingerprint: str) -> str:
    """``ab12…`` -> ``AB:12:…`` (how browsers and openssl print it)."""
    return ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2)).upper()


def server_context(cert_file: str | Path, key_file: str | Path) -> ssl.SSLContext:
    """The bridge's TLS context (TLS 1.2+); ConfigError if the files cannot be used."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert_file), str(key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot use the TLS certificate {cert_file} with key {key_file}: {exc}; give "
            "--tls-cert a PEM certificate (chain) and --tls-key its PEM private key"
        ) from exc
    return context


def client_context(
    url: str, ca: str | Path | None = None, fingerprint: str | None = None
) -> ssl.SSLContext | None:
    """The SSL context a client needs for ``url``: ``None`` for ``ws://``.

    ``--ca``/``--fingerprint`` with a ``ws://`` URL is a ConfigError: they would promise
    a protection a plaintext link does not have.
    """
    secure = url.lower().startswith("wss://")
    if not secure:
        if ca or fingerprint:
            raise ConfigError(
                f"--ca and --fingerprint verify a wss:// bridge, but {url} is plaintext "
                "ws://; use the bridge's wss:// URL"
            )
        return None
    try:
        context = ssl.create_default_context(cafile=str(ca) if ca else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load the CA file {ca}: {exc}; give --ca a PEM file of CA certificates"
        ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if fingerprint and not ca:
        # The pin names the one certificate we accept: no chain or host name to check.
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def client_options(
    url: str, ca: str | Path | None = None, fingerprint: str | None = None
) -> dict[str, Any]:
    """``BridgeClient`` keyword arguments (``ssl``, ``fingerprint``) for these settings."""
    context = client_context(url, ca, fingerprint)
    if context is None:
        return {}
    return {"ssl": context, "fingerprint": fingerprint}


def describe_failure(url: str, exc: BaseException, ca: str | None = None) -> TlsError:
    """Our error for a failed TLS handshake with ``url``: what failed, what to do."""
    reason = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "hostname" in str(exc) or "IP address mismatch" in str(exc):
            what = f"its certificate is not valid for this host name ({reason})"
            todo = "connect with the host name the certificate names, or pin it with --fingerprint"
        else:
            what = f"its certificate could not be verified ({reason})"
            where = f"the CA file {ca}" if ca else "the system's trust store"
            todo = (
                f"it is not signed by a CA in {where}: give the bridge's CA with --ca FILE "
                "(AI_CONNECT_CA), or pin its certificate with --fingerprint SHA256 "
                "(ai-connect bridge prints it)"
            )
    else:
        what = f"the TLS handshake failed ({reason})"
        todo = "check that the bridge serves wss:// on this port (ai-connect bridge --tls-cert)"
    return TlsError(f"TLS verification of {url} failed: {what}; {todo}. Nothing was sent.")
