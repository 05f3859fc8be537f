"""Response and request shapes of the HTTP API. Rule: the API shows records, never rows.

`Out` is the one base of every response shape read from a record (all schema modules use
it), and `UtteranceOut` the one shape of a transcript line, wherever a transcript is shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from hotline.core.jobs import JobState
from hotline.telephony.model import CallRecord
from hotline.telephony.survey import LABELS as SURVEY_LABELS

if TYPE_CHECKING:
    from hotline.asr.transcript import Transcript


class Out(BaseModel):
    """A response read from a record's attributes (dataclasses, not rows)."""

    model_config = ConfigDict(from_attributes=True)


class UtteranceOut(Out):
    channel: str  # customer (left), agent (right) or mixed
    start: float  # seconds from the start of the recording
    end: float
    text: str  # normalized: no spaces between Chinese words, simplified characters

    @classmethod
    def all_of(cls, transcript: Transcript | None) -> list[UtteranceOut]:
        """Both channels' utterances in time order, for reading; empty ones left out."""
        if transcript is None:
            return []
        return [
            cls(channel=u.channel.value, start=u.start, end=u.end, text=u.normalized)
            for u in transcript.utterances
            if u.normalized
        ]


class AttemptOut(Out):
    queue: str
    member: str
    interface: str
    channel: str
    started_at: datetime
    result: str
    ring_ms: int | None


class VisitOut(Out):
    queue: str
    joined_at: datetime
    position: int | None
    left_at: datetime | None
    result: str | None
    hold_s: int | None


class CallOut(Out):
    call_id: str
    linkedid: str
    direction: str
    caller_number: str | None
    caller_name: str | None
    dialled: str | None
    queue: str | None
    agent_member: str | None
    agent_interface: str | None
    agent_channel: str | None
    entered_at: datetime
    queue_joined_at: datetime | None
    ring_started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    ring_seconds: float | None
    rings: int | None
    within_rule: bool | None
    wait_seconds: float | None
    talk_seconds: float | None
    hold_seconds: float
    hangup_by: str | None
    hangup_cause: int | None
    hangup_cause_text: str | None
    outcome: str
    recording_file: str | None
    callback_id: int | None
    visits: list[VisitOut]
    attempts: list[AttemptOut]
    survey_result: str | None = None  # satisfied / basic / unsatisfied / unrated; None: none
    survey_label: str | None = None  # 满意 / 基本满意 / 不满意 / 未评价

    @classmethod
    def of(cls, record: CallRecord) -> CallOut:
        out = cls.model_validate(record)
        if record.survey_result is not None:
            out.survey_label = SURVEY_LABELS[record.survey_result]
        return out


class CallPage(BaseModel):
    items: list[CallOut]
    total: int  # counted up to offset + 10,000: see total_capped
    offset: int
    limit: int
    total_capped: bool = False  # true: there are at least `total` calls
    next_cursor: str | None = None  # pass as ?cursor= for the next page; None: last page


class StatsOut(BaseModel):
    key: str | None
    calls: int
    answered: int
    within_rule: int
    within_rule_pct: float | None
    abandoned: int
    abandoned_pct: float | None
    average_speed_of_answer_s: float | None
    callbacks_done: int


class StatsReport(BaseModel):
    since: datetime | None
    until: datetime | None
    by: str
    ring_period_s: float
    max_rings: int
    rows: list[StatsOut]


class CallbackAttemptOut(Out):
    attempt_no: int
    action_id: str
    started_at: datetime
    finished_at: datetime | None
    verdict: str | None
    reason_code: int | None
    reason_text: str | None
    uniqueid: str | None
    stage: str  # originated, customer_answered, reached_context, queued, agent_connected
    leg_call_id: str | None  # the call this attempt placed (GET /api/calls/{id})
    leg_ended_at: datetime | None


class CallbackOut(Out):
    id: int
    call_id: str
    number: str
    reason: str
    connect_kind: str
    connect_target: str | None
    status: str
    attempts_made: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_result: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    attempts: list[CallbackAttemptOut]


class Health(BaseModel):
    status: str
    database: str
    ami: str
    mqtt: str
    open_calls: int


class JobOut(Out):
    id: int
    stage: str
    key: str
    version: int
    state: JobState
    reason: str | None
    attempts: int
    created_at: datetime | None
    updated_at: datetime | None
    run_after: datetime | None
