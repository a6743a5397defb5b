"""Talking to systemd: ``systemctl`` and ``journalctl``, run through one injectable runner.

:class:`Systemd` builds each command for the scope (``--user`` or the system manager),
runs it, and turns a refusal into a :class:`~ai_connect.errors.ServiceError` that says
what to do. Tests give it a recording runner; nothing else here starts a process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ai_connect.errors import ServiceError

__all__ = ["Completed", "Runner", "Systemd", "run_captured"]


@dataclass(frozen=True, slots=True)
class Completed:
    code: int
    out: str = ""
    err: str = ""


Runner = Callable[[Sequence[str]], Completed]

_NO_USER_MANAGER = (
    "there is no systemd user manager for this login: log in to a full session (over "
    "ssh, 'loginctl enable-linger $USER' first), or install a system service with --system"
)


def run_captured(argv: Sequence[str]) -> Completed:
    """Runs ``argv``, capturing its output; a missing program is exit code 127."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return Completed(127, "", f"{argv[0]}: command not found")
    return Completed(done.returncode, done.stdout, done.stderr)


class Systemd:
    """One scope's systemd: ``systemctl [--user] …`` and ``journalctl [--user] …``."""

    def __init__(self, system: bool, run: Runner = run_captured) -> None:
        self.system = system
        self._run = run

    def systemctl(self, *args: str) -> list[str]:
        return ["systemctl", *(() if self.system else ("--user",)), *args]

    def journalctl(self, units: Sequence[str], *, follow: bool, lines: int) -> list[str]:
        argv = ["journalctl", *(() if self.system else ("--user",))]
        for unit in units:
            argv += ["-u", unit]
        argv += ["-n", str(lines), "--no-pager"]
        return argv + (["-f"] if follow else [])

    def call(self, argv: Sequence[str]) -> Completed:
        """Runs ``argv``; a failure raises ServiceError with systemd's words and a fix."""
        done = self._run(argv)
        if done.code == 0:
            return done
        said = (done.err or done.out).strip() or f"exit code {done.code}"
        command = " ".join(argv)
        if done.code == 127:
            raise ServiceError(
                f"{command}: {said}; 'ai-connect service' needs systemd (Linux). "
                "'--root DIR' writes the files without it"
            )
        if "Failed to connect to bus" in said or "No medium found" in said:
            raise ServiceError(f"{command}: {said}; {_NO_USER_MANAGER}")
        raise ServiceError(
            f"{command} failed: {said}; see 'ai-connect service status' and "
            "'ai-connect service logs'"
        )

    def show(self, unit: str) -> dict[str, str] | None:
        """The unit's state as systemd sees it, or ``None`` when systemd cannot tell."""
        props = "ActiveState,SubState,UnitFileState,MainPID,NRestarts,ExecMainStartTimestamp"
        done = self._run(self.systemctl("show", unit, f"--property={props}"))
        if done.code != 0:
            return None
        found = {}
        for line in done.out.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                found[key] = value
        return found
