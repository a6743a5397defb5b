"""Which bridge session a hook acts for: the agent's own MCP server, found by process tree.

An agent (Claude Code, Codex, Gemini CLI, Cursor) starts its stdio MCP server and its
hook commands as children of one process, the agent itself. The MCP server advertises
its bridge session in a small file under the runtime directory, keyed by its parent's
pid; a hook walks up its own ancestors and takes the advertisement of the nearest one.
So two sessions in one project on one machine each find their own MCP server, even
though both have the same name, project and working directory; and the hook can then
``attach`` to exactly the address that session holds (``Name#2 (Project)`` included)
without taking it over (docs/protocol.md §2.2).

The advertisement holds no secret beyond the session id, and lives in a directory only
its user can read (``/tmp/ai-connect-UID/agents``, mode 0700; files 0600).

Pure choice (:func:`choose`) plus thin I/O (:func:`advertise`, :func:`find`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path

__all__ = [
    "Advert",
    "advertise",
    "birth",
    "bridge_session",
    "choose",
    "command_line",
    "find",
    "lease_socket",
    "one_shot",
    "private_dir",
    "process_chain",
    "runtime_dir",
    "server_gone",
    "stdio_session",
]

_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class Advert:
    """One live MCP server's bridge session, as a hook needs it."""

    agent: int
    """The pid of the agent process that started the MCP server (its parent)."""
    pid: int
    """The MCP server's own pid (a dead one makes the advert stale)."""
    url: str
    name: str
    project: str
    session: str
    started: float
    stopped: float | None = None
    """When the server stopped (it marks its advert so, rather than deleting it): a hook
    started after that must know the session's server is gone (:func:`server_gone`).
    Such a mark is removed once its agent is gone too."""
    status: str | None = None
    """The Unix socket on which it takes its hooks' work-status observations
    (:mod:`ai_connect.work_status.link`); ``None``: publishing is off."""
    agent_birth: str | None = None
    """When the agent process started (:func:`birth`): a process that has its pid later
    (pids are reused, across a reboot too) is not that agent, and the advert is stale."""
    birth: str | None = None
    """When the MCP server process started, likewise."""

    def agent_alive(self) -> bool:
        return _alive(self.agent) and _born(self.agent, self.agent_birth, self.started)

    def server_alive(self) -> bool:
        return _alive(self.pid) and _born(self.pid, self.birth, self.started)


def runtime_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where hooks keep their locks and agents their adverts (``AI_CONNECT_RUNTIME_DIR``).

    Derived from the user id alone, never from ``XDG_RUNTIME_DIR`` or ``TMPDIR``: agent
    clients start MCP servers with a stripped environment (Codex keeps neither) and
    hooks with a full one, and both sides must find the same folder. On Linux that is
    ``/tmp/ai-connect-UID`` (0700, refused if another user owns it), not
    ``/run/user/UID``: that folder comes with a login and goes with the last logout, so
    an agent left running in tmux over ssh would lose its advert at logout, and one
    started before a login would advertise where its later hooks no longer look.
    Elsewhere platformdirs' per-user runtime folder (it warns on stderr, which a waiter
    must keep clean: its stderr is what the model reads, hence the filter).
    """
    env = os.environ if env is None else env
    override = env.get("AI_CONNECT_RUNTIME_DIR")
    if override:
        return Path(override).expanduser()
    if os.name == "posix" and sys.platform != "darwin":
        return Path("/tmp") / f"ai-connect-{os.getuid()}"
    import platformdirs  # here: the pre-edit hook's front (Linux) never needs it

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return platformdirs.user_runtime_path("ai-connect")


def private_dir(path: Path) -> Path:
    """``path``, created 0700; refused if someone else owns it (a shared /tmp)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid"):
        info = path.lstat()
        if info.st_uid != os.getuid() or stat.S_ISLNK(info.st_mode):
            from ai_connect.errors import ConfigError

            raise ConfigError(
                f"{path} belongs to another user or is a link; set AI_CONNECT_RUNTIME_DIR "
                "to a private folder"
            )
    return path


def bridge_session(agent_session_id: str) -> str:
    """A bridge ``session`` derived from an agent's own session id (same id, same result)."""
    return hashlib.sha256(f"ai-connect/agent/{agent_session_id}".encode()).hexdigest()[:32]


