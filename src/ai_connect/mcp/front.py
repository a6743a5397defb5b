"""A quick front for ``ai-connect mcp`` over stdio: the handshake answered in milliseconds.

Agent clients send their first model request as soon as their MCP servers have answered
``initialize`` and ``tools/list``; Codex does not wait for a server that is slower than
that (0.171). Python with the MCP SDK and pydantic loaded takes a second or more to get
there, so this front, which imports nothing but the standard library, answers both from
a snapshot of what the full server answered before, while the full server loads in the
same process. It then hands the conversation over: the full server reads the client's
messages from a pipe on fd 0 (the handshake included, so its session state is the
client's), and writes to a pipe on fd 1 that the front copies to the real stdout, less
the two answers the client already has.

The snapshot (:func:`cache_path`) is learnt from the full server's
own answers: a start with no snapshot, or one made by other code (its key covers the
versions of ai-connect and of the MCP SDK and the files that shape the answers), answers
nothing early and records what the full server says. ``ai-connect setup`` makes one such
start, so the agent's first start is quick. ``AI_CONNECT_MCP_FRONT=off`` turns the front
off. Only handshake protocol versions the snapshot knows are answered early; any other
request goes to the full server untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["BY_HAND", "Front", "cache_path", "fingerprint", "main", "wants_front"]

BY_HAND = (
    "ai-connect mcp: this is an MCP server on stdin/stdout, for an agent client to start "
    "('ai-connect setup CLIENT' registers it there); Ctrl-C or Ctrl-D stops it.\n"
)
"""Said on stderr when stdin is a terminal: a person started it by hand."""

_SHAPING = ("server.py", "tools.py", "consensus.py", "models.py", "channel.py", "leases.py")
_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"


def cache_path() -> Path:
    """``~/.cache/ai-connect/mcp-front.json``: from the home folder alone, since clients
    strip their MCP servers' environment (XDG_CACHE_HOME among it)."""
    return Path.home() / ".cache" / "ai-connect" / "mcp-front.json"


def fingerprint(mode: str) -> str:
    """What the early answers depend on: ai-connect's and the SDK's versions, the files
    that shape them, and whether the channel capability is declared."""
    here = Path(__file__).parent
    parts = [mode]
    for name in _SHAPING:
        with contextlib.suppress(OSError):
            info = (here / name).stat()
            parts.append(f"{name}:{info.st_size}:{info.st_mtime_ns}")
    try:
        from importlib.metadata import version

        parts += [version("ai-connect"), version("mcp")]
    except Exception:
        return ""
    return "|".join(parts)


def wants_front(argv: list[str], env: dict[str, str] | os._Environ[str]) -> str | None:
    """The channel mode if ``argv`` (after the program) starts a stdio MCP server the
    front can serve; else ``None``."""
    if not argv or argv[0] != "mcp" or env.get("AI_CONNECT_MCP_FRONT", "").lower() == "off":
        return None
    if any(a in ("-h", "--help") for a in argv):
        return None
    mode, transport = "auto", "stdio"
    for i, arg in enumerate(argv):
        value = argv[i + 1] if i + 1 < len(argv) else ""
        if arg == "--transport" or arg.startswith("--transport="):
            transport = arg.split("=", 1)[1] if "=" in arg else value
        if arg == "--channel" or arg.startswith("--channel="):
            mode = arg.split("=", 1)[1] if "=" in arg else value
    return ("off" if mode == "off" else "declared") if transport == "stdio" else None


