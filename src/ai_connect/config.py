"""Settings from flags, environment and the config file, in that order of precedence.

The config file is ``~/.config/ai-connect/config.yaml`` (XDG, via platformdirs; override
with ``AI_CONNECT_CONFIG``). The original AI-Connect keys keep working::

    bridge:
      host: 192.168.0.252   # where clients find the bridge
      port: 9999
      url: wss://bridge.example:9999   # instead of host/port; wins over them
      urls: [wss://node1:9999, wss://node2:9999]   # or several nodes, tried in turn
      token: ...            # sent in hello when the bridge requires auth
      token_file: ~/.config/ai-connect/token   # or: read it from this file (mode 0600)
      ca: ~/bridge-ca.pem   # wss://: verify the bridge with this CA (AI_CONNECT_CA)
      fingerprint: AB:CD:…  # wss://: or pin its certificate (AI_CONNECT_FINGERPRINT)
    peer:
      name: laptop          # AI_CONNECT_PEER_NAME overrides it
      project: myproject    # default: the git root (else the directory) of the cwd
      auto_connect: true    # accepted, unused: clients always connect
    server:                 # the bridge process itself (ai-connect bridge)
      host: 127.0.0.1
      port: 9999
      db: ~/.local/share/ai-connect/bridge.db   # or postgresql://USER@HOST/DB (nodes)
      presence_timeout: 60  # seconds
      retention_days: 30
      synchronous: FULL     # FULL (default) or NORMAL
      tls_cert: /etc/ai-connect/cert.pem   # serve wss:// (with tls_key)
      tls_key: /etc/ai-connect/key.pem
      auth: false           # true: require tokens even before one exists
      ui: false             # true: serve the web dashboard at /ui/ (ai-connect bridge --ui)
    leases:                 # file leases (docs/leases.md)
      on_conflict: warn     # an edit of a file another agent leased: warn (default) or
                            # deny (AI_CONNECT_LEASES_ON_CONFLICT overrides it)
    mcp:                    # ai-connect mcp --transport http (the original's keys)
      host: 127.0.0.1
      port: 9998
    status:                 # work status, published by the hooks (work_status/settings.py)
      publish: true         # false: publish nothing (AI_CONNECT_STATUS=off, too)
      task_summary: false   # true: also the first line of the latest prompt, redacted
    logging:                # the log files of ai-connect bridge and ai-connect mcp
      max_megabytes: 10     # rotate a log file at this size (the original's key)
      backup_count: 5       # rotated files kept beside it

The token: ``--token`` (seen by every local user in the process list: ai-connect warns),
``--token-file FILE``, ``AI_CONNECT_TOKEN``, ``AI_CONNECT_TOKEN_FILE``, ``bridge.token``
or ``bridge.token_file``, the first that is set; a token file holds the token on its
first line.

A key that nothing reads is warned about once per process, with the key it most likely
meant (``warning: config file …: nothing reads 'bridge.hots' (did you mean bridge.host?)``).
"""

from __future__ import annotations

import difflib
import logging
import math
import os
import socket
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import platformdirs
import yaml

from ai_connect.errors import ConfigError
from ai_connect.identity import detect_project

__all__ = [
    "DEFAULT_MCP_PORT",
    "DEFAULT_PORT",
    "KNOWN_KEYS",
    "BridgeSettings",
    "ClientSettings",
    "LeaseSettings",
    "LogSettings",
    "Sourced",
    "bridge_settings",
    "client_settings",
    "config_path",
    "database",
    "default_db_path",
    "explain_client",
    "is_postgres_url",
    "joined_urls",
    "key_warnings",
    "lease_settings",
    "load_config",
    "load_file",
    "log_settings",
    "mcp_address",
    "normalise_url",
    "read_token_file",
    "redacted",
    "unknown_keys",
]

log = logging.getLogger("ai_connect.config")

DEFAULT_PORT = 9999
DEFAULT_MCP_PORT = 9998
"""``ai-connect mcp --transport http`` listens here (the original's ``mcp.port``)."""

