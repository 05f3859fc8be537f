"""The plain records the quality store hands out, and their row-to-record converters.
Rule: a record is frozen data detached from any session; nobody changes it after the store."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from hotline.core.db import Base
from hotline.quality.review import AppealState, HitState, ReviewStatus, Verdict
from hotline.quality.tables import AppealRow, CommentRow, HistoryRow, HitRow, ScoreRow

_R = TypeVar("_R")


@dataclass(frozen=True, slots=True)
class ScoredCall:
    id: int
    call_id: str
    pack: str
    recording_id: int | None
    agent: str | None
    queue: str | None
    call_started_at: datetime
    ring_seconds: float | None
    within_rule: bool | None
    auto_score: float
    auto_band: str
    instant_fail: bool
    score: float  # current (the final score once finalised)
    band: str
    status: ReviewStatus
    final_score: float | None
    finalised_by: str | None
    finalised_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int = 1  # bumped by every review decision (compare-and-set)


@dataclass(frozen=True, slots=True)
class HitRecord:
    id: int
    rule: str
    channel: str
    start: float
    end: float
    evidence: str
    conf: float
    deduction: float
    points: float
    needs_review: bool
    instant_fail: bool
    verdict: Verdict
    verdict_by: str | None
    verdict_at: datetime | None
    verdict_comment: str | None

    @property
    def state(self) -> HitState:
        return HitState(self.points, self.needs_review, self.instant_fail, self.verdict)


@dataclass(frozen=True, slots=True)
class Comment:
    id: int
    hit_id: int | None
    author: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class Appeal:
    id: int
    call_id: str
    hit_id: int
    agent: str | None
    opened_by: str
    reason: str
    state: AppealState
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    decision_reason: str | None


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: int
    at: datetime
    actor: str
    action: str
    hit_id: int | None
    appeal_id: int | None
    before: str | None
    after: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class ScoreDetail:
    call: ScoredCall
    hits: tuple[HitRecord, ...]
    comments: tuple[Comment, ...]
    appeals: tuple[Appeal, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def pending_review(self) -> int:
        return sum(1 for h in self.hits if h.verdict is Verdict.PENDING and h.needs_review)


def _copy(cls: type[_R], row: Base, **changes: Any) -> _R:
    """A record from a row of the same field names (`changes` for the others)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{n: changes[n] if n in changes else getattr(row, n) for n in names})


def to_call(r: ScoreRow) -> ScoredCall:
    return _copy(ScoredCall, r, status=ReviewStatus(r.status))


def to_hit(r: HitRow) -> HitRecord:
    return _copy(HitRecord, r, start=r.start_s, end=r.end_s, verdict=Verdict(r.verdict))


def to_comment(r: CommentRow) -> Comment:
    return _copy(Comment, r)


def to_appeal(r: AppealRow) -> Appeal:
    return _copy(Appeal, r, state=AppealState(r.state))


def to_history(r: HistoryRow) -> HistoryEntry:
    return _copy(HistoryEntry, r)
