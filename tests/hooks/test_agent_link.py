"""agent_link: a hook finds its own agent's MCP server session by process tree."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import pytest

from ai_connect.errors import ConfigError
from ai_connect.hooks import agent_link
from ai_connect.hooks.agent_link import Advert


def advert(agent: int, session: str, started: float = 1.0, pid: int | None = None) -> Advert:
    return Advert(agent, pid or os.getpid(), "ws://x", "Claude", "p", session, started)


def test_choose_takes_the_nearest_ancestor() -> None:
    """The agent nearest to the hook wins over one further up the tree (a shared shell)."""
    adverts = [advert(30, "shell-level"), advert(20, "my-agent")]
    assert agent_link.choose([10, 20, 30, 40], adverts) == adverts[1]
    assert agent_link.choose([10, 30], adverts) == adverts[0]
    assert agent_link.choose([10, 11], adverts) is None


def test_choose_prefers_the_newest_advert_of_one_agent() -> None:
    """Two MCP servers of one agent (a restart): the newer one is the live session."""
    old, new = advert(20, "old", started=1.0), advert(20, "new", started=2.0)
    assert agent_link.choose([20], [new, old]) == new


def test_advertise_and_find_round_trip(tmp_path: Path) -> None:
    """An advert is found through the chain, is private, and is gone after the block."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    agent = os.getppid()  # a live process stands in for the agent
    with agent_link.advertise("ws://b", "Claude", "p", "sess", env=env, agent=agent) as path:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        found = agent_link.find([1111, agent], env=env)
        assert found is not None and (found.session, found.url) == ("sess", "ws://b")
        assert agent_link.find([1111], env=env) is None
        assert agent_link.find([agent], env=env, project="other") is None
    assert agent_link.find([agent], env=env) is None


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process births: Linux /proc")
def test_an_advert_of_a_dead_agent_whose_pid_is_reused_is_stale(tmp_path: Path) -> None:
    """Pids come round again (and start over after a reboot, while /tmp may stay): an
    advert whose agent pid now belongs to another process (its birth differs) is neither
    found nor read as that process's stopped server; it is removed."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    me = os.getpid()
    born = agent_link.birth(me)
    assert born is not None and born == agent_link.birth(me)
    with agent_link.advertise("ws://b", "Claude", "p", "live", env=env, agent=me) as path:
        live = json.loads(path.read_text())
        assert (live["agent_birth"], live["birth"]) == (born, born)
    folder = tmp_path / "agents"
    old = Advert(me, me, "ws://old", "Claude", "p", "old", 1.0, stopped=2.0,
                 agent_birth="another-boot:1", birth="another-boot:1")  # fmt: skip
    stale = folder / f"{me}-{me}.json"
    stale.write_text(json.dumps(asdict(old)))
    assert not agent_link.server_gone([me], env=env)  # not read as our server, stopped
    assert agent_link.find([me], env=env) is None
    assert not stale.exists()
    # An older release's advert has no births: one written before our process started
    # is not ours either.
    legacy = {k: v for k, v in asdict(old).items() if not k.endswith("birth")}
    stale.write_text(json.dumps(legacy | {"started": 1_000_000.0}))
    assert not agent_link.server_gone([me], env=env)
    assert agent_link.find([me], env=env) is None
    assert not stale.exists()
    stale.write_text(json.dumps(legacy | {"started": time.time(), "stopped": None}))
    found = agent_link.find([me], env=env)
    assert found is not None and found.session == "old"


def test_find_sweeps_adverts_whose_agent_is_gone(tmp_path: Path) -> None:
    """A killed agent leaves its advert behind; the next look by any hook removes it, so
    the folder does not fill up with marks nobody reads."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    with agent_link.advertise("ws://b", "Claude", "p", "s", env=env, agent=int(gone.stdout)):
        pass
    assert len(list((tmp_path / "agents").glob("*.json"))) == 1
    assert agent_link.find([os.getpid()], env=env) is None
    assert list((tmp_path / "agents").glob("*.json")) == []