log = logging.getLogger("ai_connect.config")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    url: str
    name: str
    project: str
    token: str | None = field(default=None, repr=False)  # never shown (docs/security.md)
    ca: str | None = None
    """PEM file of the CA that signed the bridge's certificate (wss://)."""
    fingerprint: str | None = None
    """SHA-256 of the bridge's certificate, pinned (wss://)."""


@dataclass(frozen=True, slots=True)
class BridgeSettings:
    host: str
    port: int
    db: Path
    presence_timeout_s: float = 60.0
    retention_s: float = 30 * 86400.0
    synchronous: str = "FULL"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    auth: bool = False
    ui: bool = False
    """Serve the web dashboard at ``/ui/`` (``--ui``, ``server.ui``)."""
    db_url: str | None = None
    """A PostgreSQL database (``postgresql://...``) instead of the SQLite file ``db``
    (docs/deploy.md): then ``db`` is unused and any number of bridges share it."""


@dataclass(frozen=True, slots=True)
class LogSettings:
    max_bytes: int = 10 * 1024 * 1024
    """Rotate a log file at this size (``logging.max_megabytes``)."""
    backup_count: int = 5
    """Rotated files kept (``logging.backup_count``)."""


def config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("AI_CONNECT_CONFIG"):
        return Path(env["AI_CONNECT_CONFIG"]).expanduser()
    return platformdirs.user_config_path("ai-connect") / "config.yaml"


_POSTGRES_SCHEMES = ("postgresql", "postgres")


def is_postgres_url(db: object) -> bool:
    """Whether ``db`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)
    rather than an SQLite file."""
    if not isinstance(db, str) or "://" not in db:
        return False
    return db.split("://", 1)[0].lower() in _POSTGRES_SCHEMES


def redacted(url: str) -> str:
    """A database URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def database(raw: str | Path, what: str) -> tuple[Path | None, str | None]:
    """A ``--db`` value -> (SQLite path, PostgreSQL URL), one of them ``None``.

    ``sqlite:PATH`` names a file as plainly as ``PATH``; any other ``SCHEME://`` is
    refused rather than taken for a folder named ``SCHEME:``.
    """
    text = str(raw).strip()
    if is_postgres_url(text):
        return None, text
    scheme, sep, rest = text.partition(":")
    if sep and scheme.lower() == "sqlite":
        text = rest[2:] if rest.startswith("//") else rest
    elif sep and rest.startswith("//") and scheme.replace("+", "").isalnum():
        raise ConfigError(
            f"{what} ({scheme}://...) is neither a file path nor a PostgreSQL URL: "
            "use a path (SQLite) or "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )
    if not text:
        raise ConfigError(f"{what} is empty: give a file path or a postgresql:// URL")
    return Path(text).expanduser(), None


def default_db_path() -> Path:
    return platformdirs.user_data_path("ai-connect") / "bridge.db"


KNOWN_KEYS: dict[str, frozenset[str]] = {
    "bridge": frozenset(
        {"host", "port", "url", "urls", "token", "token_file", "ca", "fingerprint"}
    ),
    "peer": frozenset({"name", "project", "auto_connect"}),
    "server": frozenset(
        {
            "host",
            "port",
            "db",
            "presence_timeout",
            "retention_days",
            "synchronous",
            "tls_cert",
            "tls_key",
            "auth",
            "ui",
        }
    ),
    "logging": frozenset({"max_megabytes", "backup_count"}),
    "leases": frozenset({"on_conflict"}),
    "mcp": frozenset({"host", "port"}),
    "status": frozenset({"publish", "task_summary"}),
}
"""Every key the config file may hold, by section (the module docstring says what each does)."""


def unknown_keys(data: Mapping[str, Any]) -> list[str]:
    """The keys of a loaded config file that nothing reads (``section`` or ``section.key``)."""
    found = []
    for section, value in data.items():
        known = KNOWN_KEYS.get(str(section))
        if known is None:
            found.append(str(section))
        elif isinstance(value, dict):
            found += [f"{section}.{key}" for key in value if str(key) not in known]
    return found


def _guess(key: str) -> str | None:
    """The known key a misspelt ``section`` or ``section.key`` most likely means."""
    section, _, name = key.partition(".")
    every = [f"{s}.{k}" for s, keys in KNOWN_KEYS.items() for k in sorted(keys)]
    if not name:  # a whole section: a misspelt section, or a key put at the top
        close = difflib.get_close_matches(section, list(KNOWN_KEYS), n=1, cutoff=0.6)
        if close:
            return close[0]
        tops = [k for k in every if k.endswith("." + section)]
        return tops[0] if tops else None
    same = [f"{section}.{k}" for k in sorted(KNOWN_KEYS[section])]
    close = difflib.get_close_matches(key, same, n=1, cutoff=0.6)
    if close:
        return close[0]
    elsewhere = [k for k in every if k.endswith("." + name)]
    return elsewhere[0] if elsewhere else None


def key_warnings(data: Mapping[str, Any], path: Path) -> list[str]:
    """One line per key of the config file that nothing reads, with the likeliest meant."""
    lines = []
    for key in unknown_keys(data):
        guess = _guess(key)
        meant = f" (did you mean {guess}?)" if guess else ""
        lines.append(
            f"warning: config file {path}: nothing reads '{key}'{meant}; "
            "correct or remove it (the keys: README, Configuration)"
        )
    return lines


_warned: set[str] = set()
"""Warnings already logged by this process: each once, however often the file is read."""


def _warn_once(text: str) -> None:
    if text not in _warned:
        _warned.add(text)
        log.warning("%s", text)


def load_config(env: Mapping[str, str] | None = None) -> tuple[Path, dict[str, Any]]:
    """The config file's path and contents; warns (once) of keys that nothing reads.

    An ``AI_CONNECT_CONFIG`` naming a missing file is no config, silently: tests and
    services point it at nothing on purpose (``ai-connect doctor`` flags it)."""
    env = os.environ if env is None else env
    path = config_path(env)
    data = load_file(path)
    for line in key_warnings(data, path):
        _warn_once(line)
    return path, data


def load_file(path: Path) -> dict[str, Any]:
    """Reads the YAML config; a missing file is an empty config."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}); fix it or move it away (the keys: README, Configuration)"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config file {path} is not valid YAML: {exc}; fix it or move it away"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping (bridge:, peer:, server:)")
    return data


