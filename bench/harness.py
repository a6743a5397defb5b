"""The bridge under test as a separate process, and what we read from it.

``BridgeProcess`` runs ``python -m ai_connect bridge --port 0`` on 127.0.0.1 with a fresh
database, takes the URL from its "listening on" line on stderr, reads its RSS and CPU time
from /proc, optionally records it with py-spy, and stops it with SIGTERM (SIGKILL after a
timeout). Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BridgeOptions",
    "BridgeProcess",
    "CpuMeter",
    "CpuUse",
    "OtherLoad",
    "process_cpu_s",
    "raise_nofile",
    "run_queue_wait_s",
]

_LISTENING = re.compile(r"listening on (ws://\S+)")
_TICK = os.sysconf("SC_CLK_TCK")
_INHERITED_NOFILE = resource.getrlimit(resource.RLIMIT_NOFILE)
"""The open-file limits this process started with: the bridge gets these, not ours."""


def _inherited_limits() -> None:
    """Runs in the bridge's child process before exec: the shell's limits, not ours.

    ``raise_nofile`` lifts the load generator's soft limit; without this the bridge would
    inherit it and we could not see whether the bridge lifts its own.
    """
    resource.setrlimit(resource.RLIMIT_NOFILE, _INHERITED_NOFILE)


def raise_nofile() -> int:
    """Raises this process's soft limit on open files to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@dataclass(frozen=True, slots=True)
class BridgeOptions:
    store: str = "sqlite"
    """``sqlite`` or ``memory``."""
    synchronous: str = "FULL"
    presence_timeout_s: float = 600.0
    """Idle peers must stay registered during the register benchmark."""
    profile_dir: Path | None = None
    """Record the bridge with py-spy into this directory."""
    rate_limits: bool = False
    """Keep the bridge's default rate limits (docs/protocol.md §5.1). Off for the capacity
    benchmarks, which drive one connection far beyond them on purpose; on for flood_bench."""
    extra_args: tuple[str, ...] = ()
    """More ``ai-connect bridge`` arguments (flood_bench: its limits)."""
    target: str = "bridge"
    """What runs under load: ``bridge``, or a reference relay (bench/relays.py):
    ``websockets-relay`` or ``picows-relay``."""
    env: tuple[tuple[str, str], ...] = ()
    """More environment for the server process: a variant of the bridge, e.g. other code
    (``PYTHONPATH=/tmp/before/src``), for before/after runs (``compare.py --variant``)."""
    db_url: str | None = None
    """A PostgreSQL database (bench/pg_bench.py) instead of a fresh SQLite file."""

    def describe(self) -> str:
        if self.target != "bridge":
            return self.target
        if self.db_url is not None:
            return f"postgres, synchronous={self.synchronous}"
        return "memory" if self.store == "memory" else f"sqlite, synchronous={self.synchronous}"

    def command(self, db: str) -> list[str]:
        """The server's command line (``db``: the fresh database's path)."""
        if self.target != "bridge":
            relay = os.path.join(os.path.dirname(os.path.abspath(__file__)), "relays.py")
            impl = self.target.removesuffix("-relay")
            return [sys.executable, relay, "--impl", impl, "--host", "127.0.0.1", "--port", "0"]
        args = [
            sys.executable,
            "-m",
            "ai_connect",
            "bridge",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--presence-timeout",
            str(self.presence_timeout_s),
            "--log-level",
            "warning",
        ]
        if not self.rate_limits:
            args += ["--rate", "0", "--token-rate", "0"]
        args += self.extra_args
        if self.store == "memory":
            args.append("--memory")
        else:
            args += ["--db", self.db_url or db, "--synchronous", self.synchronous]
        return args


