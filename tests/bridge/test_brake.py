"""The loop brake (bridge/brake.py), pure: time is passed in, nothing else happens."""

from __future__ import annotations

from ai_connect.bridge.brake import Brake, BrakeLimits, conversation, notice_text

A, B, C = "a (p)", "b (p)", "c (p)"


def _ping_pong(
    brake: Brake, count: int, start: float = 0.0, step: float = 10.0
) -> list[str | None]:
    """``count`` messages alternating A->B, B->A, ``step`` seconds apart."""
    out = []
    for i in range(count):
        sender, to = (A, B) if i % 2 == 0 else (B, A)
        out.append(brake.message(sender, to, None, False, start + i * step).paused)
    return out


def test_a_pair_is_one_conversation_whichever_way_and_a_thread_is_its_own() -> None:
    """A->B and B->A are one conversation; a thread is another, whoever takes part."""
    assert conversation(A, B, None) == conversation(B, A, None)
    assert conversation(A, B, "review") == conversation(C, A, "review") != conversation(A, B, None)


def test_the_hop_limit_pauses_the_message_after_it_and_later_ones() -> None:
    """With hops=4 the fifth unattended message is paused, tripping once; later ones stay
    paused without tripping again."""
    brake = Brake(BrakeLimits(hops=4, per_minute=0))
    assert _ping_pong(brake, 4) == [None] * 4
    verdict = brake.message(A, B, None, False, 100.0)
    assert verdict.paused and verdict.tripped and "4 messages" in verdict.paused
    again = brake.message(B, A, None, False, 110.0)
    assert again.paused == verdict.paused and not again.tripped
    assert brake.paused(B, A, None) == verdict.paused
    assert brake.paused(A, C, None) is None


def test_the_rate_limit_stops_a_fast_runaway_within_a_minute() -> None:
    """At one message every 2 s the default limits pause the pair in under a minute, while
    a review round at one message every 20 s runs on past tens of exchanges."""
    fast = Brake()
    paused_at = next(i for i, p in enumerate(_ping_pong(fast, 40, step=2.0)) if p)
    assert paused_at * 2.0 < 60
    slow = Brake()
    assert _ping_pong(slow, 40, step=20.0) == [None] * 40


def test_a_human_in_either_session_resumes_and_restarts_the_count() -> None:
    """After a pause, a person speaking in B's session resumes the conversation; the
    count starts again from zero."""
    brake = Brake(BrakeLimits(hops=2, per_minute=0))
    _ping_pong(brake, 3)
    assert brake.paused(A, B, None)
    assert brake.human(B) == [conversation(A, B, None)]
    assert brake.paused(A, B, None) is None
    assert _ping_pong(brake, 2, start=100.0) == [None, None]


def test_a_cli_send_is_human_input() -> None:
    """A message a person sent (human=True) resets the count and lifts the pause."""
    brake = Brake(BrakeLimits(hops=1, per_minute=0))
    _ping_pong(brake, 2)
    assert brake.paused(A, B, None)
    assert brake.message(A, B, None, True, 50.0).paused is None
    assert brake.message(B, A, None, False, 60.0).paused is None


def test_the_operator_resumes_one_or_all() -> None:
    """admin resume with a key lifts that pause only; without, every pause."""
    brake = Brake(BrakeLimits(hops=1, per_minute=0))
    _ping_pong(brake, 2)
    brake.message(A, C, "t", False, 0.0)
    brake.message(C, A, "t", False, 1.0)
    listed = brake.paused_list()
    assert [p["conversation"] for p in listed] == ["pair:a (p) <-> b (p)", "thread:t"]
    assert listed[0]["parties"] == [A, B]
    assert brake.resume("thread:t") == ["thread:t"]
    assert [p["conversation"] for p in brake.paused_list()] == ["pair:a (p) <-> b (p)"]
    assert brake.resume() == ["pair:a (p) <-> b (p)"]
    assert brake.paused_list() == []


def test_idle_conversations_are_forgotten_but_paused_ones_kept() -> None:
    """Memory stays bounded: quiet unpaused conversations go after hours; pauses stay."""
    brake = Brake(BrakeLimits(hops=1, per_minute=0))
    _ping_pong(brake, 2)
    brake.message(A, C, None, False, 0.0)
    brake.forget_idle(7 * 3600.0)
    assert brake.paused(A, B, None) and brake.paused_list()
    assert brake.message(A, C, None, False, 7 * 3600.0).paused is None  # counted anew


def test_the_notice_says_why_and_what_to_do() -> None:
    """The notice names the conversation, the reason, and how it resumes."""
    text = notice_text("pair:a (p) <-> b (p)", "10 messages ...")
    assert "a (p) <-> b (p)" in text and "10 messages" in text
    assert "a person speaks" in text and "ai-connect admin resume" in text
