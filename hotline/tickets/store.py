"""Tickets, their history and their 回访 attempts in the database. Rule: a ticket changes
only through a validated lifecycle step, stored with compare-and-set on its version and
with a history row (who, when, action, from, to, why) in the same transaction.

One draft per call, ever: the unique `origin_call` column keeps a call from drafting
twice (restarts, a hook run again). Tickets split off for other units keep the call id
but not the origin mark.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    case,
    func,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.telephony.store import CallRow
from hotline.tickets import lifecycle
from hotline.tickets.lifecycle import Action, Move, Role
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Evidence,
    Field,
    FieldKind,
    Satisfaction,
    State,
    Ticket,
)


class TicketRow(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    origin_call: Mapped[str | None] = mapped_column(String(64), unique=True)
    recording_id: Mapped[int | None] = mapped_column(Integer, index=True)
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    agent: Mapped[str | None] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    category: Mapped[str | None] = mapped_column(String(16), index=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    complaint_level: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(128), index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str | None] = mapped_column(String(64), index=True)
    fields: Mapped[str] = mapped_column(Text, default="[]")  # JSON
    evidence: Mapped[str] = mapped_column(Text, default="{}")  # JSON: classification, summary
    confidence: Mapped[float | None] = mapped_column(Float)
    edited: Mapped[bool] = mapped_column(Boolean, default=False)  # the agent changed the draft
    reply: Mapped[str | None] = mapped_column(Text)
    exposure: Mapped[bool] = mapped_column(Boolean, default=False)
    extension: Mapped[str | None] = mapped_column(Text)  # JSON: a pending 延期 request
    dispatch_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    contact_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    done_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reply_by: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    followup_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    overdue_steps: Mapped[str] = mapped_column(String(64), default="")
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    close_reason: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class TicketEventRow(Base):
    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, default="{}")  # JSON


class TicketFollowupRow(Base):
    __tablename__ = "ticket_followups"
    __table_args__ = (UniqueConstraint("ticket_id", "round", "attempt_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)  # 0, then 1 after a 不满意重办 …
    attempt_no: Mapped[int] = mapped_column(Integer)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    by: Mapped[str] = mapped_column(String(64))
    result: Mapped[str | None] = mapped_column(String(16))
    satisfaction: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    action_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    ami_response: Mapped[str | None] = mapped_column(Text)


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

    @property
    def id(self) -> int:
        return self.ticket.id

    def reached(self) -> dict[str, datetime | None]:
        """When each SLA step was reached, for `sla.overdue`."""
        t = self.ticket
        return {
            "dispatch": t.dispatched_at,
            "contact": self.started_at,
            "done": t.replied_at,
            "reply": self.followup_at or t.closed_at,
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


# --- row <-> record ---------------------------------------------------------------------


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


def _evidence_json(evidence: Sequence[Evidence], summary: Evidence | None) -> str:
    return json.dumps(
        {
            "classification": [_ev(e) for e in evidence],
            "summary": _ev(summary) if summary else None,
        },
        ensure_ascii=False,
    )


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _ticket(row: TicketRow) -> Ticket:
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
        deadlines=Deadlines(row.dispatch_by, row.contact_by, row.done_by, row.reply_by),
        dispatched_at=row.dispatched_at,
        replied_at=row.replied_at,
        closed_at=row.closed_at,
        overdue=row.overdue,
        satisfaction=Satisfaction(row.satisfaction) if row.satisfaction else None,
        reopened=row.reopened,
        close_reason=row.close_reason,
        parent_id=row.parent_id,
    )


def _record(row: TicketRow) -> TicketRecord:
    ev = json.loads(row.evidence or "{}")
    ext = json.loads(row.extension) if row.extension else None
    return TicketRecord(
        ticket=_ticket(row),
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
    )


def _deadline_values(d: Deadlines) -> dict[str, Any]:
    return dict(
        dispatch_by=d.dispatch_by, contact_by=d.contact_by, done_by=d.done_by, reply_by=d.reply_by
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


_EDITABLE = {"category", "fields", "summary", "unit", "complaint_level", "urgent", "topic"}


class TicketStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    # --- drafting -------------------------------------------------------------------------

    async def draft_for_call(
        self,
        *,
        call_id: str,
        caller_number: str | None,
        agent: str | None,
        recording_id: int | None,
        created_at: datetime,
        now: datetime,
    ) -> tuple[TicketRecord, bool]:
        """The call's draft, created once; (ticket, True) when created now."""
        row = TicketRow(
            call_id=call_id,
            origin_call=call_id,
            recording_id=recording_id,
            caller_number=caller_number,
            agent=agent,
            state=State.DRAFT.value,
            urgent=False,
            summary="",
            fields="[]",
            evidence="{}",
            edited=False,
            exposure=False,
            created_at=created_at,
            updated_at=now,
            overdue=False,
            overdue_steps="",
            reopened=0,
            version=1,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
                await session.flush()
                session.add(
                    self._event(row.id, now, "system", Role.SYSTEM, "draft", None, State.DRAFT)
                )
        except IntegrityError:
            existing = await self.by_call(call_id)
            if existing is None:  # pragma: no cover - the row that collided vanished
                raise
            return existing, False
        return _record(row), True

    async def by_call(self, call_id: str) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(TicketRow).where(TicketRow.origin_call == call_id))
            return _record(row) if row else None

    async def by_recording(self, recording_id: int) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketRow)
                .where(TicketRow.recording_id == recording_id, TicketRow.origin_call.is_not(None))
                .limit(1)
            )
            return _record(row) if row else None

    async def get(self, ticket_id: int) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            return _record(row) if row else None

    async def require(self, ticket_id: int) -> TicketRecord:
        rec = await self.get(ticket_id)
        if rec is None:
            raise NotFound(
                f"没有编号为 {ticket_id} 的工单 (no ticket {ticket_id}; list them with "
                "GET /api/tickets)"
            )
        return rec

    async def refine(
        self,
        ticket_id: int,
        *,
        now: datetime,
        recording_id: int | None = None,
        category: Category | None = None,
        fields: Sequence[Field] = (),
        summary: str = "",
        summary_evidence: Evidence | None = None,
        evidence: Sequence[Evidence] = (),
        confidence: float | None = None,
        topic: str | None = None,
        unit: str | None = None,
        urgent: bool = False,
        complaint_level: ComplaintLevel | None = None,
        deadlines: Deadlines | None = None,
    ) -> TicketRecord | None:
        """The transcript's reading written into a draft the agent has not touched; None
        (nothing written) once the ticket is confirmed or edited."""
        values: dict[str, Any] = dict(
            category=category.value if category else None,
            fields=fields_json(fields),
            summary=summary,
            evidence=_evidence_json(evidence, summary_evidence),
            confidence=confidence,
            topic=topic,
            unit=unit,
            urgent=urgent,
            complaint_level=int(complaint_level) if complaint_level else None,
            updated_at=now,
            version=TicketRow.version + 1,
        )
        if recording_id is not None:
            values["recording_id"] = recording_id
        if deadlines is not None:
            values.update(_deadline_values(deadlines))
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(
                    TicketRow.id == ticket_id,
                    TicketRow.state == State.DRAFT.value,
                    TicketRow.edited.is_(False),
                )
                .values(**values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return None
            detail = {
                "category": values["category"],
                "topic": topic,
                "unit": unit,
                "urgent": urgent,
                "confidence": confidence,
            }
            session.add(
                self._event(
                    ticket_id,
                    now,
                    "system",
                    Role.SYSTEM,
                    "refine",
                    State.DRAFT,
                    State.DRAFT,
                    detail=detail,
                )
            )
        return await self.get(ticket_id)

    async def edit(
        self,
        ticket_id: int,
        changes: Mapping[str, Any],
        *,
        actor: str,
        role: Role | str,
        now: datetime,
        deadlines: Deadlines | None = None,
    ) -> TicketRecord:
        """An agent's edit of a draft (or an accepted ticket not yet dispatched)."""
        unknown = set(changes) - _EDITABLE
        if unknown:
            raise InvalidInput(
                f"不能修改 {sorted(unknown)} (these cannot be edited; "
                f"editable: {sorted(_EDITABLE)})"
            )
        current = await self.require(ticket_id)
        if current.ticket.state not in (State.DRAFT, State.ACCEPTED):
            raise Conflict(
                f"工单已{current.ticket.state.value}，不能再修改内容 (a ticket can be edited only "
                f"while draft or accepted; this one is {current.ticket.state.value})",
                error_id="ticket_not_editable",
            )
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "fields":
                values["fields"] = fields_json(value)
            elif key == "category":
                values["category"] = Category(value).value if value else None
            elif key == "complaint_level":
                values["complaint_level"] = int(value) if value else None
            else:
                values[key] = value
        if deadlines is not None:
            values.update(_deadline_values(deadlines))
        values.update(edited=True, updated_at=now, version=current.version + 1)
        detail = {
            k: _jsonable(v if k != "fields" else json.loads(values["fields"]))
            for k, v in changes.items()
        }
        await self._cas(
            current,
            values,
            self._event(
                ticket_id,
                now,
                actor,
                role,
                "edit",
                current.ticket.state,
                current.ticket.state,
                detail=detail,
            ),
        )
        return await self.require(ticket_id)

    # --- lifecycle ------------------------------------------------------------------------

    async def apply(
        self,
        ticket_id: int,
        action: Action | str,
        actor: str,
        role: Role | str,
        reason: str | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        now: datetime,
        deadlines: Deadlines | None = None,
        complaint_level: ComplaintLevel | None = None,
    ) -> TicketRecord:
        """One lifecycle action, validated by `lifecycle.step`, stored with its history.

        `data`: unit (dispatch), satisfaction and unreachable (close/reopen), step and
        new_due (request_extension); all of it is kept in the history's detail."""
        data = dict(data or {})
        current = await self.require(ticket_id)
        t = current.ticket
        move = lifecycle.step(
            t.state,
            action,
            role,
            reason=reason,
            unit=data.get("unit"),
            satisfaction=data.get("satisfaction"),
            unreachable=bool(data.get("unreachable")),
        )
        values = self._values(current, move, actor, data, now)
        if deadlines is not None:
            values.update(_deadline_values(deadlines))
        if complaint_level is not None:
            values["complaint_level"] = int(complaint_level)
        values.update(updated_at=now, version=current.version + 1)
        detail = {k: v for k, v in data.items() if k not in ("unreachable",) or v}
        if deadlines is not None:
            detail["deadlines"] = _deadline_values(deadlines)
        await self._cas(
            current,
            values,
            self._event(
                ticket_id,
                now,
                actor,
                role,
                move.action.value,
                move.from_state,
                move.to_state,
                reason=move.reason,
                detail=detail,
            ),
        )
        return await self.require(ticket_id)

    def _values(
        self,
        current: TicketRecord,
        move: Move,
        actor: str,
        data: Mapping[str, Any],
        now: datetime,
    ) -> dict[str, Any]:
        act, t = move.action, current.ticket
        values: dict[str, Any] = {"state": move.to_state.value}
        if act is Action.CLOSE_OUT_OF_SCOPE:
            values.update(closed_at=now, close_reason=f"不属于受理范围：{move.reason}")
        elif act is Action.DISPATCH:
            values.update(unit=move.unit, dispatched_at=now, started_at=None)
        elif act is Action.START:
            values.update(started_at=now)
        elif act is Action.RETURN:
            values.update(unit=None, dispatched_at=None, started_at=None)
        elif act is Action.REPLY:
            values.update(replied_at=now, reply=move.reason)
        elif act is Action.FOLLOW_UP:
            values.update(followup_at=now)
        elif act is Action.CLOSE:
            values.update(
                closed_at=now,
                satisfaction=move.satisfaction.value if move.satisfaction else None,
                close_reason=move.reason,
            )
        elif act is Action.REOPEN:
            values.update(
                satisfaction=Satisfaction.UNSATISFIED.value,
                reopened=t.reopened + 1,
                dispatched_at=now,
                started_at=None,
                replied_at=None,
                followup_at=None,
                reply=None,
            )
        elif act is Action.REQUEST_EXTENSION:
            step, new_due = data.get("step"), data.get("new_due")
            if step not in ("dispatch", "contact", "done", "reply") or not isinstance(
                new_due, datetime
            ):
                raise InvalidInput(
                    "申请延期须指明环节和新的期限 (an extension needs `step` (dispatch, contact, "
                    "done or reply) and `new_due`, an ISO 8601 time)"
                )
            ext = {
                "step": step,
                "new_due": new_due.isoformat(),
                "reason": move.reason,
                "by": actor,
                "at": now.isoformat(),
            }
            values["extension"] = json.dumps(ext, ensure_ascii=False)
        elif act is Action.APPROVE_EXTENSION:
            if current.extension is None:
                raise Conflict(
                    "没有待批准的延期申请 (there is no pending extension request to approve; "
                    "the unit requests one first)",
                    error_id="no_extension_request",
                )
            values["extension"] = None
        elif act is Action.SET_EXPOSURE:
            values.update(exposure=True, complaint_level=int(ComplaintLevel.MAJOR))
        return values

    async def _cas(
        self, current: TicketRecord, values: dict[str, Any], event: TicketEventRow
    ) -> None:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == current.id, TicketRow.version == current.version)
                .values(**values)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict(
                    f"工单 {current.id} 已被他人修改 (ticket {current.id} changed while you acted "
                    "on it; reload it and try again)",
                    error_id="ticket_changed",
                )
            session.add(event)

    @staticmethod
    def _event(
        ticket_id: int,
        at: datetime,
        actor: str,
        role: Role | str,
        action: str,
        from_state: State | None,
        to_state: State | None,
        *,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> TicketEventRow:
        return TicketEventRow(
            ticket_id=ticket_id,
            at=at,
            actor=actor,
            role=str(role),
            action=action,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value if to_state else None,
            reason=reason,
            detail=json.dumps(_jsonable(dict(detail or {})), ensure_ascii=False),
        )

    async def note(
        self,
        ticket_id: int,
        action: str,
        *,
        actor: str,
        role: Role | str,
        now: datetime,
        reason: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """A history row that changes nothing (an alert sent, a 回访 attempt made)."""
        async with self._sessions() as session, session.begin():
            session.add(
                self._event(
                    ticket_id, now, actor, role, action, None, None, reason=reason, detail=detail
                )
            )

    async def split(
        self,
        ticket_id: int,
        units: Sequence[str],
        *,
        actor: str,
        role: Role | str,
        now: datetime,
    ) -> list[TicketRecord]:
        """One call, several units: the ticket keeps the first unit, a copy per other unit
        (parent_id = this ticket). Only while draft or accepted."""
        names = [u.strip() for u in units if u and u.strip()]
        if len(names) < 2 or len(set(names)) != len(names):
            raise InvalidInput(
                "拆分须给出至少两个不同的承办单位 (split needs at least two different units)"
            )
        current = await self.require(ticket_id)
        t = current.ticket
        if t.state not in (State.DRAFT, State.ACCEPTED) or t.parent_id is not None:
            raise Conflict(
                f"只有草稿或已受理的原工单可以拆分 (only a draft or accepted ticket that was not "
                f"split off itself can be split; this one is {t.state.value})",
                error_id="ticket_not_splittable",
            )
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.version == current.version)
                .values(unit=names[0], updated_at=now, version=current.version + 1)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict(f"工单 {ticket_id} 已被他人修改 (ticket changed; reload it)")
            row = await session.get(TicketRow, ticket_id)
            assert row is not None
            copy_cols = [
                c.key
                for c in TicketRow.__table__.columns
                if c.key not in ("id", "origin_call", "unit", "parent_id", "version")
            ]
            children = []
            for unit in names[1:]:
                child = TicketRow(**{k: getattr(row, k) for k in copy_cols})
                child.unit, child.parent_id, child.version, child.created_at = (
                    unit,
                    ticket_id,
                    1,
                    row.created_at,
                )
                session.add(child)
                children.append(child)
            await session.flush()
            session.add(
                self._event(
                    ticket_id,
                    now,
                    actor,
                    role,
                    "split",
                    t.state,
                    t.state,
                    detail={"units": names, "children": [c.id for c in children]},
                )
            )
            for c in children:
                session.add(
                    self._event(
                        c.id,
                        now,
                        actor,
                        role,
                        "split_from",
                        None,
                        t.state,
                        detail={"parent_id": ticket_id, "unit": c.unit},
                    )
                )
        return [await self.require(i) for i in (ticket_id, *(c.id for c in children))]

    # --- history and queries --------------------------------------------------------------

    async def history(self, ticket_id: int) -> list[TicketEvent]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
            return [
                TicketEvent(
                    r.at,
                    r.actor,
                    r.role,
                    r.action,
                    State(r.from_state) if r.from_state else None,
                    State(r.to_state) if r.to_state else None,
                    r.reason,
                    json.loads(r.detail or "{}"),
                )
                for r in rows
            ]

    async def caller_history(
        self,
        number: str,
        *,
        exclude_ticket: int | None = None,
        exclude_call: str | None = None,
        limit: int = 20,
    ) -> CallerHistory:
        """Earlier calls and tickets of this number; open tickets first."""
        async with self._sessions() as session:
            calls = await session.execute(
                select(
                    CallRow.call_id,
                    CallRow.entered_at,
                    CallRow.outcome,
                    CallRow.agent_member,
                    CallRow.talk_seconds,
                )
                .where(CallRow.caller_number == number, CallRow.call_id != (exclude_call or ""))
                .order_by(CallRow.entered_at.desc())
                .limit(limit)
            )
            closed_last = case((TicketRow.state == State.CLOSED.value, 1), else_=0)
            rows = await session.scalars(
                select(TicketRow)
                .where(TicketRow.caller_number == number, TicketRow.id != (exclude_ticket or 0))
                .order_by(closed_last, TicketRow.created_at.desc(), TicketRow.id.desc())
                .limit(limit)
            )
            return CallerHistory(
                calls=tuple(PastCall(c[0], c[1], c[2], c[3], c[4]) for c in calls),
                tickets=tuple(_ticket(r) for r in rows),
            )

    def _where(self, f: TicketFilter) -> list[Any]:
        c = TicketRow
        where: list[Any] = []
        if f.state:
            where.append(c.state == f.state.value)
        if f.category:
            where.append(c.category == f.category.value)
        if f.unit:
            where.append(c.unit == f.unit)
        if f.agent:
            where.append(c.agent == f.agent)
        if f.only_agent is not None:
            where.append(c.agent == f.only_agent)
        if f.overdue is not None:
            where.append(c.overdue.is_(f.overdue))
        if f.urgent is not None:
            where.append(c.urgent.is_(f.urgent))
        if f.caller:
            where.append(c.caller_number.contains(f.caller, autoescape=True))
        if f.since:
            where.append(c.created_at >= f.since)
        if f.until:
            where.append(c.created_at < f.until)
        return where

    async def find(
        self, f: TicketFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[TicketRecord], int]:
        where = self._where(f)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(TicketRow).where(*where))
            rows = await session.scalars(
                select(TicketRow)
                .where(*where)
                .order_by(TicketRow.created_at.desc(), TicketRow.id.desc())
                .offset(offset)
                .limit(limit)
            )
            return [_record(r) for r in rows], int(total or 0)

    async def tickets(self, f: TicketFilter) -> list[Ticket]:
        """Every ticket the filter matches (reports)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow).where(*self._where(f)).order_by(TicketRow.id)
            )
            return [_ticket(r) for r in rows]

    async def open_tickets(self, states: Sequence[State] | None = None) -> list[TicketRecord]:
        wanted = (
            [s.value for s in states]
            if states
            else [s.value for s in State if s is not State.CLOSED]
        )
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow).where(TicketRow.state.in_(wanted)).order_by(TicketRow.id)
            )
            return [_record(r) for r in rows]

    async def mark_overdue(self, ticket_id: int, steps: Sequence[str], now: datetime) -> bool:
        """Mark the steps overdue; True when one of them is newly overdue."""
        current = await self.require(ticket_id)
        new = [s for s in steps if s not in current.overdue_steps]
        if not new:
            return False
        joined = ",".join(sorted({*current.overdue_steps, *steps}))
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(
                    TicketRow.id == ticket_id,
                    TicketRow.overdue_steps == ",".join(current.overdue_steps),
                )
                .values(overdue=True, overdue_steps=joined)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            session.add(
                self._event(
                    ticket_id,
                    now,
                    "system",
                    Role.SYSTEM,
                    "overdue",
                    None,
                    None,
                    detail={"steps": new},
                )
            )
        return True

    async def complainants_same_issue(
        self, topic: str, since: datetime, *, besides: str | None = None
    ) -> int:
        """Different callers with a complaint on this topic since `since`, `besides` (the
        caller at hand, counted once whether or not they complained before) included."""
        where = [
            TicketRow.topic == topic,
            TicketRow.category == Category.COMPLAINT.value,
            TicketRow.created_at >= since,
            TicketRow.caller_number.is_not(None),
            TicketRow.parent_id.is_(None),
        ]
        if besides:
            where.append(TicketRow.caller_number != besides)
        async with self._sessions() as session:
            n = await session.scalar(
                select(func.count(func.distinct(TicketRow.caller_number))).where(*where)
            )
            return int(n or 0) + (1 if besides else 0)

    async def repeats_same_event(
        self, caller: str, topic: str, *, exclude_ticket: int | None = None
    ) -> int:
        """This caller's complaints on this topic (split copies not counted), the one at
        hand (`exclude_ticket`, counted once) included."""
        async with self._sessions() as session:
            n = await session.scalar(
                select(func.count())
                .select_from(TicketRow)
                .where(
                    TicketRow.topic == topic,
                    TicketRow.caller_number == caller,
                    TicketRow.category == Category.COMPLAINT.value,
                    TicketRow.parent_id.is_(None),
                    TicketRow.id != (exclude_ticket or 0),
                )
            )
            return int(n or 0) + (1 if exclude_ticket else 0)

    # --- 回访 attempts ----------------------------------------------------------------------

    async def begin_followup(
        self,
        ticket_id: int,
        *,
        round: int,
        planned_at: datetime | None,
        started_at: datetime,
        by: str,
        action_id: str | None = None,
    ) -> FollowupAttempt | None:
        """Log a 回访 attempt as started; None when another instance took this slot."""
        async with self._sessions() as session:
            done = await session.scalar(
                select(func.count()).where(
                    TicketFollowupRow.ticket_id == ticket_id, TicketFollowupRow.round == round
                )
            )
        row = TicketFollowupRow(
            ticket_id=ticket_id,
            round=round,
            attempt_no=int(done or 0) + 1,
            planned_at=planned_at,
            started_at=started_at,
            by=by,
            action_id=action_id,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            return None
        return _attempt(row)

    async def finish_followup(
        self,
        attempt_id: int,
        *,
        now: datetime,
        result: str,
        satisfaction: Satisfaction | None = None,
        note: str | None = None,
        ami_response: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = dict(
            finished_at=now,
            result=result,
            satisfaction=satisfaction.value if satisfaction else None,
            note=note,
        )
        if ami_response is not None:  # else keep the OriginateResponse already attached
            values["ami_response"] = json.dumps(_jsonable(dict(ami_response)), ensure_ascii=False)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TicketFollowupRow).where(TicketFollowupRow.id == attempt_id).values(**values)
            )

    async def attach_ami(self, attempt_id: int, response: Mapping[str, Any]) -> None:
        """The switch's OriginateResponse of an attempt still waiting for its result."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TicketFollowupRow)
                .where(TicketFollowupRow.id == attempt_id)
                .values(ami_response=json.dumps(_jsonable(dict(response)), ensure_ascii=False))
            )

    async def followups(self, ticket_id: int, round: int | None = None) -> list[FollowupAttempt]:
        stmt = select(TicketFollowupRow).where(TicketFollowupRow.ticket_id == ticket_id)
        if round is not None:
            stmt = stmt.where(TicketFollowupRow.round == round)
        async with self._sessions() as session:
            rows = await session.scalars(
                stmt.order_by(TicketFollowupRow.round, TicketFollowupRow.attempt_no)
            )
            return [_attempt(r) for r in rows]


def _attempt(r: TicketFollowupRow) -> FollowupAttempt:
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


def with_deadlines(record: TicketRecord, deadlines: Deadlines) -> TicketRecord:
    return replace(record, ticket=replace(record.ticket, deadlines=deadlines))
