"""The inspector's decisions as pure logic. Rule: a call's score always follows from its hits'
verdicts: 100 minus the points of the hits that count, 0 when an instant-fail hit counts.

A hit counts when an inspector confirmed it, or while it is pending and the scorer deducted
it (not `needs_review`). A needs-review hit carries deduction 0 from the scorer; its points
if confirmed are the rule's weight (`ReviewRules.weights`, the default pack's by default).

Also here: the review queue's order, the 抽查 sample per agent and period (a
`hotline.core.periods.Period`, named by its key) and the appeal state machine.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hotline.core.errors import Conflict
from hotline.quality.model import Hit
from hotline.quality.pack import Pack

# the default zh-CN pack's weights (points taken off when a hit is confirmed)
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "greeting_missing": 10.0,
    "greeting_agent_number": 5.0,
    "closing_missing": 10.0,
    "forbidden_phrase": 15.0,
    "politeness": 5.0,
    "speech_rate_fast": 5.0,
    "speech_rate_slow": 5.0,
    "interruption": 5.0,
    "silence_long": 5.0,
    "answer_late": 10.0,
    "abusive_language": 0.0,
}
DEFAULT_INSTANT_FAIL = frozenset({"abusive_language"})
DEFAULT_BANDS: tuple[tuple[float, str], ...] = ((90.0, "优秀"), (80.0, "良好"), (60.0, "合格"))
LOWEST_BAND = "不合格"


class Verdict(StrEnum):
    PENDING = "pending"  # not decided by a person yet
    CONFIRMED = "confirmed"
    OVERTURNED = "overturned"


class ReviewStatus(StrEnum):
    OPEN = "open"  # scored, maybe partly reviewed
    FINALISED = "finalised"  # an inspector fixed the final score


class AppealState(StrEnum):
    OPEN = "open"  # 发起
    WITHDRAWN = "withdrawn"  # 撤销
    ACCEPTED = "accepted"  # 同意: the hit is overturned
    REJECTED = "rejected"  # 驳回


class AppealAction(StrEnum):
    WITHDRAW = "withdraw"
    ACCEPT = "accept"
    REJECT = "reject"


APPEAL_MOVES: Mapping[tuple[AppealState, AppealAction], AppealState] = {
    (AppealState.OPEN, AppealAction.WITHDRAW): AppealState.WITHDRAWN,
    (AppealState.OPEN, AppealAction.ACCEPT): AppealState.ACCEPTED,
    (AppealState.OPEN, AppealAction.REJECT): AppealState.REJECTED,
}
_STATE_ZH = {
    AppealState.OPEN: "处理中",
    AppealState.WITHDRAWN: "已撤销",
    AppealState.ACCEPTED: "已同意",
    AppealState.REJECTED: "已驳回",
}
_ACTION_ZH = {
    AppealAction.WITHDRAW: "撤销",
    AppealAction.ACCEPT: "同意",
    AppealAction.REJECT: "驳回",
}
# A score's history steps (store.py writes them) as an inspector reads them.
HISTORY_LABELS: Mapping[str, str] = {
    "scored": "自动评分",
    "rescored": "按新规则包重新评分",
    "rescore_kept": "已定稿，新评分仅记录",
    Verdict.PENDING.value: "恢复待复核",
    Verdict.CONFIRMED.value: "确认扣分",
    Verdict.OVERTURNED.value: "推翻扣分",
    "score": "得分变更",
    "comment": "评语",
    "finalise": "定稿",
    "reopen": "重新打开",
    "appeal_open": "发起申诉",
    **{f"appeal_{a.value}": f"申诉{label}" for a, label in _ACTION_ZH.items()},
}


@dataclass(frozen=True, slots=True)
class ReviewRules:
    """What the store needs of the rule pack: weights, instant-fail rules and bands."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    instant_fail: frozenset[str] = DEFAULT_INSTANT_FAIL
    bands: tuple[tuple[float, str], ...] = DEFAULT_BANDS  # (minimum score, label), best first
    lowest_band: str = LOWEST_BAND

    def points(self, hit: Hit) -> float:
        """Points the hit takes off once confirmed: the scorer's, else the rule's weight."""
        return hit.deduction if hit.deduction > 0 else float(self.weights.get(hit.rule, 0.0))

    def band(self, score: float) -> str:
        return next((label for low, label in self.bands if score >= low), self.lowest_band)


@dataclass(frozen=True, slots=True)
class HitState:
    """A stored hit as the score sees it."""

    points: float
    needs_review: bool
    instant_fail: bool
    verdict: Verdict

    @property
    def counts(self) -> bool:
        if self.verdict is Verdict.PENDING:
            return not self.needs_review
        return self.verdict is Verdict.CONFIRMED


def score_of(hits: Iterable[HitState]) -> float:
    """100 minus the points of the hits that count; 0 on a counted instant-fail hit."""
    counted = [h for h in hits if h.counts]
    if any(h.instant_fail for h in counted):
        return 0.0
    return round(max(0.0, 100.0 - sum(h.points for h in counted)), 1)


def final_verdicts(hits: Sequence[HitState]) -> list[Verdict]:
    """The verdicts a finalised call keeps: a pending needs-review hit blocks finalising; a
    pending scorer deduction is taken as confirmed."""
    undecided = sum(1 for h in hits if h.verdict is Verdict.PENDING and h.needs_review)
    if undecided:
        raise Conflict(
            f"还有 {undecided} 条待复核命中未处理，不能定稿 (the call still has {undecided} "
            "needs-review hit(s) pending: confirm or overturn each before finalising)",
            error_id="review_pending",
        )
    return [Verdict.CONFIRMED if h.verdict is Verdict.PENDING else h.verdict for h in hits]


