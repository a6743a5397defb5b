"""The advisor skill: wake-based, with the Salomo roles and tags, shipped with the package."""

from __future__ import annotations

from pathlib import Path

from ai_connect.agent_setup.clients import advisor_skill

ROOT = Path(__file__).resolve().parents[2]


def test_repository_copy_equals_the_packaged_skill() -> None:
    """skills/advisor/SKILL.md and the package data are the same file."""
    assert (ROOT / "skills" / "advisor" / "SKILL.md").read_text() == advisor_skill()


def test_skill_keeps_the_salomo_roles_votes_and_tags() -> None:
    """AIfred, Sokrates, Salomo; 2/3 and unanimity; [LGTM] and [CONTINUE]."""
    text = advisor_skill()
    for word in ("AIfred", "Sokrates", "Salomo", "2 of 3", "all 3", "[LGTM]", "[CONTINUE]"):
        assert word in text


def test_skill_waits_by_wake_not_by_polling() -> None:
    """No sleep loop: the session ends its turn and the Stop hook wakes it."""
    text = advisor_skill()
    assert text.startswith("---\nname: advisor\n")
    assert "ai-connect" in text.split("---")[1]
    assert "no tool calls" in text and "wakes" in text
    assert "not from your user" in text
