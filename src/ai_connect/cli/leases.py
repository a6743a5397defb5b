"""``ai-connect claim|release|claims``: advisory file leases from the command line.

The repository is the one holding the current directory (its identity:
:mod:`ai_connect.repo_identity`, shared by every clone); paths are given relative to the
current directory (or absolute) and stored repo-relative. A claim made here is a
person's: it lasts its TTL (or until released), whether or not this command's
connection stays (docs/leases.md). A conflict exits 3, after saying who holds what.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ai_connect.cli.options import Connection, JsonOpt, connects
from ai_connect.client.leases import repo_paths
from ai_connect.errors import ConfigError
from ai_connect.leases.rules import LeaseRuleError, parse_ttl
from ai_connect.protocol import LeaseReport
from ai_connect.repo_identity import RepoIdentity, repo_identity
from ai_connect.text import terminal
from ai_connect.text.leases import claim_text, claims_text, release_text

__all__ = ["COMMANDS", "EXIT_CONFLICT", "claim", "claims", "release"]

EXIT_CONFLICT = 3
"""``claim`` was refused: another address holds an overlapping lease."""

Paths = Annotated[
    list[str], typer.Argument(metavar="PATH", help="Files or globs ('src/*.py', 'src/')")
]


def _repo(command: str, instead: str = "") -> RepoIdentity:
    found = repo_identity(Path.cwd())
    if found is None:
        raise ConfigError(
            f"{Path.cwd()} is not in a git repository: leases name paths of a repository. "
            f"Run 'ai-connect {command}' inside a checkout{instead}."
        )
    return found


def _report_json(repo: str | None, report: LeaseReport) -> str:
    data: dict[str, Any] = {"repo": repo, **report.model_dump(mode="json", exclude={"rid"})}
    return terminal.to_json(data)


@connects
def claim(
    paths: Paths,
    ttl: Annotated[
        str | None,
        typer.Option(metavar="DURATION", help="How long: 30m (default), 2h, 90s; at most 24h"),
    ] = None,
    reason: Annotated[str, typer.Option(metavar="TEXT", help="What you are doing there")] = "",
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Lease PATH... of this repository, so that other agents see who works on them.

    All or nothing: if another peer holds an overlapping path, nothing is claimed, you see
    who, why and until when (exit 3), and they are told you asked.
    """
    try:
        seconds = parse_ttl(ttl)
    except LeaseRuleError as exc:
        raise typer.BadParameter(str(exc), param_hint="--ttl") from None
    repo = _repo("claim")
    relative = repo_paths(repo.root, paths, Path.cwd())

    async def run() -> int:
        async with conn.client() as client:
            report = await client.claim(repo.key, relative, ttl=seconds, reason=reason)
        text = claim_text(report, time.time(), surface="cli")
        print(_report_json(repo.key, report) if as_json else text, flush=True)
        return EXIT_CONFLICT if report.conflicts else 0

    if code := asyncio.run(run()):
        raise typer.Exit(code)


@connects
def release(
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="As claimed; none: all yours in this repository"),
    ] = None,
    everywhere: Annotated[
        bool, typer.Option("--everywhere", help="All your leases, in every repository")
    ] = False,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Give back your leases of PATH... (as claimed), or all of them."""
    if everywhere and paths:
        raise typer.BadParameter("give PATH... or --everywhere, not both", param_hint="PATH")
    key: str | None = None
    relative = None
    if not everywhere:
        repo = _repo("release", ", or use --everywhere")
        key = repo.key
        relative = repo_paths(repo.root, paths, Path.cwd()) if paths else None

    async def run() -> None:
        async with conn.client() as client:
            report = await client.release(key, relative)
        out = _report_json(key, report) if as_json else release_text(report, time.time())
        print(out, flush=True)

    asyncio.run(run())


@connects
def claims(
    all_repos: Annotated[
        bool, typer.Option("--all", help="Leases of every repository, not just this one")
    ] = False,
    *,
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Show who holds leases on files of this repository (or of every one): why, until when."""
    key = None if all_repos else _repo("claims", ", or use --all").key

    async def run() -> None:
        async with conn.client(mode="query") as client:
            report = await client.claims(key)
            me = client.address
        if as_json:
            print(_report_json(key, report), flush=True)
        else:
            print(claims_text(report.leases, time.time(), me), flush=True)

    asyncio.run(run())


COMMANDS = (claim, release, claims)