class Front:
    """Copies between the client and the full server; answers the handshake early."""

    def __init__(self, mode: str, real_in: int, real_out: int, to_server: int) -> None:
        self.key = fingerprint(mode)
        self.path = cache_path()
        self.real_in, self.real_out, self.to_server = real_in, real_out, to_server
        self.snapshot = self._load()
        self.answered: set[Any] = set()
        """Ids of requests the client has its answer to from us: the server's are dropped."""
        self.learning: dict[Any, str] = {}
        """Ids of handshake requests whose answers the server gives and we record."""
        self._learnt: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._looked = 0
        self._early_init = False
        self._learn_tools = False
        self._modern = False
        self._early_discover: str | None = None
        """The 2026 protocol version whose probe we answered early."""

    def _load(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and data.get("key") == self.key else None

    def _write_out(self, data: bytes) -> None:
        with self._lock:
            view = memoryview(data)
            while view:
                view = view[os.write(self.real_out, view) :]

    def _answer(self, rid: Any, result: Any) -> None:
        self.answered.add(rid)
        line = json.dumps({"jsonrpc": "2.0", "id": rid, "result": result}, separators=(",", ":"))
        self._write_out(line.encode() + b"\n")

    def _early(self, message: Any) -> None:
        """Answers ``initialize`` and ``tools/list`` from the snapshot, or notes their ids
        to learn the server's answers."""
        if not isinstance(message, dict) or "id" not in message:
            return
        method, rid = message.get("method"), message["id"]
        if method == "server/discover":
            # The 2026 protocol: no handshake, a probe instead. A client that gets no quick
            # answer falls back to initialize, which must then not be answered early: the
            # full server will have gone modern on the probe (Claude Code 2.1.33x).
            meta = (message.get("params") or {}).get("_meta") or {}
            version = meta.get(_VERSION_KEY) if isinstance(meta, dict) else None
            known = (self.snapshot or {}).get("discover") or {}
            if version in known and not self._early_init:
                self._answer(rid, known[version])
                self._early_discover = version
            elif self.key:
                self.learning[rid] = f"discover:{version}"
            self._modern = True  # no early initialize after this
            return
        if self._modern:
            self._early_modern_tools(message, method, rid)
            return
        if method == "initialize":
            params = message.get("params") or {}
            version = params.get("protocolVersion") if isinstance(params, dict) else None
            snap = self.snapshot
            if snap is not None and "initialize" in snap and version in snap["versions"]:
                self._answer(rid, {**snap["initialize"], "protocolVersion": version})
                self._early_init = True
            elif self.key:
                self.learning[rid] = f"initialize:{version}"
                self._learn_tools = True
        elif method == "tools/list" and not (message.get("params") or {}).get("cursor"):
            if self.snapshot is not None and self._early_init:
                self._answer(rid, self.snapshot["tools"])
            elif self._learn_tools:
                self.learning[rid] = "tools"

    def _early_modern_tools(self, message: dict[str, Any], method: Any, rid: Any) -> None:
        """The 2026 protocol's ``tools/list`` (its own shape: ``resultType``,
        ``cacheScope``) after an early probe answer of that version, else learnt: Claude
        Code 2.1.33x sends its first model request without the tools of a server whose
        list came late, and names them in no later one."""
        params = message.get("params") or {}
        if method != "tools/list" or not isinstance(params, dict) or params.get("cursor"):
            return
        meta = params.get("_meta") or {}
        version = meta.get(_VERSION_KEY) if isinstance(meta, dict) else None
        known = (self.snapshot or {}).get("modern_tools") or {}
        if version is not None and version == self._early_discover and version in known:
            self._answer(rid, known[version])
            return
        if self.key:
            self.learning[rid] = f"modern_tools:{version}"

    def client_to_server(self) -> None:
        """Runs in a thread: every client line goes to the server, the handshake also
        past :meth:`_early`; at the client's EOF the server's input ends too."""
        buffer = b""
        try:
            while chunk := os.read(self.real_in, 65536):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if self._looked < 8:  # the handshake comes first: look at it only
                        self._looked += 1
                        with contextlib.suppress(ValueError):
                            self._early(json.loads(line))
                    os.write(self.to_server, line + b"\n")
            if buffer:
                os.write(self.to_server, buffer)
        except OSError:
            pass  # the server is gone
        finally:
            with contextlib.suppress(OSError):
                os.close(self.to_server)

    def server_to_client(self, from_server: int) -> None:
        """Runs in a thread: the server's lines go to the client, less those we answered."""
        buffer = b""
        while chunk := os.read(from_server, 65536):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            out = []
            for line in lines:
                if (self.answered or self.learning) and self._consumed(line):
                    continue
                out.append(line + b"\n")
            if out:
                self._write_out(b"".join(out))
        if buffer:
            self._write_out(buffer)

    def _consumed(self, line: bytes) -> bool:
        """Drops the server's answer to a request we answered; records a learnt one."""
        if b'"id"' not in line:
            return False
        try:
            message = json.loads(line)
        except ValueError:
            return False
        if not isinstance(message, dict) or "result" not in message:
            return False
        rid = message.get("id")
        if rid in self.answered:
            self.answered.discard(rid)
            return True
        what = self.learning.pop(rid, None)
        if what is not None:
            self._learn(what, message["result"])
        return False

    def _learn(self, what: str, result: Any) -> None:
        kind, _, version = what.partition(":")
        if kind in ("discover", "modern_tools"):
            self._save({kind: {version: result}})
            return
        self._learnt[kind] = result
        if len(self._learnt) == 2 and isinstance(self._learnt["initialize"], dict):
            init = dict(self._learnt["initialize"])
            init.pop("protocolVersion", None)
            self._save({"initialize": init, "tools": self._learnt["tools"]})

    def _save(self, learnt: dict[str, Any]) -> None:
        """Merges ``learnt`` into the snapshot file (a new one if its key differs)."""
        from importlib import import_module

        try:
            versions = import_module("mcp.types.version").HANDSHAKE_PROTOCOL_VERSIONS
        except (ImportError, AttributeError):
            return
        data = self._load() or {"key": self.key}
        data["versions"] = list(versions)
        merged = {
            kind: {**(data.get(kind) or {}), **learnt.pop(kind, {})}
            for kind in ("discover", "modern_tools")
        }
        data.update(learnt)
        data.update(merged)
        with contextlib.suppress(OSError):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            tmp.write_text(json.dumps(data), encoding="utf-8")
            os.replace(tmp, self.path)


def main(mode: str, run_server: Callable[[], int]) -> int:
    """Serves stdio MCP through the front; ``run_server`` runs the full server (it reads
    fd 0 and writes fd 1, which are pipes to the front meanwhile)."""
    sys.stdout.flush()
    if os.isatty(0):
        sys.stderr.write(BY_HAND)
    real_in, real_out = os.dup(0), os.dup(1)
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.dup2(in_r, 0)
    os.dup2(out_w, 1)
    os.close(in_r)
    os.close(out_w)
    front = Front(mode, real_in, real_out, in_w)
    reader = threading.Thread(target=front.client_to_server, name="mcp-front-in", daemon=True)
    writer = threading.Thread(
        target=front.server_to_client, args=(out_r,), name="mcp-front-out", daemon=True
    )
    reader.start()
    writer.start()
    try:
        return run_server()
    finally:
        sys.stdout.flush()
        os.dup2(real_out, 1)  # closes our pipe's last writer: the copier drains and ends
        writer.join(10)


def warm(program: list[str], timeout: float = 30.0, probe: bool = True) -> int:
    """Starts ``PROGRAM mcp`` through a handshake, and (``probe``) once more through the
    2026 protocol's probe, so that the front has learnt its answers before an agent
    starts it (``ai-connect setup`` calls this). Returns the number of tools listed;
    raises OSError or TimeoutError (or ValueError for a bad answer) when the server
    cannot be started."""
    classic: list[dict[str, Any]] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "ai-connect-setup", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]  # fmt: skip
    meta = {
        _VERSION_KEY: "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "ai-connect-setup", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    discover = [
        {"jsonrpc": "2.0", "id": "probe", "method": "server/discover", "params": {"_meta": meta}},
        {"jsonrpc": "2.0", "id": "tools", "method": "tools/list", "params": {"_meta": meta}},
    ]
    answers = _talk(program, classic, timeout)
    if probe:
        _talk(program, discover, timeout)
    return len(answers[-1]["result"]["tools"])


def _talk(program: list[str], requests: list[dict[str, Any]], timeout: float) -> list[Any]:
    """One start of the server: each request written, each answer read, then stdin closed."""
    import subprocess

    # No bridge behind this start (a closed local port): it must not show up as a peer.
    env = {**os.environ, "AI_CONNECT_BRIDGE": "ws://127.0.0.1:1"}
    answers = []
    with subprocess.Popen(
        [*program, "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, cwd=Path.home(), env=env,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            for request in requests:
                proc.stdin.write((json.dumps(request) + "\n").encode())
                proc.stdin.flush()
                if "id" in request:
                    answers.append(_reply(proc.stdout, timeout))
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
    return answers


def _reply(stream: Any, timeout: float) -> dict[str, Any]:
    import selectors

    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise TimeoutError(f"no answer within {timeout:g} s")
    line = stream.readline()
    message = json.loads(line)
    if not isinstance(message, dict) or "result" not in message:
        raise ValueError(f"unexpected answer: {line[:200]!r}")
    return message
