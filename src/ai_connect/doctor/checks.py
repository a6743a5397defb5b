"""``ai-connect doctor``'s checks of this machine: config, PATH, agent setups, database.

Each check returns a :class:`Check`: pass, warn, fail or skip, what it found, and the
fix as a command to run. Nothing here talks to the bridge (:mod:`ai_connect.doctor.link`
does) or changes anything.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from ai_connect.agent_setup.apply import read_file
from ai_connect.agent_setup.clients import CLIENTS, Scope, plan
from ai_connect.config import (
    Sourced,
    bridge_settings,
    config_path,
    explain_client,
    load_file,
    redacted,
    unknown_keys,
)
from ai_connect.errors import ConfigError
from ai_connect.private_files import database_files, exposed

__all__ = [
    "Check",
    "Outcome",
    "check_config",
    "check_database",
    "check_path",
    "check_setups",
]


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    outcome: Outcome
    summary: str
    fix: str = ""
    """What to run or change; empty when nothing is to be done."""
    details: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    """Machine-readable facts for ``--json``."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "fix": self.fix,
            "details": list(self.details),
            **({"data": self.data} if self.data else {}),
        }


def _shown(key: str, item: Sourced) -> str:
    if key == "token":
        return "set" if item.value else "none"
    return "none" if item.value in (None, "") else str(item.value)


def check_config(flags: Mapping[str, str | None], env: Mapping[str, str]) -> Check:
    """The effective client settings, where each came from, and keys nothing reads.

    ``flags``: the command's ``url``, ``name``, ``project``, ``token``, ``token_file``,
    ``ca`` and ``fingerprint`` options."""
    path = config_path(env)
    try:
        found = explain_client(
            url=flags.get("url"),
            name=flags.get("name"),
            project=flags.get("project"),
            token=flags.get("token"),
            token_file=flags.get("token_file"),
            ca=flags.get("ca"),
            fingerprint=flags.get("fingerprint"),
            env=env,
        )
        data = load_file(path)
    except ConfigError as exc:
        return Check("config", Outcome.FAIL, str(exc), f"fix or move away {path}")
    where = str(path) if path.exists() else f"{path} (none: defaults and environment)"
    details = tuple(f"{k:<11} = {_shown(k, v)}  ({v.source})" for k, v in found.items())
    facts = {k: {"value": _shown(k, v), "source": v.source} for k, v in found.items()}
    if env.get("AI_CONNECT_CONFIG") and not path.exists():
        return Check(
            "config",
            Outcome.FAIL,
            f"AI_CONNECT_CONFIG names {path}, which does not exist",
            "create it, or unset AI_CONNECT_CONFIG to use ~/.config/ai-connect/config.yaml",
            details,
            {"file": str(path), "settings": facts},
        )
    unknown = unknown_keys(data)
    if unknown:
        return Check(
            "config",
            Outcome.WARN,
            f"{path}: nothing reads {', '.join(unknown)}",
            "correct or remove them (the keys: README, Configuration)",
            details,
            {"file": str(path), "settings": facts, "unknown_keys": unknown},
        )
    return Check(
        "config",
        Outcome.PASS,
        f"settings from {where}",
        details=details,
        data={"file": str(path), "settings": facts},
    )


def check_path(program: list[str], env: Mapping[str, str]) -> Check:
    """Is ``ai-connect`` a command here, and is it this installation?"""
    mine = Path(program[0]) if Path(program[0]).name.startswith("ai-connect") else None
    found = shutil.which("ai-connect", path=env.get("PATH", os.defpath))
    if found is None:
        target = mine or Path(program[0])
        bin_dir = Path.home() / ".local" / "bin"
        on_path = str(bin_dir) in env.get("PATH", "").split(os.pathsep)
        fix = f"ln -s {target} {bin_dir}/ai-connect"
        if not on_path:
            fix += f" and add {bin_dir} to PATH"
        return Check("path", Outcome.WARN, "'ai-connect' is not on PATH", fix)
    if mine is not None and Path(found).resolve() != mine.resolve():
        return Check(
            "path",
            Outcome.WARN,
            f"'ai-connect' on PATH is {found}, another installation than this {mine}",
            f"ln -sf {mine} {Path(found)}  (or remove the other one)",
        )
    return Check("path", Outcome.PASS, f"'ai-connect' is {found}", data={"path": found})


def _state(client: str, scope: Scope, program: list[str]) -> str:
    """``current``, ``outdated`` or ``absent``: the setup files of one client and scope."""
    install = plan(client, scope, program, read_file)
    if not any(c.changed for c in install):
        return "current"
    remove = plan(client, scope, program, read_file, uninstall=True)
    return "outdated" if any(c.changed for c in remove) else "absent"


def check_setups(
    program: list[str], project: Path, home: Path, vscode_user_dir: Path | None = None
) -> list[Check]:
    """Each agent client's setup, per scope: present and what ``setup`` would write now."""
    checks = []
    for client in CLIENTS:
        for user in (False, True):
            scope = Scope(user=user, project=project, home=home, vscode_user_dir=vscode_user_dir)
            where = "--user" if user else "--project"
            try:
                state = _state(client, scope, program)
            except ConfigError as exc:
                checks.append(
                    Check(f"setup {client} {where}", Outcome.FAIL, str(exc), "fix that file")
                )
                continue
            if state == "current":
                checks.append(Check(f"setup {client} {where}", Outcome.PASS, "set up and current"))
            elif state == "outdated":
                checks.append(
                    Check(
                        f"setup {client} {where}",
                        Outcome.WARN,
                        "set up, but not as this ai-connect would now (another path or version)",
                        f"ai-connect setup {client} {where}  (--dry-run shows the diff)",
                    )
                )
    if not checks:
        checks.append(
            Check(
                "setup",
                Outcome.WARN,
                f"no agent client is set up for {project} or for your user",
                "ai-connect setup claude-code --project (or codex|gemini|cursor|vscode)",
            )
        )
    return checks


def check_database(env: Mapping[str, str], service_db: Path | None = None) -> Check:
    """The database a bridge on this machine uses, and whether only you can read it."""
    try:
        settings = bridge_settings(env=env)
    except ConfigError as exc:
        return Check("database", Outcome.FAIL, str(exc), "fix the server: section or flags")
    if settings.db_url is not None and service_db is None:
        where = redacted(settings.db_url)
        return Check(
            "database",
            Outcome.PASS,
            f"PostgreSQL {where} (shared by every bridge node; its access is the server's)",
            data={"url": where},
        )
    db = service_db or settings.db
    source = (
        "the system service"
        if service_db
        else ("env AI_CONNECT_DB" if env.get("AI_CONNECT_DB") else "config server.db or default")
    )
    data: dict[str, Any] = {"path": str(db), "source": source}
    if not db.exists():
        return Check(
            "database",
            Outcome.SKIP,
            f"{db} ({source}) does not exist: no bridge has run here with it",
            data=data,
        )
    for path in (db.parent, *database_files(db)):
        data[f"mode {path.name}"] = oct(stat.S_IMODE(path.stat().st_mode))
    loose = exposed(db)  # the rule the bridge warns by at its start
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file())
    data["bytes"] = size
    summary = f"{db} ({source}), {size / 1e6:.1f} MB"
    if loose:
        shown = ", ".join(str(e) for e in loose)
        return Check(
            "database",
            Outcome.WARN,
            f"{summary}: other local users may read it ({shown})",
            " && ".join(e.fix for e in loose),
            data=data,
        )
    return Check("database", Outcome.PASS, f"{summary}, private to its owner", data=data)
