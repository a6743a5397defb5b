"""The pure tally and escalation rules of consensus proposals (bridge/consensus.py)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ai_connect.bridge.consensus import (
    Choice,
    Outcome,
    Proposal,
    Rule,
    Status,
    cast,
    settle,
    tag_choice,
    tally,
    withdraw,
)
from ai_connect.bridge.refusal import Refusal

A, B, C, D, E = "A (p)", "B (p)", "C (p)", "D (p)", "E (p)"
JUDGE = "S (p)"
AUTHOR = "X (p)"
CHOICE = {"a": Choice.APPROVE, "r": Choice.REJECT, "s": Choice.ABSTAIN, "c": Choice.CONTINUE}


def proposal(
    rule: Rule = Rule.MAJORITY,
    n: int = 3,
    *,
    quorum: int | None = None,
    judge: str | None = None,
    deadline: float | None = None,
) -> Proposal:
    return Proposal(
        id="p1",
        author=AUTHOR,
        question="merge?",
        participants=(A, B, C, D, E)[:n],
        rule=rule,
        created=0.0,
        quorum=quorum,
        judge=judge,
        deadline=deadline,
    )


def vote(p: Proposal, pattern: str, now: float = 1.0) -> Proposal:
    """Casts one ballot per letter of ``pattern`` (a/r/s/c; ``-``: no vote), in order."""
    for voter, letter in zip(p.participants, pattern, strict=False):
        if letter != "-" and not p.final and p.status is Status.OPEN:
            p = cast(p, voter, CHOICE[letter], f"{letter} by {voter}", now)
    return p


# rule, participants, quorum, votes, expected status, expected outcome (no judge)
TABLE = [
    # majority: 2/3 of the votes cast, decided as soon as it is certain
    (Rule.MAJORITY, 3, None, "aa-", Status.DECIDED, Outcome.APPROVED),
    (Rule.MAJORITY, 3, None, "a--", Status.OPEN, None),
    (Rule.MAJORITY, 3, None, "aar", Status.DECIDED, Outcome.APPROVED),
    (Rule.MAJORITY, 3, None, "arr", Status.DECIDED, Outcome.REJECTED),
    (Rule.MAJORITY, 3, None, "rr-", Status.DECIDED, Outcome.REJECTED),
    (Rule.MAJORITY, 3, None, "ar-", Status.OPEN, None),
    (Rule.MAJORITY, 3, None, "ars", Status.DECIDED, Outcome.NO_CONSENSUS),  # a tie: split
    (Rule.MAJORITY, 3, None, "ass", Status.DECIDED, Outcome.APPROVED),  # abstain shrinks
    (Rule.MAJORITY, 3, None, "sss", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.MAJORITY, 4, None, "aar-", Status.OPEN, None),
    (Rule.MAJORITY, 4, None, "aarr", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.MAJORITY, 4, None, "aaar", Status.DECIDED, Outcome.APPROVED),
    (Rule.MAJORITY, 5, None, "aaa--", Status.OPEN, None),
    (Rule.MAJORITY, 5, None, "aaaa-", Status.DECIDED, Outcome.APPROVED),
    (Rule.MAJORITY, 3, None, "acc", Status.OPEN, None),  # CONTINUE: not finished yet
    (Rule.MAJORITY, 3, None, "aac", Status.DECIDED, Outcome.APPROVED),
    # unanimous: everyone approves (abstentions allowed); waits for every ballot
    (Rule.UNANIMOUS, 3, None, "aaa", Status.DECIDED, Outcome.APPROVED),
    (Rule.UNANIMOUS, 3, None, "aas", Status.DECIDED, Outcome.APPROVED),
    (Rule.UNANIMOUS, 3, None, "aa-", Status.OPEN, None),
    (Rule.UNANIMOUS, 3, None, "aar", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.UNANIMOUS, 3, None, "rrr", Status.DECIDED, Outcome.REJECTED),
    (Rule.UNANIMOUS, 3, None, "sss", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.UNANIMOUS, 3, None, "aac", Status.OPEN, None),
    # quorum: that many approvals; fails when they can no longer come
    (Rule.QUORUM, 3, 2, "aa-", Status.DECIDED, Outcome.APPROVED),
    (Rule.QUORUM, 3, 2, "a--", Status.OPEN, None),
    (Rule.QUORUM, 3, 2, "rr-", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.QUORUM, 3, 2, "ar-", Status.OPEN, None),
    (Rule.QUORUM, 3, 2, "ars", Status.DECIDED, Outcome.NO_CONSENSUS),
    (Rule.QUORUM, 5, 1, "r-a--", Status.DECIDED, Outcome.APPROVED),
]


@pytest.mark.parametrize(("rule", "n", "quorum", "pattern", "status", "outcome"), TABLE)
def test_rule_and_votes_give_the_expected_status(
    rule: Rule, n: int, quorum: int | None, pattern: str, status: Status, outcome: Outcome | None
) -> None:
    """Each rule and vote pattern ends in the status and outcome of the table."""
    p = vote(proposal(rule, n, quorum=quorum), pattern)
    assert (p.status, p.outcome) == (status, outcome)


@pytest.mark.parametrize(("rule", "n", "quorum", "pattern", "status", "outcome"), TABLE)
def test_a_split_goes_to_the_judge(
    rule: Rule, n: int, quorum: int | None, pattern: str, status: Status, outcome: Outcome | None
) -> None:
    """With a judge, a proposal that cannot meet its rule is escalated instead of ended."""
    p = vote(proposal(rule, n, quorum=quorum, judge=JUDGE), pattern)
    if outcome is Outcome.NO_CONSENSUS:
        assert (p.status, p.outcome) == (Status.ESCALATED, None)
        assert "split" in p.reason
    else:
        assert (p.status, p.outcome) == (status, outcome)


def test_without_a_judge_no_consensus_says_why() -> None:
    """A split without a judge ends as no_consensus with the counts in its reason."""
    p = vote(proposal(), "ars")
    assert p.outcome is Outcome.NO_CONSENSUS
    assert p.reason == (
        "split: the rule (majority (at least 2/3 of the votes)) cannot be met "
        "(1 approve, 1 reject, 1 abstain, 0 pending)"
    )


@pytest.mark.parametrize(
    ("choice", "outcome"),
    [
        (Choice.APPROVE, Outcome.APPROVED),
        (Choice.REJECT, Outcome.REJECTED),
        (Choice.ABSTAIN, Outcome.NO_CONSENSUS),
    ],
)
def test_the_judge_ruling_decides(choice: Choice, outcome: Outcome) -> None:
    """The judge's ruling on an escalated proposal decides it, with the reason kept."""
    p = vote(proposal(judge=JUDGE), "ars")
    p = cast(p, JUDGE, choice, "because", 5.0)
    assert (p.status, p.outcome, p.decided_at) == (Status.DECIDED, outcome, 5.0)
    assert p.ruling is not None and p.ruling.reason == "because"
    assert "judge" in p.reason