def test_stale_and_broken_adverts_are_ignored(tmp_path: Path) -> None:
    """A dead MCP server's advert is removed; a half-written file is skipped."""
    env = {"AI_CONNECT_RUNTIME_DIR": str(tmp_path)}
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    folder = tmp_path / "agents"
    folder.mkdir()
    pid = int(dead.stdout)
    stale = folder / f"77-{pid}.json"
    fields = {"agent": 77, "pid": pid, "url": "ws://x", "name": "n", "project": "p"}
    stale.write_text(json.dumps({**fields, "session": "s", "started": 1.0}))
    (folder / "77-1.json").write_text("{not json")
    assert agent_link.find([77], env=env) is None
    assert not stale.exists()


def test_process_chain_starts_here_and_reaches_the_parent() -> None:
    """The chain of this process holds its pid first and then its parent's; init is left
    out (the parent of a suite run detached, under nohup; pytest itself in a container)."""
    chain = agent_link.process_chain()
    here = [p for p in (os.getpid(), os.getppid()) if p > 1] if os.getpid() > 1 else []
    assert chain[: len(here)] == here
    assert 1 not in chain


def test_bridge_session_is_stable_and_distinct() -> None:
    """Same agent session id, same bridge session; different ids, different ones."""
    one = agent_link.bridge_session("abc")
    assert one == agent_link.bridge_session("abc") != agent_link.bridge_session("abd")
    assert len(one) == 32


def test_runtime_dir_needs_no_xdg_and_warns_nothing() -> None:
    """A per-user folder in /tmp on Linux whatever the login has (no /run/user: it comes
    and goes with logins), and no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = agent_link.runtime_dir({})
    if sys.platform.startswith("linux"):
        assert path == Path("/tmp") / f"ai-connect-{os.getuid()}"
    assert agent_link.runtime_dir({"AI_CONNECT_RUNTIME_DIR": "/x"}) == Path("/x")


def test_runtime_dir_is_the_same_with_and_without_xdg_runtime_dir_and_tmpdir() -> None:
    """An MCP server started with a stripped environment (Codex) and a hook started with a
    full one (XDG_RUNTIME_DIR, TMPDIR set) derive the same folder (issue 9)."""
    full = {"XDG_RUNTIME_DIR": "/run/user/elsewhere", "TMPDIR": "/var/tmp/x", "HOME": "/h"}
    assert agent_link.runtime_dir(full) == agent_link.runtime_dir({})


def test_private_dir_refuses_a_link(tmp_path: Path) -> None:
    """A runtime folder that is a symlink (planted in a shared /tmp) is refused."""
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ConfigError, match="another user or is a link"):
        agent_link.private_dir(tmp_path / "link")
    assert agent_link.private_dir(tmp_path / "new").is_dir()


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["claude", "-p", "hello"], True),
        (["claude", "--print", "x"], True),
        (
            ["claude", "-p", "--input-format", "stream-json", "--output-format", "stream-json"],
            False,
        ),
        (["claude", "-p", "--input-format=stream-json"], False),
        (["claude"], False),
        (["/bin/sh", "-c", "ai-connect hook wait --timeout 86400"], False),
        (["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", "-p", "x"], True),
        (["python", "-m", "pytest", "-p", "no:cacheprovider"], False),
        (["/x/codex", "exec", "--json", "hi"], True),
        (["node", "/x/bin/codex.js", "-c", "model=m", "exec", "hi"], True),
        (["/x/codex", "-c", "model=exec"], False),
        (["/x/codex", "fix the exec path"], False),
        (["/x/codex"], False),
    ],
)
def test_one_shot_print_runs_are_recognised(argv: list[str], expected: bool) -> None:
    """``claude -p`` and ``codex exec`` end after their answer; stream-json input and
    interactive runs go on."""
    assert agent_link.one_shot(argv) is expected


def test_command_line_of_this_process() -> None:
    """The arguments of a live process can be read (here: our own interpreter)."""
    assert "python" in agent_link.command_line(os.getpid())[0]
