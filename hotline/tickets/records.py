"""What the ticket store hands out: plain frozen records, and the conversions from rows and
to JSON. Rule: no session and no query here; a record is built from a row (or JSON) in one
place, so a column's meaning is decided once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Evidence,
    Field,
    FieldKind,
    Satisfaction,
    Source,
    State,
    Ticket,
    Validity,
)
from hotline.tickets.tables import TicketEventRow, TicketFollowupRow, TicketRow

# --- plain records ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Extension:
    """A 延期 request waiting for a supervisor."""

    step: str  # dispatch / contact / done / reply
    new_due: datetime
    reason: str
    by: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Judgement:
    """A complaint judged: valid or not, why, against whom, and the opinion's deadline."""

    validity: Validity
    reason: str
    unit: str | None  # 被投诉单位
    agent: str | None  # 被投诉人员
    opinion_by: datetime | None  # 处理意见 due (004: 5 working days for a valid one)


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """A ticket and what only the store knows about it."""

    ticket: Ticket
    version: int
    edited: bool
    confidence: float | None
    evidence: tuple[Evidence, ...]  # what the classification rests on
    summary_evidence: Evidence | None
    reply: str | None
    exposure: bool
    started_at: datetime | None
    followup_at: datetime | None
    overdue_steps: tuple[str, ...]
    extension: Extension | None
    updated_at: datetime
    followup_declined: bool = False  # the customer said 不需要回访
    followup_booked_at: datetime | None = None  # the 回访 time the customer booked
    judgement: Judgement | None = None  # a complaint judged 有效/无效/特殊
    contacted_at: datetime | None = None  # the unit contacted the customer
    verify_state: str | None = None  # drawn for a check: pending / passed / failed
    verify_note: str | None = None

    @property
    def id(self) -> int:
        return self.ticket.id

    def reached(self) -> dict[str, datetime | None]:
        """When each SLA step was reached, for `sla.overdue`."""
        t = self.ticket
        return {
            "dispatch": t.dispatched_at,
            "contact": self.contacted_at or self.started_at,
            "done": t.replied_at,
            "reply": self.followup_at or t.closed_at,
            "opinion": t.replied_at or t.closed_at,  # the unit's answer carries the opinion
        }


@dataclass(frozen=True, slots=True)
class TicketEvent:
    at: datetime
    actor: str
    role: str
    action: str
    from_state: State | None
    to_state: State | None
    reason: str | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FollowupAttempt:
    id: int
    ticket_id: int
    round: int
    attempt_no: int
    planned_at: datetime | None
    started_at: datetime
    finished_at: datetime | None
    by: str
    result: str | None
    satisfaction: Satisfaction | None
    note: str | None
    action_id: str | None
    ami_response: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PastCall:
    call_id: str
    entered_at: datetime
    outcome: str
    agent: str | None
    talk_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallerHistory:
    calls: tuple[PastCall, ...]  # earlier calls from this number, newest first
    tickets: tuple[Ticket, ...]  # this number's other tickets, open ones first


@dataclass(frozen=True, slots=True)
class TicketFilter:
    state: State | None = None
    category: Category | None = None
    unit: str | None = None
    agent: str | None = None
    overdue: bool | None = None
    urgent: bool | None = None
    caller: str | None = None  # caller number, or part of it
    since: datetime | None = None  # created from
    until: datetime | None = None  # created until, exclusive
    only_agent: str | None = None  # an agent's own tickets (role agent)
    source: Source | None = None  # the channel
    units: tuple[str, ...] | None = None  # a unit user's units: those dispatched to them


# --- row -> record, JSON ----------------------------------------------------------------


def _ev(e: Evidence) -> dict[str, Any]:
    return {"text": e.text, "start": e.start, "end": e.end}


def _ev_from(d: Mapping[str, Any]) -> Evidence:
    return Evidence(str(d["text"]), d.get("start"), d.get("end"))


def fields_json(fields: Sequence[Field]) -> str:
    return json.dumps(
        [{"kind": f.kind.value, "value": f.value, "evidence": _ev(f.evidence)} for f in fields],
        ensure_ascii=False,
    )


