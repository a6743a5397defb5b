"""First contact (issue 11, item 12): scripts/setup.sh says what it does, where
``ai-connect`` is and what to run next, and links it onto PATH on request; every hint the
product prints names a command that works from the shell it was run in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ai_connect import launcher

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = Path(sys.executable).parent / "ai-connect"  # this venv's entry point
BARE_PATH = "/usr/bin:/bin"


def _fake_program(tmp_path: Path) -> Path:
    program = tmp_path / "venv" / "bin" / "ai-connect"
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return program


def test_hints_name_the_full_path_until_path_leads_to_this_program(tmp_path: Path) -> None:
    """Started as an ai-connect that PATH does not find: its path; once PATH leads to it
    (a link in ~/.local/bin): the bare name."""
    program = _fake_program(tmp_path)
    assert launcher.command(str(program), {"PATH": BARE_PATH}) == str(program)
    links = tmp_path / "bin"
    links.mkdir()
    (links / "ai-connect").symlink_to(program)
    assert launcher.command(str(program), {"PATH": f"{links}:{BARE_PATH}"}) == "ai-connect"


def test_hints_keep_the_bare_name_when_not_started_as_ai_connect(tmp_path: Path) -> None:
    """python -m ai_connect (or a test): hints are left as written."""
    assert launcher.command(str(tmp_path / "__main__.py"), {"PATH": BARE_PATH}) == "ai-connect"


def test_spell_rewrites_commands_not_paths_or_addresses(tmp_path: Path) -> None:
    """Only 'ai-connect SUBCOMMAND' changes; '.venv/bin/ai-connect' and '(ai-connect)' stay."""
    program = _fake_program(tmp_path)
    text = "start it with 'ai-connect bridge'; bob (ai-connect) ran .venv/bin/ai-connect read"
    assert launcher.spell(text, str(program), {"PATH": BARE_PATH}) == (
        f"start it with '{program} bridge'; bob (ai-connect) ran .venv/bin/ai-connect read"
    )


def test_a_real_error_hint_names_the_program_run_by_its_path(tmp_path: Path) -> None:
    """`.venv/bin/ai-connect send` to a bridge that is down, with ai-connect not on PATH:
    the hint says to start '<that path> bridge', a command that works when pasted."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")},
        "PATH": BARE_PATH,
        "AI_CONNECT_CONFIG": str(tmp_path / "none.yaml"),
        "HOME": str(tmp_path),
    }
    argv = [str(PROGRAM), "send", "bob", "hi", "--bridge", "ws://127.0.0.1:1", "--name", "a"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 1
    assert f"start it with '{PROGRAM} bridge'" in done.stderr, done.stderr


def test_setup_script_says_where_ai_connect_is_links_it_and_says_what_next(
    tmp_path: Path,
) -> None:
    """sh scripts/setup.sh --link (installed already): progress lines, the program's path,
    a link in ~/.local/bin, that this folder is not on PATH, and the next commands; once
    on PATH, the next commands are bare."""
    # This interpreter's python3 (3.11+, whatever /usr/bin has), in a folder of its own.
    python = tmp_path / "python-bin" / "python3"
    python.parent.mkdir()
    python.symlink_to(Path(getattr(sys, "_base_executable", sys.executable)).resolve())
    bare = f"{python.parent}:{BARE_PATH}"
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "PATH": bare}
    argv = ["sh", str(ROOT / "scripts" / "setup.sh"), "--link"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(line.startswith("setup: ") for line in lines), lines
    program = ROOT / ".venv" / "bin" / "ai-connect"
    link = home / ".local" / "bin" / "ai-connect"
    assert link.resolve() == program.resolve()
    assert f"ai-connect is {program} (" in done.stdout
    assert f"{home}/.local/bin is not on your PATH" in done.stdout
    assert f"next: the bridge:          {program} bridge" in done.stdout
    env["PATH"] = f"{link.parent}:{bare}"
    again = subprocess.run(argv[:2], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "pip skipped" in again.stdout
    assert "next: the bridge:          ai-connect bridge" in again.stdout