def check_open(call_id: str, status: ReviewStatus, finalised_by: str | None) -> None:
    """A finalised score is frozen: its verdicts change only after an inspector reopens it."""
    if status is ReviewStatus.FINALISED:
        raise Conflict(
            f"通话 {call_id} 的评分已由 {finalised_by} 定稿，不能再更改；如需更正，请先重开 "
            f"(call {call_id!r} was finalised by {finalised_by}, so its verdicts are frozen: "
            f"reopen it first with POST /api/quality/scores/{call_id}/reopen and a reason)",
            error_id="score_finalised",
        )


# --- appeals ------------------------------------------------------------------------------


def appeal_move(state: AppealState, action: AppealAction) -> AppealState:
    """The appeal's next state; a clear Conflict for an illegal move."""
    nxt = APPEAL_MOVES.get((state, action))
    if nxt is None:
        raise Conflict(
            f"申诉{_STATE_ZH[state]}，不能{_ACTION_ZH[action]} (the appeal is {state.value}; "
            f"only an open appeal can be {action.value}ed: see GET /api/quality/appeals)",
            error_id="appeal_closed",
        )
    return nxt


def check_new_appeal(verdict: Verdict, earlier: Iterable[AppealState]) -> None:
    """One open appeal per hit; a decided appeal is final; an overturned hit needs none."""
    states = set(earlier)
    if AppealState.OPEN in states:
        raise Conflict(
            "该命中已有处理中的申诉 (this hit already has an open appeal: wait for the "
            "inspector's decision, or withdraw it first)",
            error_id="appeal_open",
        )
    if states & {AppealState.ACCEPTED, AppealState.REJECTED}:
        raise Conflict(
            "该命中的申诉已处理，不能再次申诉 (an appeal on this hit was already decided; "
            "talk to your supervisor if you disagree)",
            error_id="appeal_decided",
        )
    if verdict is Verdict.OVERTURNED:
        raise Conflict(
            "该命中已被撤销，无需申诉 (this hit is already overturned: it takes no points off)",
            error_id="hit_overturned",
        )


# --- the review queue ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the queue needs to know of one scored call."""

    call_id: str
    agent: str | None
    score: float
    started_at: datetime
    pending_review: int  # pending needs-review hits
    finalised: bool


class QueueReason(StrEnum):
    NEEDS_REVIEW = "needs_review"  # a hit the scorer was unsure of
    LOW_SCORE = "low_score"
    SAMPLE = "sample"  # 抽查


@dataclass(frozen=True, slots=True)
class QueueEntry:
    call_id: str
    reasons: tuple[QueueReason, ...]


def decides_own(
    appellant: str, call_agent: str | None, actor: str, actor_agent: str | None
) -> bool:
    """Separation of duties: whether deciding this appeal would be deciding one's own (the
    person who opened it, or the agent whose call it is, e.g. an inspector who also
    answers calls)."""
    return actor == appellant or (actor_agent is not None and actor_agent == call_agent)


def sample(
    calls: Iterable[Candidate], period_key: str, percent: float, seed: str = "hotline"
) -> set[str]:
    """抽查: per agent, `percent` % of their calls in the period (rounded up, at least one
    when they have calls; none when percent is 0), picked by a hash of call id, period and
    seed: the same calls every time the queue is asked for, unpredictable to agents."""
    if percent <= 0:
        return set()
    by_agent: dict[str | None, list[str]] = defaultdict(list)
    for c in calls:
        by_agent[c.agent].append(c.call_id)
    picked: set[str] = set()
    for ids in by_agent.values():
        n = max(1, math.ceil(len(ids) * percent / 100 - 1e-9))
        ranked = sorted(
            ids, key=lambda i: hashlib.sha256(f"{seed}|{period_key}|{i}".encode()).hexdigest()
        )
        picked.update(ranked[:n])
    return picked


def review_queue(
    calls: Sequence[Candidate], sampled: set[str], *, low_below: float = 90.0
) -> list[QueueEntry]:
    """Calls with needs-review hits first, then lowest score first; a call is in the queue
    when it needs review, scored below `low_below`, or was sampled. Finalised calls are out."""
    entries: list[tuple[tuple[int, float, datetime, str], QueueEntry]] = []
    for c in calls:
        if c.finalised:
            continue
        reasons: list[QueueReason] = []
        if c.pending_review:
            reasons.append(QueueReason.NEEDS_REVIEW)
        if c.score < low_below:
            reasons.append(QueueReason.LOW_SCORE)
        if c.call_id in sampled:
            reasons.append(QueueReason.SAMPLE)
        if reasons:
            key = (0 if c.pending_review else 1, c.score, c.started_at, c.call_id)
            entries.append((key, QueueEntry(c.call_id, tuple(reasons))))
    return [e for _, e in sorted(entries, key=lambda kv: kv[0])]


def rules_from_pack(pack: Pack) -> ReviewRules:
    """What the store needs of a loaded pack: each enabled rule's deduction, the
    instant-fail rules, and the bands."""
    enabled = [(name, rule) for name, rule in pack.rules if rule is not None and rule.enabled]
    return ReviewRules(
        weights={name: float(rule.deduct) for name, rule in enabled},
        instant_fail=frozenset(name for name, rule in enabled if rule.instant_fail),
        bands=tuple((b.min, b.label) for b in pack.config.bands),
        lowest_band=pack.lowest_band,
    )