def _section(data: Mapping[str, Any], name: str, path: Path) -> Mapping[str, Any]:
    value = data.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"'{name}' in {path} must be a mapping of keys, not {value!r}")
    return value


def _port(value: Any, where: str) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError(f"{where} must be a port number 0-65535, not {value!r}")
    return port


def _number(value: Any, where: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number < math.inf:  # NaN fails both
        raise ConfigError(f"{where} must be a positive number, not {value!r}")
    return number


def normalise_url(url: str) -> str:
    """``host[:port]`` or ``ws(s)://host[:port][/path]``, or several of them separated by
    commas (the nodes of one bridge, tried in turn: docs/deploy.md); anything else is a
    ConfigError.

    A URL without a port gets the bridge's, :data:`DEFAULT_PORT` (not the scheme's 80 or
    443): ``ws://mini`` is ``ws://mini:9999``.
    """
    urls = [_one_url(part) for part in url.split(",") if part.strip()]
    if not urls:
        raise ConfigError("the bridge URL is empty; use ws://HOST:PORT or wss://HOST:PORT")
    if len({u.split("://", 1)[0].lower() for u in urls}) > 1:
        raise ConfigError(
            f"bridge URLs {', '.join(urls)} mix ws:// and wss://; the nodes of one bridge "
            "serve the same scheme"
        )
    return ",".join(urls)


def _one_url(url: str) -> str:
    url = url.strip()
    if "://" not in url:
        url = f"ws://{url}"
    scheme, rest = url.split("://", 1)
    if scheme.lower() not in ("ws", "wss") or not rest:
        raise ConfigError(
            f"bridge URL {url!r} is not a WebSocket URL; use ws://HOST:PORT or wss://HOST:PORT"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(
            f"bridge URL {url!r} has no valid port ({exc}); use ws://HOST:PORT with a port "
            f"number 1-65535, or leave it out for {DEFAULT_PORT}"
        ) from exc
    if not parts.hostname:
        raise ConfigError(f"bridge URL {url!r} names no host; use ws://HOST:PORT")
    if port == 0:
        raise ConfigError(f"bridge URL {url!r} has port 0; use a port number 1-65535")
    if port is None:
        netloc = parts.netloc.rstrip(":")  # "ws://host:" has an empty port
        parts = parts._replace(netloc=f"{netloc}:{DEFAULT_PORT}")
    return urlunsplit(parts._replace(scheme=scheme.lower()))


def joined_urls(value: str | Sequence[str] | None) -> str | None:
    """``--bridge`` given once, several times, or as a comma list: one comma list of the
    nodes of one bridge, in the order given (``None`` when not given). Each part may be a
    comma list itself; :func:`normalise_url` checks them."""
    if value is None or isinstance(value, str):
        return value
    parts = [str(v) for v in value]
    return ",".join(parts) if parts else None


def _url_list(value: Any, path: Path) -> str | None:
    """``bridge.urls`` (a list of the nodes' URLs, or one string) as one comma list."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return ",".join(value)
    raise ConfigError(
        f"bridge.urls in {path} must be a list of URLs (- wss://node1:9999), not {value!r}"
    )


def _host_url(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"ws://{host}:{port}"


@dataclass(frozen=True, slots=True)
class Sourced:
    """One resolved setting and where its value came from (``ai-connect doctor``)."""

    value: Any
    source: str
    """``flag --name``, ``env AI_CONNECT_PEER_NAME``, ``file peer.name`` or ``default …``."""


def _pick(
    options: tuple[tuple[Any, str], ...], default: Any, default_source: str = "default"
) -> Sourced:
    """The first of ``(value, source)`` that is set, else the default."""
    for value, source in options:
        if value is not None and value != "":
            return Sourced(value, source)
    return Sourced(default, default_source)


def read_token_file(path: str | Path) -> str:
    """The token in ``path`` (its first line, stripped); ConfigError if there is none.

    A file other local users may read is used, with a warning saying how to fix it.
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the token file {file}: {exc.strerror}; put the token on its "
            f"first line and make it private (chmod 600 {file})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the token file {file} is not text; it should hold the token") from exc
    lines = text.strip().splitlines()
    if not lines or not lines[0].strip():
        raise ConfigError(f"the token file {file} is empty; put the token on its first line")
    _warn_if_readable(file)
    return lines[0].strip()


def _warn_if_readable(path: Path) -> None:
    """Warns when other local users may read ``path``, which holds the auth token."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if mode & 0o077:
        log.warning(
            "%s holds the auth token and other local users may read it (mode %o): chmod 600 %s",
            path, mode, path,
        )  # fmt: skip


def _token(
    token: str | None, token_file: str | None, env: Mapping[str, str], bridge: Mapping[str, Any]
) -> Sourced:
    """The token and where it came from: flag > env > file, a token before a token file."""
    if token and token_file:
        raise ConfigError("give the token once: --token or --token-file, not both")
    for value, source, is_file in (
        (token, "flag --token", False),
        (token_file, "flag --token-file", True),
        (env.get("AI_CONNECT_TOKEN"), "env AI_CONNECT_TOKEN", False),
        (env.get("AI_CONNECT_TOKEN_FILE"), "env AI_CONNECT_TOKEN_FILE", True),
        (bridge.get("token"), "file bridge.token", False),
        (bridge.get("token_file"), "file bridge.token_file", True),
    ):
        if value is None or value == "":
            continue
        if is_file:
            return Sourced(read_token_file(str(value)), f"{source} {value}")
        return Sourced(value, source)
    return Sourced(None, "not set")


def explain_client(
    *,
    url: str | Sequence[str] | None = None,
    name: str | None = None,
    project: str | None = None,
    token: str | None = None,
    token_file: str | None = None,
    ca: str | None = None,
    fingerprint: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Sourced]:
    """What a client's settings resolve to, each with its source: flag > env > file >
    default. The ``url`` entry is already normalised; ``token`` is the token itself."""
    env = os.environ if env is None else env
    path, data = load_config(env)
    bridge, peer = _section(data, "bridge", path), _section(data, "peer", path)
    found = {
        "url": _pick(
            (
                (joined_urls(url), "flag --bridge"),
                (env.get("AI_CONNECT_BRIDGE"), "env AI_CONNECT_BRIDGE"),
                (bridge.get("url"), "file bridge.url"),
                (_url_list(bridge.get("urls"), path), "file bridge.urls"),
            ),
            None,
        )
    }
    if found["url"].value is None:
        host = str(bridge.get("host") or "127.0.0.1")
        port = _port(bridge.get("port", DEFAULT_PORT), f"bridge.port in {path}")
        parts = [k for k in ("host", "port") if bridge.get(k) is not None]
        source = "file " + " and ".join(f"bridge.{k}" for k in parts) if parts else "default"
        found["url"] = Sourced(_host_url(host, port), source)
    found["url"] = Sourced(normalise_url(str(found["url"].value)), found["url"].source)
    found["name"] = _pick(
        (
            (name, "flag --name"),
            (env.get("AI_CONNECT_PEER_NAME"), "env AI_CONNECT_PEER_NAME"),
            (peer.get("name"), "file peer.name"),
        ),
        socket.gethostname().split(".")[0] or "agent",
        "default (this machine's name)",
    )
    found["project"] = _pick(
        (
            (project, "flag --project"),
            (env.get("AI_CONNECT_PROJECT"), "env AI_CONNECT_PROJECT"),
            (peer.get("project"), "file peer.project"),
        ),
        None,
    )
    if found["project"].value is None:
        found["project"] = Sourced(
            detect_project(cwd or Path.cwd()), "default (git root, else folder, of the cwd)"
        )
    found["token"] = _token(token, token_file, env, bridge)
    if found["token"].source == "file bridge.token":
        _warn_if_readable(path)
    for key, flag, var in (
        ("ca", "--ca", "AI_CONNECT_CA"),
        ("fingerprint", "--fingerprint", "AI_CONNECT_FINGERPRINT"),
    ):
        given = {"ca": ca, "fingerprint": fingerprint}[key]
        found[key] = _pick(
            (
                (given, f"flag {flag}"),
                (env.get(var), f"env {var}"),
                (bridge.get(key), f"file bridge.{key}"),
            ),
            None,
            "not set",
        )
    return found


def client_settings(
    *,
    url: str | Sequence[str] | None = None,
    name: str | None = None,
    project: str | None = None,
    token: str | None = None,
    ca: str | None = None,
    fingerprint: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    token_file: str | None = None,
) -> ClientSettings:
    """Resolves what a client needs: flag > environment > config file > default."""
    found = explain_client(
        url=url,
        name=name,
        project=project,
        token=token,
        token_file=token_file,
        ca=ca,
        fingerprint=fingerprint,
        cwd=cwd,
        env=env,
    )
    token, ca, pin = (found[k].value for k in ("token", "ca", "fingerprint"))
    return ClientSettings(
        str(found["url"].value),
        str(found["name"].value).strip(),
        str(found["project"].value).strip(),
        str(token) if token else None,
        str(Path(str(ca)).expanduser()) if ca else None,
        str(pin) if pin else None,
    )


def bridge_settings(
    *,
    host: str | None = None,
    port: int | None = None,
    db: Path | str | None = None,
    presence_timeout_s: float | None = None,
    retention_days: float | None = None,
    synchronous: str | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    auth: bool = False,
    ui: bool = False,
    env: Mapping[str, str] | None = None,
) -> BridgeSettings:
    """Resolves the bridge process's settings: flag > environment > config > default."""
    env = os.environ if env is None else env
    path, data = load_config(env)
    server, bridge = _section(data, "server", path), _section(data, "bridge", path)
    host = host or env.get("AI_CONNECT_HOST") or str(server.get("host") or "127.0.0.1")
    if port is None:
        raw = env.get("AI_CONNECT_PORT") or server.get("port") or bridge.get("port")
        port = _port(raw if raw is not None else DEFAULT_PORT, "the bridge port")
    else:
        port = _port(port, "--port")
    raw_db = db or env.get("AI_CONNECT_DB") or server.get("db")
    where = f"server.db in {path}"
    where = "--db" if db else "AI_CONNECT_DB" if env.get("AI_CONNECT_DB") else where
    db_path, db_url = database(raw_db, where) if raw_db else (default_db_path(), None)
    # A flag is checked as the config's value is: 0 or less would prune every peer and
    # every read message at once (retention) or show everyone offline (presence).
    timeout = (
        _number(presence_timeout_s, "--presence-timeout")
        if presence_timeout_s is not None
        else _number(server.get("presence_timeout", 60), f"server.presence_timeout in {path}")
    )
    days = (
        _number(retention_days, "--retention-days")
        if retention_days is not None
        else _number(server.get("retention_days", 30), f"server.retention_days in {path}")
    )
    sync = str(synchronous or server.get("synchronous") or "FULL").upper()
    if sync not in ("FULL", "NORMAL"):
        raise ConfigError(f"synchronous must be FULL or NORMAL, not {sync!r}")
    cert = tls_cert or env.get("AI_CONNECT_TLS_CERT") or server.get("tls_cert")
    key = tls_key or env.get("AI_CONNECT_TLS_KEY") or server.get("tls_key")
    if bool(cert) != bool(key):
        raise ConfigError("TLS needs both a certificate and its key: --tls-cert and --tls-key")
    return BridgeSettings(
        host,
        port,
        db_path or default_db_path(),
        timeout,
        days * 86400.0,
        sync,
        Path(str(cert)).expanduser() if cert else None,
        Path(str(key)).expanduser() if key else None,
        auth or server.get("auth") is True,
        ui or server.get("ui") is True,
        db_url,
    )


def log_settings(env: Mapping[str, str] | None = None) -> LogSettings:
    """The rotation of the log files: the config file's ``logging:`` section, else defaults."""
    env = os.environ if env is None else env
    path, data = load_config(env)
    section = _section(data, "logging", path)
    default = LogSettings()
    megabytes = section.get("max_megabytes")
    max_bytes = default.max_bytes
    if megabytes is not None:
        max_bytes = int(_number(megabytes, f"logging.max_megabytes in {path}") * 1024 * 1024)
    count = section.get("backup_count", default.backup_count)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ConfigError(
            f"logging.backup_count in {path} must be a whole number 0 or more, not {count!r}"
        )
    return LogSettings(max_bytes, count)


def mcp_address(
    host: str | None = None, port: int | None = None, env: Mapping[str, str] | None = None
) -> tuple[str, int]:
    """Where ``ai-connect mcp --transport http`` listens: flag > the config file's ``mcp:``
    section (the original's ``mcp.host``, ``mcp.port``) > 127.0.0.1:9998."""
    path, data = load_config(env)
    section = _section(data, "mcp", path)
    host = host or str(section.get("host") or "127.0.0.1")
    if port is None:
        port = _port(section.get("port", DEFAULT_MCP_PORT), f"mcp.port in {path}")
    return host, port


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    on_conflict: str = "warn"
    """An edit of a file another agent leased: ``warn`` the model, or ``deny`` the edit."""


ON_CONFLICT = ("warn", "deny")


def lease_settings(env: Mapping[str, str] | None = None) -> LeaseSettings:
    """``AI_CONNECT_LEASES_ON_CONFLICT``, else the config file's ``leases.on_conflict``."""
    env = os.environ if env is None else env
    value = env.get("AI_CONNECT_LEASES_ON_CONFLICT")
    where = "AI_CONNECT_LEASES_ON_CONFLICT"
    if not value:
        path, data = load_config(env)
        value = _section(data, "leases", path).get("on_conflict", "warn")
        where = f"leases.on_conflict in {path}"
    text = str(value).strip().lower()
    if text not in ON_CONFLICT:
        raise ConfigError(f"{where} must be warn or deny, not {value!r}")
    return LeaseSettings(text)