def _fields(text: str) -> tuple[Field, ...]:
    return tuple(
        Field(FieldKind(d["kind"]), str(d["value"]), _ev_from(d["evidence"]))
        for d in json.loads(text or "[]")
    )


def evidence_json(evidence: Sequence[Evidence], summary: Evidence | None) -> str:
    return json.dumps(
        {
            "classification": [_ev(e) for e in evidence],
            "summary": _ev(summary) if summary else None,
        },
        ensure_ascii=False,
    )


def ticket_from_row(row: TicketRow) -> Ticket:
    return Ticket(
        id=row.id,
        call_id=row.call_id,
        recording_id=row.recording_id,
        caller_number=row.caller_number,
        agent=row.agent,
        state=State(row.state),
        category=Category(row.category) if row.category else None,
        urgent=row.urgent,
        complaint_level=ComplaintLevel(row.complaint_level) if row.complaint_level else None,
        unit=row.unit,
        summary=row.summary,
        fields=_fields(row.fields),
        topic=row.topic,
        created_at=row.created_at,
        deadlines=Deadlines(
            row.dispatch_by, row.contact_by, row.done_by, row.reply_by, row.opinion_by
        ),
        dispatched_at=row.dispatched_at,
        replied_at=row.replied_at,
        closed_at=row.closed_at,
        overdue=row.overdue,
        satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
        reopened=row.reopened,
        close_reason=row.close_reason,
        parent_id=row.parent_id,
        source=Source(row.source or Source.PHONE.value),
        source_ref=row.source_ref,
        on_spot=bool(row.on_spot),
    )


def record_from_row(row: TicketRow) -> TicketRecord:
    ev = json.loads(row.evidence or "{}")
    ext = json.loads(row.extension) if row.extension else None
    return TicketRecord(
        ticket=ticket_from_row(row),
        version=row.version,
        edited=row.edited,
        confidence=row.confidence,
        evidence=tuple(_ev_from(e) for e in ev.get("classification", [])),
        summary_evidence=_ev_from(ev["summary"]) if ev.get("summary") else None,
        reply=row.reply,
        exposure=row.exposure,
        started_at=row.started_at,
        followup_at=row.followup_at,
        overdue_steps=tuple(s for s in row.overdue_steps.split(",") if s),
        extension=Extension(
            ext["step"],
            datetime.fromisoformat(ext["new_due"]),
            ext["reason"],
            ext["by"],
            datetime.fromisoformat(ext["at"]),
        )
        if ext
        else None,
        updated_at=row.updated_at,
        followup_declined=bool(row.followup_declined),
        followup_booked_at=row.followup_booked_at,
        judgement=Judgement(
            Validity(row.complaint_validity),
            row.complaint_reason or "",
            row.complained_unit,
            row.complained_agent,
            row.opinion_by,
        )
        if row.complaint_validity
        else None,
        contacted_at=row.contacted_at,
        verify_state=row.verify_state,
        verify_note=row.verify_note,
    )


def event_from_row(r: TicketEventRow) -> TicketEvent:
    return TicketEvent(
        r.at,
        r.actor,
        r.role,
        r.action,
        State(r.from_state) if r.from_state else None,
        State(r.to_state) if r.to_state else None,
        r.reason,
        json.loads(r.detail or "{}"),
    )


def attempt_from_row(r: TicketFollowupRow) -> FollowupAttempt:
    return FollowupAttempt(
        id=r.id,
        ticket_id=r.ticket_id,
        round=r.round,
        attempt_no=r.attempt_no,
        planned_at=r.planned_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
        by=r.by,
        result=r.result,
        satisfaction=Satisfaction(r.satisfaction) if r.satisfaction else None,
        note=r.note,
        action_id=r.action_id,
        ami_response=json.loads(r.ami_response) if r.ami_response else None,
    )


def deadline_values(d: Deadlines) -> dict[str, Any]:
    """The step deadlines a lifecycle move writes (the opinion's is written by 投诉认定)."""
    return dict(
        dispatch_by=d.dispatch_by, contact_by=d.contact_by, done_by=d.done_by, reply_by=d.reply_by
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def with_deadlines(record: TicketRecord, deadlines: Deadlines) -> TicketRecord:
    return replace(record, ticket=replace(record.ticket, deadlines=deadlines))