def test_only_the_judge_rules_an_escalated_proposal() -> None:
    """Participants cannot vote once it is escalated; the judge cannot vote before."""
    p = proposal(judge=JUDGE)
    with pytest.raises(Refusal) as refused:
        cast(p, JUDGE, Choice.APPROVE, "", 1.0)
    assert refused.value.code == "not_participant"
    p = vote(p, "ars")
    with pytest.raises(Refusal) as refused:
        cast(p, A, Choice.REJECT, "", 2.0)
    assert refused.value.code == "proposal_closed"


def test_a_non_participant_vote_is_refused_clearly() -> None:
    """A vote from someone not asked raises not_participant naming the participants."""
    with pytest.raises(Refusal) as refused:
        cast(proposal(), D, Choice.APPROVE, "", 1.0)
    assert refused.value.code == "not_participant"
    assert A in refused.value.message and D in refused.value.message


def test_a_changed_vote_replaces_the_first_one() -> None:
    """A participant's second vote replaces its first: one ballot per participant."""
    p = vote(proposal(n=4), "ar--")
    p = cast(p, B, Choice.APPROVE, "convinced", 2.0)
    assert [(b.voter, b.choice) for b in p.ballots] == [(A, Choice.APPROVE), (B, Choice.APPROVE)]
    assert tally(p).approve == 2 and tally(p).reject == 0


def test_late_votes_are_refused_after_the_decision() -> None:
    """A vote after the proposal is decided is refused and changes nothing."""
    p = vote(proposal(), "aa-")
    with pytest.raises(Refusal) as refused:
        cast(p, C, Choice.REJECT, "too late", 3.0)
    assert refused.value.code == "proposal_closed"


def test_the_tally_is_deterministic_whatever_the_vote_order() -> None:
    """The same ballots cast in another order give the same tally and outcome."""
    first = vote(proposal(n=4), "aar-")
    second = proposal(n=4)
    for voter, choice in [(C, Choice.REJECT), (B, Choice.APPROVE), (A, Choice.APPROVE)]:
        second = cast(second, voter, choice, "", 1.0)
    assert tally(first) == tally(second)