@contextlib.contextmanager
def advertise(
    url: str,
    name: str,
    project: str,
    session: str,
    *,
    env: Mapping[str, str] | None = None,
    agent: int | None = None,
    status: Path | None = None,
) -> Iterator[Path]:
    """Advertises this process's bridge session to the hooks of its agent while open."""
    agent = os.getppid() if agent is None else agent
    folder = private_dir(runtime_dir(env)) / "agents"
    private_dir(folder)
    path = folder / f"{agent}-{os.getpid()}{_SUFFIX}"
    advert = Advert(
        agent, os.getpid(), url, name, project, session, time.time(),
        agent_birth=birth(agent), birth=birth(os.getpid()),
    )  # fmt: skip
    if status is not None:
        advert = replace(advert, status=str(status))
    _write(path, advert)
    try:
        yield path
    finally:
        # Marked stopped, not deleted: Claude Code stops its MCP servers before it runs
        # (and waits for) its last hooks, which must see that the server is gone.
        with contextlib.suppress(OSError):
            _write(path, replace(advert, stopped=time.time()))


def _write(path: Path, advert: Advert) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(asdict(advert), f)
    os.replace(tmp, path)


@contextlib.contextmanager
def stdio_session(
    url: str,
    name: str,
    project: str,
    *,
    env: Mapping[str, str] | None = None,
    status: Path | None = None,
) -> Iterator[str]:
    """A fresh bridge session id for a stdio MCP server, advertised to its agent's hooks.

    ``ai-connect mcp`` (stdio) gives its BridgeClient this ``session`` while the block
    runs, so the agent's hooks can attach to exactly its address (docs/hooks.md);
    ``status``: the socket of its work-status link, named in the advert.
    """
    session = secrets.token_hex(16)
    with advertise(url, name, project, session, env=env, status=status):
        yield session


def lease_socket(agent: int, env: Mapping[str, str] | None = None) -> Path:
    """Where the MCP server started by agent process ``agent`` answers that agent's
    pre-edit hooks (:mod:`ai_connect.leases.link`): a Unix socket in the runtime folder,
    named by the agent's pid alone, so a hook finds it by walking its own ancestors
    (:mod:`ai_connect.leases.front` repeats this rule without importing this module)."""
    return runtime_dir(env) / "leases" / f"{agent}.l"


def choose(chain: Iterable[int], adverts: Iterable[Advert]) -> Advert | None:
    """The advert of the nearest ancestor in ``chain`` (newest wins among siblings)."""
    by_agent: dict[int, Advert] = {}
    for advert in adverts:
        known = by_agent.get(advert.agent)
        if known is None or advert.started > known.started:
            by_agent[advert.agent] = advert
    for pid in chain:
        if pid in by_agent:
            return by_agent[pid]
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: not ours to use anyway
        return False
    return True


_BOOT: list[str] = []


