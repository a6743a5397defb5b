"""``ai-connect doctor``: every check of :mod:`ai_connect.doctor`, each with its fix.

Exit code 1 when a check failed (warnings do not count). ``--json`` prints the checks as
a list of objects instead (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from ai_connect.cli.options import Connection, JsonOpt, connects, warn_token_flag
from ai_connect.cli.setup import program, project_root, vscode_user_dir
from ai_connect.config import joined_urls
from ai_connect.doctor.checks import (
    Check,
    Outcome,
    check_config,
    check_database,
    check_path,
    check_setups,
)
from ai_connect.errors import BridgeError
from ai_connect.launcher import spell
from ai_connect.service import units

__all__ = ["doctor"]

_MARK = {Outcome.PASS: "pass", Outcome.WARN: "WARN", Outcome.FAIL: "FAIL", Outcome.SKIP: "skip"}


def _show(check: Check) -> None:
    print(f"  {_MARK[check.outcome]}  {check.name:<22} {check.summary}")
    for line in check.details:
        print(f"{'':30}{line}")
    if check.fix:
        print(f"{'':30}fix: {spell(check.fix)}")


@connects
def doctor(
    *,
    conn: Connection,
    as_json: JsonOpt = False,
    round_trip: Annotated[
        bool,
        typer.Option(help="Send a message to a test peer and read it back through a hook"),
    ] = True,
    timeout: Annotated[float, typer.Option(min=0.5, help="Seconds for each bridge check")] = 5.0,
) -> None:
    """Check config, bridge, TLS, token, database, agent setups and PATH; say what to fix."""
    from ai_connect.doctor.link import check_bridge
    from ai_connect.doctor.link import round_trip as run_round_trip

    warn_token_flag(conn.token)
    env = dict(os.environ)
    flags = {
        "url": joined_urls(conn.bridge),
        "name": conn.name,
        "project": conn.project,
        "token": conn.token,
        "token_file": conn.token_file,
        "ca": conn.ca,
        "fingerprint": conn.fingerprint,
    }
    me = program()
    checks = [check_config(flags, env)]
    system_unit = Path("/etc/systemd/system") / units.unit_name("bridge")
    service_db = units.SYSTEM_STATE / "bridge.db" if system_unit.exists() else None
    checks.append(check_database(env, Path(service_db) if service_db else None))
    home = Path.home()
    checks += check_setups(me, project_root(Path.cwd()), home, vscode_user_dir(home))
    checks.append(check_path(me, env))
    if checks[0].outcome is not Outcome.FAIL:
        try:
            settings = conn.settings()
        except BridgeError as exc:
            checks.append(Check("bridge", Outcome.FAIL, str(exc), "fix the setting it names"))
        else:
            linked = asyncio.run(check_bridge(settings, timeout))
            checks += linked
            if round_trip and all(c.outcome is not Outcome.FAIL for c in linked):
                checks.append(asyncio.run(run_round_trip(settings, me, timeout * 2)))
    if as_json:
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        print("ai-connect doctor:")
        for check in checks:
            _show(check)
        failed = sum(c.outcome is Outcome.FAIL for c in checks)
        warned = sum(c.outcome is Outcome.WARN for c in checks)
        print(f"{failed} failed, {warned} to look at, {len(checks) - failed - warned} fine.")
    if any(c.outcome is Outcome.FAIL for c in checks):
        raise typer.Exit(1)