def _profile_paths(directory: Path, label: str) -> tuple[str, Path]:
    """py-spy's executable and the recording's file (the directory is created)."""
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        raise RuntimeError("--profile needs py-spy: .venv/bin/pip install py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    return spy, directory / f"{label}.txt"


class BridgeProcess:
    """``async with BridgeProcess(options, label) as bridge:`` then ``bridge.url``."""

    def __init__(self, options: BridgeOptions, label: str) -> None:
        self.options = options
        self.label = label
        self.url = ""
        self.proc: asyncio.subprocess.Process | None = None
        self.stderr: deque[str] = deque(maxlen=50)
        self.profile_file: Path | None = None
        self._spy: asyncio.subprocess.Process | None = None
        self._tmp = tempfile.mkdtemp(prefix="ai-connect-bench-")
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> BridgeProcess:
        args = self.options.command(os.path.join(self._tmp, "bridge.db"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **dict(self.options.env)}
        self.proc = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            preexec_fn=_inherited_limits,
        )
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read_stderr(ready))
        try:
            self.url = await asyncio.wait_for(ready, 30)
        except BaseException:
            await self.stop()
            raise
        if self.options.profile_dir is not None:
            await self._start_profiler(self.options.profile_dir)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _read_stderr(self, ready: asyncio.Future[str]) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.stderr.append(text)
            match = _LISTENING.search(text)
            if match and not ready.done():
                ready.set_result(match.group(1))
        if not ready.done():
            ready.set_exception(RuntimeError("bridge exited:\n" + "\n".join(self.stderr)))

    async def _start_profiler(self, directory: Path) -> None:
        spy, self.profile_file = _profile_paths(directory, self.label)
        self._spy = await asyncio.create_subprocess_exec(
            spy,
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            "250",
            "--format",
            "raw",
            "--nonblocking",
            "--output",
            str(self.profile_file),
            # e.g. "--gil": sample only the thread holding the GIL (what serialises us)
            *os.environ.get("BENCH_PYSPY_ARGS", "").split(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM (graceful), SIGKILL after ``timeout``; then the profiler ends by itself."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                await asyncio.wait_for(self._reader, 5)
        if self._spy is not None:
            try:
                await asyncio.wait_for(self._spy.wait(), 30)
            except TimeoutError:
                self._spy.kill()
                await self._spy.wait()
            self._spy = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    # --- /proc ------------------------------------------------------------------------

    def status_kb(self, field: str) -> int:
        """A ``kB`` field of /proc/PID/status, e.g. ``VmRSS`` or ``VmHWM``."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise KeyError(field)

    def rss_kb(self) -> int:
        return self.status_kb("VmRSS")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the bridge process, all threads, and of its
        store process (SQLite's writer, issue 13 item 5) if it has one."""
        return _stat_cpu_s(f"/proc/{self.pid}/stat") + self.child_cpu_s()

    def child_pids(self) -> list[int]:
        """The bridge's live child processes (its store process, if any)."""
        pids: list[int] = []
        for task in os.listdir(f"/proc/{self.pid}/task"):
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{self.pid}/task/{task}/children", encoding="ascii") as f,
            ):
                pids += [int(p) for p in f.read().split()]
        return pids

    def child_cpu_s(self) -> float:
        """User + system CPU seconds of the bridge's live child processes."""
        total = 0.0
        for pid in self.child_pids():
            with contextlib.suppress(OSError):  # it ended meanwhile
                total += _stat_cpu_s(f"/proc/{pid}/stat")
        return total

    def loop_cpu_s(self) -> float:
        """User + system CPU seconds of the bridge's main thread (its event loop)."""
        return _stat_cpu_s(f"/proc/{self.pid}/task/{self.pid}/stat")

    def store_cpu_s(self) -> float:
        """User + system CPU seconds of the bridge's other threads: its store worker.

        (Python 3.11 does not name threads for the OS, so they are told apart by id: the
        main thread runs the event loop, the store's executor is the only busy other.)
        """
        return _stat_cpu_s(f"/proc/{self.pid}/stat") - self.loop_cpu_s()

    def nofile_limit(self) -> int:
        with open(f"/proc/{self.pid}/limits", encoding="ascii") as f:
            for line in f:
                if line.startswith("Max open files"):
                    return int(line.split()[3])
        raise KeyError("Max open files")


def _stat_cpu_s(path: str) -> float:
    """utime + stime of a /proc ``stat`` file, in seconds."""
    with open(path, encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid``, all its threads."""
    return _stat_cpu_s(f"/proc/{pid}/stat")


def run_queue_wait_s(pid: int) -> float:
    """Seconds the threads of ``pid`` were runnable but waiting for a CPU (schedstat).

    On a machine shared with other jobs this says how much of a run was lost to them.
    Threads that ended before the call are not counted.
    """
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        path = f"/proc/{pid}/task/{task}/schedstat"
        with contextlib.suppress(OSError), open(path, encoding="ascii") as f:  # thread ended
            total += int(f.read().split()[1])
    return total / 1e9


@dataclass(frozen=True, slots=True)
class CpuUse:
    wall: float
    bridge: float
    """CPU seconds of the bridge process, all threads."""
    bridge_loop: float
    """CPU seconds of the bridge's main thread, which runs the event loop."""
    bridge_store: float
    """CPU seconds of the bridge's other threads (its store worker)."""
    bridge_child: float
    """CPU seconds of the bridge's store process (SQLite's writer, when it has one)."""
    generator: float
    bridge_waiting: float
    """Seconds the bridge's threads were runnable but had no CPU."""


class CpuMeter:
    """CPU used by the bridge and by this load generator over a span of wall time."""

    def __init__(self, bridge: BridgeProcess) -> None:
        self.bridge = bridge
        self.wall = time.perf_counter()
        self.bridge_cpu = bridge.cpu_s()
        self.loop_cpu = bridge.loop_cpu_s()
        self.store_cpu = bridge.store_cpu_s()
        self.child_cpu = bridge.child_cpu_s()
        self.bridge_wait = self._waiting()
        times = os.times()
        self.self_cpu = times.user + times.system

    def used(self) -> CpuUse:
        """What was used since construction."""
        wall = max(1e-9, time.perf_counter() - self.wall)
        times = os.times()
        return CpuUse(
            wall=wall,
            bridge=self.bridge.cpu_s() - self.bridge_cpu,
            bridge_loop=self.bridge.loop_cpu_s() - self.loop_cpu,
            bridge_store=self.bridge.store_cpu_s() - self.store_cpu,
            bridge_child=self.bridge.child_cpu_s() - self.child_cpu,
            generator=times.user + times.system - self.self_cpu,
            bridge_waiting=self._waiting() - self.bridge_wait,
        )

    def _waiting(self) -> float:
        total = run_queue_wait_s(self.bridge.pid)
        for pid in self.bridge.child_pids():
            with contextlib.suppress(OSError):
                total += run_queue_wait_s(pid)
        return total


class OtherLoad:
    """The CPU that other processes on the machine used over a span (from /proc).

    The total is the machine's busy time (/proc/stat) less this process's and its
    children's (the servers under test, stopped and waited for by then). The processes
    named are those alive at the end of the span (others ended before it).
    """

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.start = self._snapshot()
        self.busy = self._machine_busy_s()
        self.mine = self._own_s()

    @staticmethod
    def _machine_busy_s() -> float:
        """CPU seconds all cores spent busy since boot (/proc/stat: all but idle, iowait)."""
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
        return (sum(ticks) - ticks[3] - ticks[4]) / _TICK

    @staticmethod
    def _own_s() -> float:
        """CPU seconds of this process and its waited-for children (the servers)."""
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    @staticmethod
    def _snapshot() -> dict[int, tuple[float, int, str]]:
        """pid -> (CPU seconds, parent pid, command line)."""
        found = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as f:
                    comm, _, rest = f.read().partition(" (")[2].rpartition(")")
                    fields = rest.split()
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                cmd = cmd or f"[{comm}]"
                cpu = (int(fields[11]) + int(fields[12])) / _TICK
                found[int(name)] = (cpu, int(fields[1]), cmd[:120])
        return found

    def summary(self, top: int = 4) -> str:
        """Cores used on average by others over the span, and the busiest of them."""
        wall = max(1e-9, time.perf_counter() - self.wall)
        end = self._snapshot()
        me = os.getpid()
        used = []
        for pid, (cpu, parent, cmd) in end.items():
            if pid == me or parent == me:
                continue
            delta = cpu - self.start[pid][0] if pid in self.start else cpu  # started since
            if delta > 0:
                used.append((delta, cmd or f"pid {pid}"))
        used.sort(reverse=True)
        others = (self._machine_busy_s() - self.busy) - (self._own_s() - self.mine)
        busiest = "; ".join(f"{d / wall:.2f}: {cmd}" for d, cmd in used[:top])
        return (
            f"other processes used {max(0.0, others) / wall:.2f} cores on average "
            f"(machine busy time less ours and our servers'); of those alive at the end, "
            f"the busiest (cores): {busiest}"
        )
