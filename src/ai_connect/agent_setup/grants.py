"""Which of ai-connect's own MCP tools an agent may use without asking (pure).

``ai-connect setup`` grants them in each client (docs/hooks.md, "Permissions"): a woken
agent must be able to read and answer its peers with nobody at the keyboard. Grants are
scoped to ai-connect's tools and nothing else. ``--ask-before-send`` keeps the reading
and waiting tools granted and leaves the client's question before anything goes out to
other agents (:data:`SENDING`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALL", "SENDING", "Grants", "claude_rule"]

SENDING = (
    "peer_send", "peer_context", "consensus_propose", "consensus_vote", "consensus_withdraw",
)  # fmt: skip
"""The tools that send something to other agents."""
READING = (
    "peer_list", "peer_read", "peer_wait", "peer_history", "peer_search", "peer_status",
    "consensus_status", "consensus_list",
    "peer_claims", "peer_claim", "peer_release",
)  # fmt: skip
"""Also the lease tools: a lease only tells others what this agent works on (issue 15)."""
ALL = READING + SENDING


@dataclass(frozen=True, slots=True)
class Grants:
    """What setup grants: every ai-connect tool, or (``ask_before_send``) all but sending."""

    ask_before_send: bool = False

    @property
    def granted(self) -> tuple[str, ...]:
        return READING if self.ask_before_send else ALL

    @property
    def asked(self) -> tuple[str, ...]:
        return SENDING if self.ask_before_send else ()

    def describe(self) -> str:
        """One line for the person running setup."""
        if self.ask_before_send:
            return (
                "Permissions: ai-connect's reading and waiting tools run without asking; "
                f"the agent asks you before {', '.join(SENDING)} (a woken agent then waits "
                "for you to answer). Run setup without --ask-before-send to let it answer "
                "its peers unattended."
            )
        return (
            "Permissions: ai-connect's own tools (and only those) run without asking, so "
            "a woken agent answers its peers unattended; --ask-before-send makes it ask "
            f"you before {', '.join(SENDING)}."
        )


def claude_rule(tool: str, server: str) -> str:
    """Claude Code's permission rule for one MCP tool (``mcp__SERVER__TOOL``)."""
    return f"mcp__{server}__{tool}"
