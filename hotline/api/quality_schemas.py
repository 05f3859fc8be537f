"""Request and response shapes of the quality API. Rule: the API shows records, never rows."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field, computed_field

from hotline.api.schemas import Out, UtteranceOut
from hotline.quality.review import HISTORY_LABELS


class ScoredCallOut(Out):
    call_id: str
    pack: str  # "<pack id>@<version>"
    recording_id: int | None
    agent: str | None
    queue: str | None
    call_started_at: datetime
    ring_seconds: float | None
    within_rule: bool | None  # answered within 3 rings
    auto_score: float  # the scorer's
    auto_band: str
    instant_fail: bool
    score: float  # current: from the verdicts (the final score once finalised)
    version: int = 1  # send it back as If-Match: "<version>" with a review decision
    band: str
    status: str  # open, finalised
    final_score: float | None
    finalised_by: str | None
    finalised_at: datetime | None
    updated_at: datetime


class HitOut(Out):
    id: int
    rule: str
    channel: str  # agent, customer, or call (call metrics)
    start: float  # seconds from the start of the recording
    end: float
    evidence: str
    conf: float
    deduction: float  # the scorer's (0 while it needs review)
    points: float  # taken off once confirmed
    needs_review: bool
    instant_fail: bool
    verdict: str  # pending, confirmed, overturned
    verdict_by: str | None
    verdict_at: datetime | None
    verdict_comment: str | None


class CommentOut(Out):
    id: int
    hit_id: int | None
    author: str
    at: datetime
    text: str


class AppealOut(Out):
    id: int
    call_id: str
    hit_id: int
    agent: str | None
    opened_by: str
    reason: str
    state: str  # open, withdrawn, accepted, rejected
    opened_at: datetime
    closed_by: str | None
    closed_at: datetime | None
    decision_reason: str | None


class HistoryOut(Out):
    at: datetime
    actor: str
    # scored, rescored, confirmed, overturned, score, comment, finalise, reopen, appeal_…
    action: str
    hit_id: int | None
    appeal_id: int | None
    before: str | None
    after: str | None
    detail: str | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        """The action in Chinese, as the history is shown."""
        return HISTORY_LABELS.get(self.action, self.action)


class ScoreDetailOut(Out):
    call: ScoredCallOut
    hits: list[HitOut]
    pending_review: int
    comments: list[CommentOut]
    appeals: list[AppealOut]
    history: list[HistoryOut]
    recording_id: int | None  # play it with GET /api/recordings/{id}/audio
    utterances: list[UtteranceOut]  # the transcript, both channels in time order


class QueueItemOut(Out):
    call: ScoredCallOut
    pending_review: int
    reasons: list[str]  # needs_review, low_score, sample (抽查)


class QueueOut(Out):
    period: str
    since: datetime
    until: datetime
    sample_percent: float
    items: list[QueueItemOut]


class VerdictIn(BaseModel):
    comment: str | None = Field(None, max_length=2000)


class CommentIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000)
    hit_id: int | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class GroupOut(Out):
    name: str
    calls: int
    finalised: int
    average: float | None
    ring_rate: float | None  # share answered within 3 rings, of the calls where it is known
    hits: dict[str, int]


class RuleOut(Out):
    rule: str
    name: str
    hits: int
    confirmed: int
    calls: int


class WorstOut(Out):
    call_id: str
    agent: str | None
    queue: str | None
    started_at: datetime
    score: float
    band: str
    finalised: bool
    rules: list[str]


class ReportOut(Out):
    title: str
    period: str
    first_day: str
    last_day: str
    total: GroupOut
    agents: list[GroupOut]
    teams: list[GroupOut]
    rules: list[RuleOut]
    worst: list[WorstOut]
