"""The inspector's decisions without a database: scores from verdicts, finalising, appeals,
the 抽查 sample and the order of the review queue (periods: tests/core/test_periods.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline.core.errors import Conflict
from hotline.quality.model import Hit
from hotline.quality.review import (
    AppealAction,
    AppealState,
    Candidate,
    HitState,
    QueueReason,
    ReviewRules,
    Verdict,
    appeal_move,
    check_new_appeal,
    final_verdicts,
    review_queue,
    sample,
    score_of,
)

P, C, X = Verdict.PENDING, Verdict.CONFIRMED, Verdict.OVERTURNED
T0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def hit(
    points: float, verdict: Verdict = P, *, review: bool = False, fail: bool = False
) -> HitState:
    return HitState(points, review, fail, verdict)


def test_a_scored_call_loses_the_points_of_the_hits_that_count() -> None:
    # the scorer's deductions count until overturned; a needs-review hit only once confirmed
    assert score_of([]) == 100.0
    assert score_of([hit(15), hit(10)]) == 75.0
    assert score_of([hit(15, X), hit(10)]) == 90.0
    assert score_of([hit(15), hit(5, review=True)]) == 85.0
    assert score_of([hit(15), hit(5, C, review=True)]) == 80.0
    assert score_of([hit(60), hit(60)]) == 0.0  # never below 0


def test_an_instant_fail_hit_makes_the_call_zero_only_while_it_counts() -> None:
    assert score_of([hit(0, fail=True), hit(5)]) == 0.0
    assert score_of([hit(0, X, fail=True), hit(5)]) == 95.0
    assert score_of([hit(0, review=True, fail=True)]) == 100.0  # unsure: a person decides
    assert score_of([hit(0, C, review=True, fail=True)]) == 0.0


def test_a_needs_review_hit_confirmed_takes_off_the_rules_weight() -> None:
    rules = ReviewRules()
    unsure = Hit("forbidden_phrase", "agent", 12.0, 13.1, "我不知道", 0.41, 0.0, True)
    sure = Hit("closing_missing", "agent", 80.0, 90.0, "（无结束语）", 0.9, 10.0, False)
    assert rules.points(unsure) == 15.0 and rules.points(sure) == 10.0
    assert [rules.band(s) for s in (100, 90, 89.9, 80, 60, 59.9)] == [
        "优秀", "优秀", "良好", "良好", "合格", "不合格",
    ]  # fmt: skip


def test_finalising_needs_every_unsure_hit_decided() -> None:
    with pytest.raises(Conflict) as err:
        final_verdicts([hit(10), hit(15, review=True)])
    assert "待复核" in err.value.message and "needs-review" in err.value.message
    assert err.value.error_id == "review_pending"
    # the scorer's own deductions are taken as confirmed; decided ones stay
    assert final_verdicts([hit(10), hit(15, X, review=True), hit(5, C)]) == [C, X, C]


def test_appeals_move_from_open_only() -> None:
    assert appeal_move(AppealState.OPEN, AppealAction.WITHDRAW) is AppealState.WITHDRAWN
    assert appeal_move(AppealState.OPEN, AppealAction.ACCEPT) is AppealState.ACCEPTED
    assert appeal_move(AppealState.OPEN, AppealAction.REJECT) is AppealState.REJECTED
    for state in (AppealState.WITHDRAWN, AppealState.ACCEPTED, AppealState.REJECTED):
        for action in AppealAction:
            with pytest.raises(Conflict) as err:
                appeal_move(state, action)
            assert err.value.error_id == "appeal_closed" and state.value in err.value.message
    with pytest.raises(Conflict, match="已驳回，不能撤销"):
        appeal_move(AppealState.REJECTED, AppealAction.WITHDRAW)


def test_one_open_appeal_per_hit_and_a_decided_one_is_final() -> None:
    check_new_appeal(P, [])
    check_new_appeal(C, [AppealState.WITHDRAWN])  # withdrawn: may appeal again
    with pytest.raises(Conflict, match="处理中的申诉"):
        check_new_appeal(P, [AppealState.WITHDRAWN, AppealState.OPEN])
    with pytest.raises(Conflict, match="已处理"):
        check_new_appeal(C, [AppealState.REJECTED])
    with pytest.raises(Conflict, match="已被撤销"):
        check_new_appeal(X, [])


def calls(agent: str, n: int, *, score: float = 100.0) -> list[Candidate]:
    return [
        Candidate(f"{agent}.{i}", agent, score, T0 + timedelta(minutes=i), 0, False)
        for i in range(n)
    ]


def test_the_sample_takes_a_share_of_each_agents_calls_the_same_every_time() -> None:
    pool = calls("1001", 40) + calls("1002", 3) + calls("1003", 1)
    picked = sample(pool, "2024-W47", 5.0, seed="s")
    by_agent = {a: {c for c in picked if c.startswith(a)} for a in ("1001", "1002", "1003")}
    assert [len(v) for v in by_agent.values()] == [2, 1, 1]  # 5 % of 40; at least one each
    assert sample(pool, "2024-W47", 5.0, seed="s") == picked  # deterministic
    others = [sample(pool, f"2024-W{w}", 5.0, seed="s") for w in range(10, 20)]
    assert any(o != picked for o in others)  # another period, other calls
    assert len(sample(pool, "2024-W47", 50.0, seed="s")) == 20 + 2 + 1
    assert sample(pool, "2024-W47", 0.0) == set()  # 抽查 switched off


def test_the_queue_puts_unsure_calls_first_then_the_lowest_and_the_sampled_good_ones() -> None:
    good = calls("1001", 3)
    low = Candidate("low", "1002", 55.0, T0, 0, False)
    lower_but_done = Candidate("done", "1002", 20.0, T0, 0, True)
    unsure = Candidate("unsure", "1003", 95.0, T0, 2, False)
    mid = Candidate("mid", "1002", 85.0, T0, 0, False)
    queue = review_queue(
        [*good, low, lower_but_done, unsure, mid], {"1001.1", "done"}, low_below=90.0
    )
    assert [(e.call_id, e.reasons) for e in queue] == [
        ("unsure", (QueueReason.NEEDS_REVIEW,)),
        ("low", (QueueReason.LOW_SCORE,)),
        ("mid", (QueueReason.LOW_SCORE,)),
        ("1001.1", (QueueReason.SAMPLE,)),
    ]
