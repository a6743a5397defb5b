"""The real agent clients from npm (scripts/ensure_clients.sh), offline, as test subjects.

Each client is installed in its pinned version and in the newest the registry served
(``.cache/clients/NAME/VERSION``); :func:`versions` names both (once when they are the
same), for tests to run against each. A missing client skips the test locally and fails
it in CI (``CI=true``). Every client runs with a throwaway ``HOME``, its model API
pointed at a scripted stand-in on 127.0.0.1 (tests/agents/apis.py), and any other
traffic sent to a closed local port.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENSURE = ROOT / "scripts" / "ensure_clients.sh"
CACHE = ROOT / ".cache" / "clients"
WAIT_S = 30.0
"""Upper bound of any single wait on a client; the runs take a fraction of it."""
START_S = 90.0
"""Upper bound of a start: ``ai-connect setup`` and an agent's first turn up to its waiter
saying it listens (a client's first start in a fresh checkout, on a loaded 2-core machine,
took over 30 s)."""


@dataclass(frozen=True, slots=True)
class Client:
    name: str
    package: str
    pinned: str
    binary: str

    def folder(self, version: str) -> Path:
        return CACHE / self.name / version

    def path(self, version: str) -> Path:
        return self.folder(version) / "node_modules" / ".bin" / self.binary

    def installed(self, version: str) -> bool:
        package = self.folder(version) / "node_modules" / self.package / "package.json"
        with contextlib.suppress(OSError, ValueError, KeyError):
            found = json.loads(package.read_text(encoding="utf-8"))["version"]
            return bool(found == version and os.access(self.path(version), os.X_OK))
        return False

    def newest(self) -> str | None:
        try:
            return (CACHE / self.name / "latest").read_text(encoding="utf-8").strip() or None
        except OSError:
            return None


def _clients() -> dict[str, Client]:
    text = ENSURE.read_text(encoding="utf-8")
    block = re.search(r'^CLIENTS="(.*?)"$', text, re.MULTILINE | re.DOTALL)
    assert block, f"no CLIENTS= block in {ENSURE}"
    found = {}
    for line in block.group(1).splitlines():
        name, package, pinned, binary = line.split()
        found[name] = Client(name, package, pinned, binary)
    return found


CLIENTS = _clients()


def versions(name: str) -> list[str]:
    """The versions to test ``name`` with: pinned, and the newest when it differs."""
    client = CLIENTS[name]
    newest = client.newest()
    return [client.pinned] + ([newest] if newest and newest != client.pinned else [])


def binary(name: str, version: str) -> Path:
    """The installed client; else skip (locally) or fail (CI) saying how to install it."""
    client = CLIENTS[name]
    if client.installed(version):
        return client.path(version)
    why = (
        f"{client.package} {version} is not installed in {client.folder(version)}; run "
        "`sh scripts/ensure_clients.sh` (needs node and npm)"
    )
    if os.environ.get("CI", "").lower() in ("1", "true"):
        pytest.fail(why)
    pytest.skip(why)


def ai_connect_command() -> list[str]:
    """The ``ai-connect`` of this interpreter (what ``setup`` then writes into configs)."""
    script = shutil.which("ai-connect", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "ai_connect"]


_DROP = (
    "AI_CONNECT_", "ANTHROPIC_", "CLAUDE", "OTEL_", "OPENAI_", "CODEX_", "GEMINI_", "GOOGLE_",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "ALL_PROXY", "all_proxy", "XDG_RUNTIME_DIR", "TMUX",
)  # fmt: skip


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no user config of ai-connect or any client, loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
    env |= {
        "HOME": str(home),
        # Anything a client might reach for meets a closed local port instead.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
        "TERM": "xterm-256color",
        "AI_CONNECT_CONFIG": str(home / "no-ai-connect-config.yaml"),
        **extra,
    }
    return env


def claude_env(home: Path, api: str, **extra: str) -> dict[str, str]:
    return base_env(
        home,
        ANTHROPIC_BASE_URL=api,
        ANTHROPIC_API_KEY="sk-ant-test-not-a-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        **extra,
    )


def trust_claude_project(home: Path, project: Path) -> None:
    """Marks ``project`` trusted, as a user's "yes" to Claude Code's first-start question
    leaves it (``~/.claude.json``): only then does Claude Code apply the project's own
    permission rules (checked with 2.1.197 and 2.1.332; untrusted, it asks)."""
    path = home / ".claude.json"
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    data.setdefault("projects", {}).setdefault(str(project), {})["hasTrustDialogAccepted"] = True
    path.write_text(json.dumps(data), encoding="utf-8")


CODEX_MODEL = "gpt-test"


def codex_env(home: Path, api: str, project: Path, **extra: str) -> dict[str, str]:
    """Codex with a ``wire_api = "responses"`` provider at ``api`` and the project trusted
    (as a user's answer to Codex's trust question leaves it)."""
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(
        f'model = "{CODEX_MODEL}"\nmodel_provider = "scripted"\n'
        "check_for_update_on_startup = false\n\n"
        "[model_providers.scripted]\n"
        'name = "scripted"\n'
        f'base_url = "{api}/v1"\n'
        'wire_api = "responses"\n'
        'env_key = "SCRIPTED_OPENAI_KEY"\n\n'
        f'[projects."{project}"]\ntrust_level = "trusted"\n',
        encoding="utf-8",
    )
    return base_env(home, CODEX_HOME=str(codex_home), SCRIPTED_OPENAI_KEY="sk-test", **extra)


def gemini_env(home: Path, api: str, project: Path, **extra: str) -> dict[str, str]:
    """Gemini CLI with an API key against ``api``, the project a trusted folder."""
    folder = home / ".gemini"
    folder.mkdir(parents=True, exist_ok=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
    }
    (folder / "settings.json").write_text(json.dumps(settings), encoding="utf-8")
    (folder / "trustedFolders.json").write_text(json.dumps({str(project): "TRUST_FOLDER"}))
    return base_env(home, GEMINI_API_KEY="test-key", GOOGLE_GEMINI_BASE_URL=api, **extra)


async def run_setup(client: str, project: Path, env: dict[str, str], *args: str) -> str:
    """``ai-connect setup CLIENT --project`` in ``project``, as a user runs it."""
    proc = await asyncio.create_subprocess_exec(
        *ai_connect_command(), "setup", client, "--project", *args,
        cwd=project, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), START_S)
    assert proc.returncode == 0, out.decode()
    return out.decode()


def new_project(root: Path, name: str) -> Path:
    """An empty git project ``root/name`` (its git root names the ai-connect project)."""
    project = root / name
    (project / ".git").mkdir(parents=True)
    return project