def birth(pid: int) -> str | None:
    """When process ``pid`` started, as a token unique to it on this machine: the boot's
    id and the start time in clock ticks (Linux, ``/proc``); ``None`` elsewhere or when
    there is no such process."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) <= 19:
        return None
    if not _BOOT:
        try:
            _BOOT.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        except OSError:
            return None
    return f"{_BOOT[0]}:{fields[19]}"


def _born(pid: int, token: str | None, advertised: float) -> bool:
    """Whether ``pid`` is still the process born at ``token``; for an advert of an older
    release (no token), whether it ran already when the advert was written (wall clock,
    a second's leeway); unknown (no ``/proc``): assume so."""
    if token is not None:
        return birth(pid) == token
    since = _started_at(pid)
    return since is None or since <= advertised + 1.0


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started, wall clock (Linux: boot time + its start ticks)."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) <= 19 or not fields[19].isdigit():
        return None
    try:
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(float(row.split()[1]) for row in f if row.startswith("btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return None
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or ``None``."""
    try:
        line = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return line.rsplit(")", 1)[-1].split()  # the name may hold spaces and parentheses


def _read(path: Path) -> Advert | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Advert(**data)
    except (OSError, ValueError, TypeError):
        return None  # half-written by a crash, or from another version: ignore it


def find(
    chain: Iterable[int], *, env: Mapping[str, str] | None = None, project: str | None = None
) -> Advert | None:
    """The live advert of the nearest ancestor, if any (stale adverts are removed)."""
    folder = runtime_dir(env) / "agents"
    adverts = []
    chain = list(chain)
    wanted = set(chain)
    for path in folder.glob(f"*{_SUFFIX}"):
        agent = path.name.split("-", 1)[0]
        if not agent.isdigit():
            continue
        advert = _read(path)
        if advert is not None and not advert.agent_alive():
            # Its agent is gone: whoever has that pid now must not take this advert.
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if advert is None or int(agent) not in wanted:
            continue
        if advert.stopped is not None or not advert.server_alive():
            # A stopped server's mark stays while its agent lives (server_gone reads it).
            if advert.stopped is None:
                with contextlib.suppress(OSError):
                    path.unlink()
            continue
        if project is None or advert.project == project:
            adverts.append(advert)
    return choose(chain, adverts)


def server_gone(chain: Iterable[int], *, env: Mapping[str, str] | None = None) -> bool:
    """Whether the nearest ancestor that started an MCP server has stopped it.

    Its newest advert is marked stopped, or names a dead process (read before
    :func:`find` removes such adverts). Claude Code stops its stdio MCP servers (SIGTERM)
    when a session ends, also when a stream-json input just ends and it then waits for
    its background hooks; the server marks its advert stopped (a killed one leaves it
    unmarked, naming a dead pid). A waiter started then must not wait (2.1.197).
    """
    chain = list(chain)
    wanted = set(chain)
    adverts = []
    for path in (runtime_dir(env) / "agents").glob(f"*{_SUFFIX}"):
        agent = path.name.split("-", 1)[0]
        if not agent.isdigit() or int(agent) not in wanted:
            continue
        advert = _read(path)
        if advert is not None and advert.agent_alive():  # not one of a dead agent whose
            adverts.append(advert)  # pid an ancestor of ours has now
    nearest = choose(chain, adverts)
    return nearest is not None and (nearest.stopped is not None or not nearest.server_alive())


def command_line(pid: int) -> list[str]:
    """The arguments process ``pid`` was started with ([] if it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["ps", "-o", "args=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return out.split()


def one_shot(argv: list[str]) -> bool:
    """A ``claude -p`` run that ends after its answer (no stream-json input to go on), or
    a ``codex exec`` run.

    Such a run waits for a background Stop hook before it exits but never starts another
    turn for it: a waiter there would only hold the run open (Claude Code 2.1.197), or
    hand mail to a session that is gone (Codex 0.171). Only the agents' own command lines
    count (``claude …``, or node running its ``claude-code`` script; ``codex`` or its
    ``codex.js``): other programs use ``-p`` and ``exec`` for other things.
    """
    if any(Path(a).name in ("codex", "codex.exe", "codex.js") for a in argv[:2]):
        return _codex_command(argv) in ("exec", "e")
    claude = any(Path(a).name in ("claude", "claude.exe") or "claude-code" in a for a in argv[:2])
    printing = claude and any(a in ("-p", "--print") for a in argv)
    streaming = "stream-json" in argv or "--input-format=stream-json" in argv
    return printing and not streaming


_CODEX_VALUED = frozenset(
    ("-c", "--config", "-m", "--model", "-p", "--profile", "-C", "--cd", "-s", "--sandbox",
     "-i", "--image", "--enable", "--disable", "--local-provider", "--remote",
     "--remote-auth-token-env", "-a", "--ask-for-approval")
)  # fmt: skip


def _codex_command(argv: list[str]) -> str | None:
    """The subcommand of a ``codex`` command line (``None``: the interactive TUI)."""
    args = argv[2:] if Path(argv[1] if len(argv) > 1 else "").name == "codex.js" else argv[1:]
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in _CODEX_VALUED:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def _parent_linux(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[1]) if fields and len(fields) > 1 and fields[1].isdigit() else None


def _parents_ps() -> dict[int, int]:
    try:
        out = subprocess.run(
            ["ps", "-A", "-o", "pid=,ppid="], capture_output=True, text=True, timeout=5
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    parents = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            parents[int(parts[0])] = int(parts[1])
    return parents


def process_chain(pid: int | None = None, limit: int = 32) -> list[int]:
    """``pid`` (default: this process) and its ancestors, nearest first, init excluded."""
    pid = os.getpid() if pid is None else pid
    table: dict[int, int] | None = None if Path("/proc/self/stat").exists() else _parents_ps()
    chain: list[int] = []
    while pid > 1 and len(chain) < limit and pid not in chain:
        chain.append(pid)
        parent = _parent_linux(pid) if table is None else table.get(pid)
        if parent is None:
            break
        pid = parent
    return chain
