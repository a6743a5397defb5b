"""The file lease MCP tools (issue 15, docs/leases.md), thin over the client.

``peer_claim`` leases paths or globs of this session's repository, ``peer_release`` gives
them back, ``peer_claims`` lists who holds what. The repository is the one the MCP
server runs in (:func:`ai_connect.repo_identity.repo_identity` of the session's
directory), so two clones of one repository share one namespace of leases; paths may be
given relative to that directory, or absolute, and are stored repo-relative.
"""

from __future__ import annotations

import asyncio
import time

from pydantic import Field

from ai_connect.client.leases import repo_paths
from ai_connect.errors import ConfigError
from ai_connect.leases.rules import LeaseRuleError, parse_ttl
from ai_connect.mcp.models import ToolArgs, ToolOut
from ai_connect.mcp.tools import Call, Output, Tool
from ai_connect.protocol import LeaseConflict, LeaseView
from ai_connect.repo_identity import RepoIdentity, repo_identity
from ai_connect.text.leases import claim_text, claims_text, release_text

__all__ = [
    "LEASE_TOOLS",
    "LeasesOut",
    "PeerClaimArgs",
    "PeerClaimsArgs",
    "PeerReleaseArgs",
    "session_repo",
]

_PATHS = Field(
    min_length=1,
    max_length=64,
    description="Files or globs, relative to your working directory or absolute: "
    "'src/app.py', 'src/*.py', 'src/**' (everything below src).",
)


class PeerClaimArgs(ToolArgs):
    paths: list[str] = _PATHS
    ttl: str | None = Field(
        default=None,
        max_length=20,
        description="How long: '30m' (the default), '2h', '90s'; at most '24h'.",
    )
    reason: str = Field(default="", max_length=500, description="What you are doing there.")


class PeerReleaseArgs(ToolArgs):
    paths: list[str] | None = Field(
        default=None,
        max_length=64,
        description="The paths or globs as you claimed them; leave out to release all yours "
        "in this repository.",
    )


class PeerClaimsArgs(ToolArgs):
    all_repos: bool = Field(
        default=False, description="Leases of every repository, not just this one."
    )


class LeasesOut(ToolOut):
    repo: str | None
    leases: list[LeaseView]
    conflicts: list[LeaseConflict] = []


_repos: dict[str, RepoIdentity | None] = {}


async def session_repo(call: Call) -> RepoIdentity:
    """The repository of the session's directory (looked up once per directory)."""
    key = str(call.settings.cwd)
    if key not in _repos:
        _repos[key] = await asyncio.to_thread(repo_identity, call.settings.cwd)
    found = _repos[key]
    if found is None:
        raise ConfigError(
            f"{call.settings.cwd} is not in a git repository: leases name paths of a "
            "repository. Start the agent in a checkout to use peer_claim."
        )
    return found


def _paths(repo: RepoIdentity, paths: list[str], call: Call) -> list[str]:
    return repo_paths(repo.root, paths, call.settings.cwd)


async def peer_claim(call: Call, args: PeerClaimArgs) -> Output:
    repo = await session_repo(call)
    try:
        ttl = parse_ttl(args.ttl)
    except LeaseRuleError as exc:
        raise ConfigError(f"{exc}. Call peer_claim again with another ttl.") from None
    paths = _paths(repo, args.paths, call)
    report = await call.client.claim(repo.key, paths, ttl=ttl, reason=args.reason)
    data = LeasesOut(repo=repo.key, leases=report.leases, conflicts=report.conflicts)
    return Output(claim_text(report, time.time()), data.model_dump(mode="json"))


async def peer_release(call: Call, args: PeerReleaseArgs) -> Output:
    repo = await session_repo(call)
    paths = _paths(repo, args.paths, call) if args.paths else None
    report = await call.client.release(repo.key, paths)
    data = LeasesOut(repo=repo.key, leases=report.leases)
    return Output(release_text(report, time.time()), data.model_dump(mode="json"))


async def peer_claims(call: Call, args: PeerClaimsArgs) -> Output:
    repo = None if args.all_repos else (await session_repo(call)).key
    report = await call.client.claims(repo)
    data = LeasesOut(repo=repo, leases=report.leases)
    text = claims_text(report.leases, time.time(), call.client.address)
    return Output(text, data.model_dump(mode="json"))


LEASE_TOOLS: tuple[Tool, ...] = (
    Tool(
        "peer_claim",
        "Claim files",
        "Tell other agents you are working on files of this repository: an advisory lease "
        "on paths or globs, seen by every clone of it on any machine, for `ttl`. Their "
        "edits of those files then show them who holds them, why and until when. If "
        "someone else holds an overlapping path, nothing is claimed and you get who, why "
        "and until when (they are told you asked).",
        PeerClaimArgs,
        LeasesOut,
        peer_claim,
    ),
    Tool(
        "peer_release",
        "Release files",
        "Give back your leases (peer_claim) on paths of this repository, or all of them.",
        PeerReleaseArgs,
        LeasesOut,
        peer_release,
    ),
    Tool(
        "peer_claims",
        "Show file leases",
        "Show who holds leases on files of this repository (or every repository), why and "
        "until when.",
        PeerClaimsArgs,
        LeasesOut,
        peer_claims,
        read_only=True,
        idempotent=True,
    ),
)
