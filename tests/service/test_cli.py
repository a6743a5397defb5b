"""``ai-connect service`` as a user runs it: files generated into a folder (``--root``) and
checked, with systemd's own ``systemd-analyze verify``, and the systemctl/journalctl
commands it runs (recorded by stand-ins on PATH, since no systemd runs in a test)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_connect import cli
from tests.support.bridge import ThreadedBridge


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    """A port on 127.0.0.1 that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def snapshot(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every folder and file under ``root``: bytes (None for a folder) and mode."""
    found: dict[str, tuple[bytes | None, int]] = {}
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        data = None if path.is_dir() else path.read_bytes()
        found[str(path.relative_to(root))] = (data, mode)
    return found


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch home with its XDG folders; the tests' --root is beside it."""
    home = tmp_path / "home"
    for var, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AI_CONNECT_SERVICE_ROOT", raising=False)
    return home


@pytest.fixture
def root(tmp_path: Path, home: Path) -> Path:
    """An empty system root with /etc and the user's config folder, as a real one has."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / str(home / ".config").lstrip("/")).mkdir(parents=True)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def user_unit(root: Path, home: Path, kind: str) -> Path:
    return root / str(home).lstrip("/") / ".config/systemd/user" / f"ai-connect-{kind}.service"


def system_unit(root: Path, kind: str) -> Path:
    return root / "etc/systemd/system" / f"ai-connect-{kind}.service"


@pytest.mark.parametrize("scope", ["--user", "--system"])
def test_install_is_idempotent_and_uninstall_restores_the_tree(
    root: Path, home: Path, scope: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Install writes the units and env files, a second install changes no byte, uninstall
    leaves the folder exactly as before."""
    before = snapshot(root)
    for kind in ("bridge", "mcp"):
        code, out, _ = run(capsys, "service", "install", kind, scope, "--root", str(root))
        assert code == 0, out
        assert "created" in out and "not run   systemctl" in out
    unit = system_unit(root, "bridge") if scope == "--system" else user_unit(root, home, "bridge")
    assert unit.is_file()
    env_file = next(root.rglob("bridge.env"))
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600  # it may hold a token
    installed = snapshot(root)
    code, out, _ = run(capsys, "service", "install", "bridge", scope, "--root", str(root))
    assert code == 0 and "created" not in out and out.count("unchanged") >= 2
    assert snapshot(root) == installed
    code, out, _ = run(capsys, "service", "uninstall", scope, "--root", str(root))
    assert code == 0, out
    assert "removed" in out and "Kept:" in out
    assert snapshot(root) == before


def test_a_unit_that_was_there_before_comes_back_byte_for_byte(
    root: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Someone else's unit is backed up by install and put back (bytes, mode) by uninstall."""
    unit = user_unit(root, home, "bridge")
    unit.parent.mkdir(parents=True)
    unit.write_bytes(b"[Service]\nExecStart=/usr/bin/old-bridge\n")
    unit.chmod(0o640)
    before = snapshot(root)
    code, out, _ = run(capsys, "service", "install", "bridge", "--root", str(root))
    assert code == 0 and "replaced" in out and "backup:" in out
    assert "ai-connect" in unit.read_text()
    code, out, _ = run(capsys, "service", "uninstall", "bridge", "--root", str(root))
    assert code == 0 and "restored" in out
    assert snapshot(root) == before


def test_an_edited_environment_file_is_never_overwritten_nor_deleted(
    root: Path, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The env file is the operator's: reinstall keeps it, uninstall keeps it and says so."""
    run(capsys, "service", "install", "mcp", "--root", str(root))
    env_file = next(root.rglob("mcp.env"))
    edited = env_file.read_text() + "AI_CONNECT_PEER_NAME=mini\n"
    env_file.write_text(edited)
    code, out, _ = run(
        capsys, "service", "install", "mcp", "--root", str(root), "--", "--port", "1"
    )
    assert code == 0 and "kept" in out and env_file.read_text() == edited
    code, out, _ = run(capsys, "service", "uninstall", "--root", str(root))
    assert code == 0 and "you changed it" in out
    assert env_file.read_text() == edited
    assert not user_unit(root, home, "mcp").exists()


def test_dry_run_writes_nothing_and_shows_the_unit(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints the unit it would write and writes nothing."""
    before = snapshot(root)
    code, out, _ = run(
        capsys, "service", "install", "bridge", "--system", "--dry-run", "--root", str(root)
    )
    assert code == 0
    assert "would read:" in out and "ProtectSystem=strict" in out
    assert snapshot(root) == before


def test_options_for_the_service_are_checked_before_anything_is_written(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo after -- fails as the command would, naming it; nothing is written."""
    before = snapshot(root)
    code, _, err = run(
        capsys, "service", "install", "mcp", "--root", str(root), "--", "--nmae", "x"
    )
    assert code == 1
    assert "ConfigError" in err and "--nmae" in err and "ai-connect mcp --help" in err
    assert snapshot(root) == before


def test_a_system_install_needs_root(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--system as another user than root says to use sudo (or --dry-run) and writes nothing."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = run(capsys, "service", "install", "bridge", "--system")
    assert code == 1 and "run it as root" in err and "--dry-run" in err


def test_unknown_services_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """Only bridge and mcp are services."""
    code, _, err = run(capsys, "service", "install", "watch", "--dry-run")
    assert code == 2 and "bridge or mcp" in err


# --- systemd's own checks -------------------------------------------------------------


def systemd_analyze() -> str:
    """systemd-analyze (Debian's systemd; scripts/test.sh installs it); fail in CI."""
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true"):
            pytest.fail("systemd-analyze is missing: apt-get install systemd (scripts/test.sh)")
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return found


@pytest.mark.parametrize("kind", ["bridge", "mcp"])
@pytest.mark.parametrize("scope", ["--user", "--system"])
def test_systemd_analyze_verifies_the_units(
    root: Path,
    home: Path,
    tmp_path: Path,
    kind: str,
    scope: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """systemd-analyze verify accepts each unit without a warning (keys, values, ExecStart)."""
    tool = systemd_analyze()
    run(
        capsys, "service", "install", kind, scope, "--root", str(root), "--", "--log-level", "debug"
    )
    unit = system_unit(root, kind) if scope == "--system" else user_unit(root, home, kind)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    argv = [tool, "verify", str(unit)]
    if scope == "--user":
        argv.insert(1, "--user")
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_COLOR": "0"}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_the_system_unit_is_sandboxed(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """systemd-analyze security rates the system bridge unit's exposure 2.0 or lower ("OK")."""
    tool = systemd_analyze()
    run(capsys, "service", "install", "bridge", "--system", "--root", str(root))
    done = subprocess.run(
        [tool, "security", "--offline=yes", "--no-pager", str(system_unit(root, "bridge"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    line = next(x for x in done.stdout.splitlines() if "Overall exposure level" in x)
    exposure = float(line.split(":")[1].split()[0])
    assert exposure <= 2.0, done.stdout


# --- the commands it runs (stand-ins for systemctl and journalctl) -------------------

FAKE = """#!/bin/sh
echo "$(basename "$0") $*" >> "$FAKE_SYSTEMD_LOG"
if [ -n "$FAKE_SYSTEMD_FAIL" ]; then echo "$FAKE_SYSTEMD_FAIL" >&2; exit 1; fi
case "$*" in *show*) printf '%s\\n' "$FAKE_SYSTEMD_SHOW" ;; esac
"""


@pytest.fixture
def systemd_log(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """systemctl, journalctl and systemd-sysusers stand-ins that record their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("systemctl", "journalctl", "systemd-sysusers"):
        (bin_dir / name).write_text(FAKE)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "systemd.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SYSTEMD_LOG", str(log))
    monkeypatch.delenv("FAKE_SYSTEMD_FAIL", raising=False)
    return log


def calls(log: Path) -> list[str]:
    lines = log.read_text().splitlines()
    log.write_text("")
    return lines


def test_install_reloads_enables_and_restarts_only_what_changed(
    home: Path, systemd_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """First install: daemon-reload, enable --now. Unchanged: enable --now only. Changed
    options: daemon-reload, enable --now, try-restart. Uninstall: disable --now, reload."""
    unit = "ai-connect-bridge.service"
    assert run(capsys, "service", "install", "bridge")[0] == 0
    assert calls(systemd_log) == [
        "systemctl --user daemon-reload",
        f"systemctl --user enable --now {unit}",
    ]
    assert (home / ".config/systemd/user" / unit).is_file()
    run(capsys, "service", "install", "bridge")
    assert calls(systemd_log) == [f"systemctl --user enable --now {unit}"]
    code, out, _ = run(capsys, "service", "install", "bridge", "--", "--port", "9990")
    assert code == 0 and f"ran       systemctl --user try-restart {unit}" in out
    assert calls(systemd_log) == [
        "systemctl --user daemon-reload",
        f"systemctl --user enable --now {unit}",
        f"systemctl --user try-restart {unit}",
    ]
    assert run(capsys, "service", "uninstall")[0] == 0
    assert calls(systemd_log) == [
        f"systemctl --user disable --now {unit}",
        "systemctl --user daemon-reload",
    ]
    assert not (home / ".config/systemd/user" / unit).exists()


def test_without_a_user_manager_the_error_says_what_to_do(
    home: Path,
    systemd_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """systemctl's "Failed to connect to bus" becomes a ServiceError naming linger and --system."""
    monkeypatch.setenv("FAKE_SYSTEMD_FAIL", "Failed to connect to bus: No medium found")
    code, _, err = run(capsys, "service", "install", "mcp")
    assert code == 1
    assert err.startswith("ServiceError: systemctl --user daemon-reload: Failed to connect")
    assert "loginctl enable-linger" in err and "--system" in err


def test_status_shows_state_and_says_when_nothing_answers(
    home: Path,
    systemd_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """status: the command (this installation), systemd's state, /healthz; exit 3 if down."""
    with socket_port() as port:
        run(capsys, "service", "install", "bridge", "--", "--port", str(port))
        monkeypatch.setenv(
            "FAKE_SYSTEMD_SHOW",
            "ActiveState=failed\nSubState=failed\nUnitFileState=enabled\nMainPID=0\nNRestarts=4",
        )
        code, out, _ = run(capsys, "service", "status")
    assert code == 3
    assert "(this installation)" in out
    assert "failed (failed), enabled, restarts 4" in out
    assert f"nothing answers on 127.0.0.1:{port}" in out
    assert "journalctl --user -u ai-connect-bridge.service -f" in out


def test_status_with_nothing_installed_says_how_to_install(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """status before any install: exit 3 and the install command."""
    code, out, _ = run(capsys, "service", "status")
    assert code == 3 and "ai-connect service install bridge" in out


def test_logs_asks_the_journal_of_the_installed_units(
    home: Path, systemd_log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """service logs -f -n 5: journalctl --user for the installed unit, following."""
    run(capsys, "service", "install", "mcp")
    calls(systemd_log)
    argv = [sys.executable, "-m", "ai_connect", "service", "logs", "-f", "-n", "5"]
    assert subprocess.run(argv, timeout=60).returncode == 0  # it becomes journalctl
    assert calls(systemd_log) == ["journalctl --user -u ai-connect-mcp.service -n 5 --no-pager -f"]


def test_status_of_a_running_bridge_is_healthy(
    home: Path,
    systemd_log: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Active in systemd and answering /healthz on the unit's port: exit 0, 'ok'."""
    with ThreadedBridge() as bridge:
        assert bridge.server is not None
        port = bridge.server.port
        run(capsys, "service", "install", "bridge", "--", "--port", str(port))
        monkeypatch.setenv(
            "FAKE_SYSTEMD_SHOW",
            "ActiveState=active\nSubState=running\nUnitFileState=enabled\nMainPID=42\nNRestarts=0",
        )
        code, out, _ = run(capsys, "service", "status", "bridge")
    assert code == 0, out
    assert "active (running), enabled, pid 42, restarts 0" in out
    assert "/healthz ok" in out