def test_a_proposal_survives_its_dict_form() -> None:
    """to_dict and from_dict round-trip every field, ballots and ruling included."""
    p = cast(vote(proposal(judge=JUDGE), "ars"), JUDGE, Choice.APPROVE, "ok", 3.0)
    p = dataclasses.replace(p, context={"file": "x.py"}, cid="c1", tags=True)
    assert Proposal.from_dict(p.to_dict()) == p
    assert p.to_dict()["tally"]["approve"] == 1


# --- deadlines ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "pattern", "judge", "status", "outcome"),
    [
        (Rule.MAJORITY, "aa-", None, Status.DECIDED, Outcome.APPROVED),
        (Rule.MAJORITY, "ar-", None, Status.EXPIRED, Outcome.NO_CONSENSUS),
        (Rule.MAJORITY, "a--", None, Status.EXPIRED, Outcome.NO_CONSENSUS),
        (Rule.MAJORITY, "a--", JUDGE, Status.ESCALATED, None),
        (Rule.MAJORITY, "---", None, Status.EXPIRED, Outcome.NO_CONSENSUS),
        (Rule.UNANIMOUS, "aa-", None, Status.EXPIRED, Outcome.NO_CONSENSUS),
        (Rule.UNANIMOUS, "aa-", JUDGE, Status.ESCALATED, None),
        (Rule.QUORUM, "a--", None, Status.EXPIRED, Outcome.NO_CONSENSUS),
    ],
)
def test_the_deadline_closes_or_escalates(
    rule: Rule, pattern: str, judge: str | None, status: Status, outcome: Outcome | None
) -> None:
    """At the deadline the ballots cast decide; without a quorum it expires or escalates."""
    p = vote(proposal(rule, quorum=2 if rule is Rule.QUORUM else None, judge=judge,
                      deadline=10.0), pattern)  # fmt: skip
    assert settle(p, 9.9) == p
    p = settle(p, 10.0)
    assert (p.status, p.outcome) == (status, outcome)
    if status is Status.EXPIRED:
        assert "deadline" in p.reason


def test_an_escalated_proposal_expires_if_the_judge_never_rules() -> None:
    """A judge who does not rule before a (new) deadline leaves it expired."""
    p = vote(proposal(judge=JUDGE), "ars")
    p = dataclasses.replace(p, deadline=20.0)
    p = settle(p, 20.0)
    assert (p.status, p.outcome) == (Status.EXPIRED, Outcome.NO_CONSENSUS)


# --- withdraw and tags ------------------------------------------------------------------


def test_only_the_author_withdraws_an_open_proposal() -> None:
    """The author withdraws; others are refused; a decided one cannot be withdrawn."""
    p = proposal()
    with pytest.raises(Refusal):
        withdraw(p, A, "", 1.0)
    assert withdraw(p, AUTHOR, "changed my mind", 1.0).status is Status.WITHDRAWN
    with pytest.raises(Refusal):
        withdraw(vote(p, "aa-"), AUTHOR, "", 2.0)


@pytest.mark.parametrize(
    ("body", "choice"),
    [
        ("looks good [LGTM]", Choice.APPROVE),
        ("[continue] still missing tests", Choice.CONTINUE),
        ("[CONTINUE] then later [LGTM]", Choice.APPROVE),
        ("no tag here", None),
    ],
)
def test_tags_map_to_ballots(body: str, choice: Choice | None) -> None:
    """[LGTM] is approve and [CONTINUE] not finished yet; the last tag wins."""
    assert tag_choice(body) == choice


# --- properties ---------------------------------------------------------------------------

VOTES = st.lists(
    st.tuples(st.sampled_from([A, B, C, D]), st.sampled_from(list(Choice))), max_size=12
)


@settings(max_examples=100, deadline=None)
@given(rule=st.sampled_from(list(Rule)), votes=VOTES, judge=st.booleans())
def test_the_tally_depends_only_on_each_voters_last_ballot(
    rule: Rule, votes: list[tuple[str, Choice]], judge: bool
) -> None:
    """Replaying the ballots, or only each voter's last one, gives the same end state;
    a final proposal never changes again."""
    start = proposal(rule, 4, quorum=2, judge=JUDGE if judge else None)
    p = start
    for voter, choice in votes:
        try:
            after = cast(p, voter, choice, "", 1.0)
        except Refusal:
            assert p.status is not Status.OPEN
            continue
        assert not p.final or after == p
        p = after
    t = tally(p)
    assert t.approve + t.reject + t.abstain + t.pending == 4
    assert len({b.voter for b in p.ballots}) == len(p.ballots)
    if p.status is Status.OPEN:
        last = {voter: choice for voter, choice in votes}
        replay = start
        for voter, choice in last.items():
            replay = cast(replay, voter, choice, "", 1.0)
        assert (replay.status, tally(replay)) == (p.status, t)
