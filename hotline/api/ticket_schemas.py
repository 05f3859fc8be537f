"""Shapes of the ticket API. Rule: the API shows records, never rows; labels in Chinese
sit next to the English identifiers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field

from hotline.api.limits import SaneTime
from hotline.api.schemas import Out
from hotline.tickets.lifecycle import ACTION_LABELS, HISTORY_LABELS, allowed
from hotline.tickets.model import (
    CATEGORY_LABELS,
    SOURCE_LABELS,
    STATE_LABELS,
    VALIDITY_LABELS,
    Category,
    Deadlines,
    Evidence,
    FieldKind,
    Satisfaction,
    Source,
    Ticket,
    Validity,
)
from hotline.tickets.model import Field as TicketField
from hotline.tickets.records import (
    CallerHistory,
    FollowupAttempt,
    TicketEvent,
    TicketRecord,
)


class EvidenceIO(BaseModel):
    text: str
    start: float | None = None  # seconds from the start of the recording
    end: float | None = None


class FieldIO(BaseModel):
    kind: FieldKind
    value: str = Field(max_length=500)
    evidence: EvidenceIO


class DeadlinesOut(Out):
    dispatch_by: datetime | None
    contact_by: datetime | None
    done_by: datetime | None
    reply_by: datetime | None
    opinion_by: datetime | None  # a valid complaint's handling opinion


class ExtensionOut(Out):
    step: str
    new_due: datetime
    reason: str
    by: str
    at: datetime


class AttachmentOut(Out):
    id: int
    name: str
    content_type: str
    size: int
    sha256: str
    by: str
    at: datetime


class JudgementOut(Out):
    validity: str  # valid / invalid / special
    validity_label: str
    reason: str
    unit: str | None  # 被投诉单位
    agent: str | None  # 被投诉人员
    opinion_by: datetime | None


class TicketBrief(Out):
    id: int
    call_id: str | None
    state: str
    state_label: str
    category: str | None
    category_label: str | None
    summary: str
    unit: str | None
    created_at: datetime
    overdue: bool


class TicketOut(TicketBrief):
    version: int = Field(description='send it back as If-Match: "<version>" with an edit')
    recording_id: int | None
    caller_number: str | None
    agent: str | None  # first-contact owner (首问负责)
    urgent: bool
    complaint_level: int | None
    topic: str | None
    fields: list[FieldIO]
    evidence: list[EvidenceIO]  # what the category rests on
    summary_evidence: EvidenceIO | None
    confidence: float | None
    edited: bool
    deadlines: DeadlinesOut
    overdue_steps: list[str]
    dispatched_at: datetime | None
    started_at: datetime | None
    replied_at: datetime | None
    reply: str | None
    closed_at: datetime | None
    close_reason: str | None
    satisfaction: str | None
    reopened: int
    exposure: bool
    extension: ExtensionOut | None
    parent_id: int | None
    source: str
    source_label: str
    source_ref: str | None
    on_spot: bool  # 即时办结 (一次解决)
    followup_declined: bool
    followup_booked_at: datetime | None
    judgement: JudgementOut | None
    verify_state: str | None  # drawn for a check of the outcome: pending / passed / failed
    verify_note: str | None
    allowed_actions: list[str]
    allowed_labels: list[str]


class EventOut(Out):
    at: datetime
    actor: str
    role: str
    action: str
    label: str  # the action in Chinese, as the history is shown
    from_state: str | None
    to_state: str | None
    reason: str | None
    detail: dict[str, Any]


class FollowupOut(Out):
    round: int
    attempt_no: int
    planned_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    by: str
    result: str | None
    satisfaction: str | None
    note: str | None
    action_id: str | None
    ami_response: dict[str, Any] | None


class PastCallOut(Out):
    call_id: str
    entered_at: datetime
    outcome: str
    agent: str | None
    talk_seconds: float | None


class CallerHistoryOut(Out):
    calls: list[PastCallOut]
    tickets: list[TicketBrief]  # open ones first


class FollowupsOut(Out):
    next_attempt_at: datetime | None  # None: not due (not replied, reached, or used up)
    attempts: list[FollowupOut]


class TicketDetailOut(TicketOut):
    history: list[EventOut]
    caller_history: CallerHistoryOut
    followups: FollowupsOut


class TicketListOut(Out):
    items: list[TicketOut]
    total: int  # counted up to offset + 10,000 (total_capped: at least this many)
    total_capped: bool = False
    offset: int
    limit: int
    next_cursor: str | None = None  # pass as `cursor` for the next page; None on the last


class TicketPatch(BaseModel):
    category: Category | None = None
    fields: list[FieldIO] | None = Field(None, max_length=50, description="at most 50")
    summary: str | None = Field(None, max_length=2000)
    unit: str | None = Field(None, max_length=128)
    complaint_level: int | None = Field(None, ge=1, le=3)
    urgent: bool | None = None
    topic: str | None = Field(None, max_length=64)
    followup_declined: bool | None = Field(None, description="the customer said 不需要回访")
    followup_booked_at: datetime | None = Field(
        None, description="the 回访 time the customer booked (no zone = local)"
    )


class ActionIn(BaseModel):
    reason: str | None = Field(None, max_length=2000, description="why; the unit's answer")
    unit: str | None = Field(None, max_length=128, description="dispatch: the unit")
    satisfaction: Satisfaction | None = None


class TicketIn(BaseModel):
    """A ticket from a channel other than an answered call (by hand or by another system)."""

    source: Source = Field(
        description="government (12345), wechat, web, letter, visit, followup, phone"
    )
    source_ref: str | None = Field(None, max_length=64, description="the transfer's own number")
    category: Category
    summary: str = Field(min_length=1, max_length=4000, description="what the customer asks")
    caller_number: str | None = Field(None, max_length=64)
    unit: str | None = Field(None, max_length=128)
    urgent: bool = False
    complaint_level: int | None = Field(None, ge=1, le=3)
    received_at: datetime | None = Field(None, description="when it was received (no zone = local)")
    due: datetime | None = Field(None, description="a transfer's own deadline (no zone = local)")
    followup_declined: bool = Field(False, description="the customer said 不需要回访")
    followup_booked_at: datetime | None = Field(None, description="回访 time the customer booked")
    raised_from: int | None = Field(None, description="source followup: the ticket followed up")
    people: int = Field(1, ge=1, le=10_000, description="complainants together (集体投诉)")


class JudgeIn(BaseModel):
    validity: Validity = Field(description="valid 有效, invalid 无效 or special 特殊")
    reason: str = Field(min_length=1, max_length=2000)
    unit: str | None = Field(None, max_length=128, description="被投诉单位")
    agent: str | None = Field(None, max_length=128, description="被投诉人员")


class VerifyIn(BaseModel):
    passed: bool = Field(description="the outcome checked holds (核实合格)")
    note: str = Field("", max_length=2000, description="what was checked; why it failed")


class SplitIn(BaseModel):
    units: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        min_length=2, max_length=20, description="one ticket per unit (2 to 20); the first stays"
    )


class ExtensionIn(BaseModel):
    step: str = Field(max_length=16, description="dispatch, contact, done or reply")
    new_due: SaneTime = Field(description="the new deadline (no zone = local time)")
    reason: str = Field(min_length=1, max_length=2000)
    unit: str | None = Field(None, max_length=128, description="the unit asking")


class ApproveIn(BaseModel):
    reason: str | None = Field(None, max_length=2000)


class FollowupIn(BaseModel):
    result: str = Field(max_length=16, description="reached or unreachable")
    satisfaction: Satisfaction | None = None
    note: str | None = Field(None, max_length=2000)


# --- records -> shapes -------------------------------------------------------------------


def ev(e: Evidence) -> EvidenceIO:
    return EvidenceIO(text=e.text, start=e.start, end=e.end)


def field_in(f: FieldIO) -> TicketField:
    return TicketField(f.kind, f.value, Evidence(f.evidence.text, f.evidence.start, f.evidence.end))


def deadlines_out(d: Deadlines) -> DeadlinesOut:
    return DeadlinesOut(
        dispatch_by=d.dispatch_by,
        contact_by=d.contact_by,
        done_by=d.done_by,
        reply_by=d.reply_by,
        opinion_by=d.opinion_by,
    )


def brief(t: Ticket) -> TicketBrief:
    return TicketBrief(
        id=t.id,
        call_id=t.call_id,
        state=t.state.value,
        state_label=STATE_LABELS[t.state],
        category=t.category.value if t.category else None,
        category_label=CATEGORY_LABELS[t.category] if t.category else None,
        summary=t.summary,
        unit=t.unit,
        created_at=t.created_at,
        overdue=t.overdue,
    )


def ticket_out(rec: TicketRecord) -> TicketOut:
    t = rec.ticket
    actions = allowed(t.state)
    ext = rec.extension
    return TicketOut(
        **brief(t).model_dump(),
        version=rec.version,
        recording_id=t.recording_id,
        caller_number=t.caller_number,
        agent=t.agent,
        urgent=t.urgent,
        complaint_level=int(t.complaint_level) if t.complaint_level else None,
        topic=t.topic,
        fields=[FieldIO(kind=f.kind, value=f.value, evidence=ev(f.evidence)) for f in t.fields],
        evidence=[ev(e) for e in rec.evidence],
        summary_evidence=ev(rec.summary_evidence) if rec.summary_evidence else None,
        confidence=rec.confidence,
        edited=rec.edited,
        deadlines=deadlines_out(t.deadlines),
        overdue_steps=list(rec.overdue_steps),
        dispatched_at=t.dispatched_at,
        started_at=rec.started_at,
        replied_at=t.replied_at,
        reply=rec.reply,
        closed_at=t.closed_at,
        close_reason=t.close_reason,
        satisfaction=t.satisfaction.value if t.satisfaction else None,
        reopened=t.reopened,
        exposure=rec.exposure,
        extension=ExtensionOut(
            step=ext.step, new_due=ext.new_due, reason=ext.reason, by=ext.by, at=ext.at
        )
        if ext
        else None,
        parent_id=t.parent_id,
        source=t.source.value,
        source_label=SOURCE_LABELS[t.source],
        source_ref=t.source_ref,
        on_spot=t.on_spot,
        followup_declined=rec.followup_declined,
        followup_booked_at=rec.followup_booked_at,
        judgement=JudgementOut(
            validity=j.validity.value,
            validity_label=VALIDITY_LABELS[j.validity],
            reason=j.reason,
            unit=j.unit,
            agent=j.agent,
            opinion_by=j.opinion_by,
        )
        if (j := rec.judgement)
        else None,
        verify_state=rec.verify_state,
        verify_note=rec.verify_note,
        allowed_actions=[a.value for a in actions],
        allowed_labels=[ACTION_LABELS[a] for a in actions],
    )


def event_out(e: TicketEvent) -> EventOut:
    return EventOut(
        at=e.at,
        actor=e.actor,
        role=e.role,
        action=e.action,
        label=HISTORY_LABELS.get(e.action, e.action),
        from_state=e.from_state.value if e.from_state else None,
        to_state=e.to_state.value if e.to_state else None,
        reason=e.reason,
        detail=e.detail,
    )


def followup_out(a: FollowupAttempt) -> FollowupOut:
    return FollowupOut(
        round=a.round,
        attempt_no=a.attempt_no,
        planned_at=a.planned_at,
        started_at=a.started_at,
        finished_at=a.finished_at,
        by=a.by,
        result=a.result,
        satisfaction=a.satisfaction.value if a.satisfaction else None,
        note=a.note,
        action_id=a.action_id,
        ami_response=a.ami_response,
    )


def history_out(h: CallerHistory) -> CallerHistoryOut:
    return CallerHistoryOut(
        calls=[
            PastCallOut(
                call_id=c.call_id,
                entered_at=c.entered_at,
                outcome=c.outcome,
                agent=c.agent,
                talk_seconds=c.talk_seconds,
            )
            for c in h.calls
        ],
        tickets=[brief(t) for t in h.tickets],
    )
