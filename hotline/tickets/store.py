"""Writing tickets: drafting, refining a draft, an agent's edits, lifecycle steps, splitting,
notes and overdue marks. Rule: a ticket changes only through a validated lifecycle step
(or a draft refinement or edit), stored with compare-and-set on its version and with a
history row (who, when, action, from, to, why) in the same transaction.

One draft per call, ever: the unique `origin_call` column keeps a call from drafting
twice (restarts, a hook run again). Tickets split off for other units keep the call id
but not the origin mark.

`TicketStore` is the one store object the service and the routes hold: reading comes
from `TicketQueries` (tickets/queries.py), 回访 attempts from `FollowupStore`
(tickets/followup_store.py); rows are in tickets/tables.py, records in tickets/records.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import Conflict, InvalidInput
from hotline.tickets import lifecycle, sla
from hotline.tickets.deadline_store import DeadlineStore, next_deadline_after
from hotline.tickets.followup_store import FollowupStore
from hotline.tickets.history import history_row
from hotline.tickets.lifecycle import Action, Move, Role
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Evidence,
    Field,
    Satisfaction,
    Source,
    State,
)
from hotline.tickets.queries import TicketQueries
from hotline.tickets.records import (
    TicketRecord,
    deadline_values,
    evidence_json,
    fields_json,
    jsonable,
    record_from_row,
)
from hotline.tickets.report_queries import TicketReports
from hotline.tickets.tables import TicketEventRow, TicketRow
from hotline.tickets.verification import Verification

_EDITABLE = {
    "category",
    "fields",
    "summary",
    "unit",
    "complaint_level",
    "urgent",
    "topic",
    "followup_declined",  # the customer said 不需要回访
    "followup_booked_at",  # the 回访 time the customer booked
}
_REQUIRED = {"fields", "summary", "urgent", "followup_declined"}  # editable, never null


class TicketStore(TicketQueries, TicketReports, Verification, DeadlineStore, FollowupStore):
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

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
        origin: str | None = None,
    ) -> tuple[TicketRecord, bool]:
        """The call's draft, created once; (ticket, True) when created now. `origin` names
        a second ticket of the call, once too (`survey:<call_id>`); default: the call."""
        origin = origin or call_id
        row = TicketRow(
            call_id=call_id,
            origin_call=origin,
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
            existing = await self.by_call(origin)
            if existing is None:  # pragma: no cover - the row that collided vanished
                raise
            return existing, False
        return record_from_row(row), True

    async def create(
        self,
        *,
        source: Source,
        source_ref: str | None,
        caller_number: str | None,
        agent: str | None,
        category: Category,
        summary: str,
        unit: str | None,
        urgent: bool,
        complaint_level: ComplaintLevel | None,
        deadlines: Deadlines,
        created_at: datetime,
        followup_declined: bool,
        followup_booked_at: datetime | None,
        actor: str,
        role: Role | str,
        now: datetime,
        detail: Mapping[str, Any],
    ) -> TicketRecord:
        """A ticket entered by a person (or a system through the API) from any channel:
        accepted at once, with its source, its deadlines and a history row."""
        row = TicketRow(
            source=source.value,
            source_ref=source_ref,
            caller_number=caller_number,
            agent=agent,
            state=State.ACCEPTED.value,
            category=category.value,
            urgent=urgent,
            complaint_level=int(complaint_level) if complaint_level else None,
            unit=unit,
            summary=summary,
            fields="[]",
            evidence="{}",
            edited=True,
            exposure=False,
            created_at=created_at,
            updated_at=now,
            overdue=False,
            overdue_steps="",
            reopened=0,
            version=1,
            on_spot=False,
            followup_declined=followup_declined,
            followup_booked_at=followup_booked_at,
            next_deadline=sla.next_deadline(deadlines, {}),
            **deadline_values(deadlines),
        )
        async with self._sessions() as session, session.begin():
            session.add(row)
            await session.flush()
            session.add(
                self._event(row.id, now, actor, role, "create", None, State.ACCEPTED, detail=detail)
            )
        return record_from_row(row)

    async def link_recording(self, ticket_id: int, recording_id: int) -> bool:
        """The call's recording, once known, whatever the ticket's state; a link already
        made is kept. Bookkeeping, not an edit: no version bump, no history."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.recording_id.is_(None))
                .values(recording_id=recording_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

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
            evidence=evidence_json(evidence, summary_evidence),
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
            values.update(deadline_values(deadlines))
            values["next_deadline"] = sla.next_deadline(deadlines, {})
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
        blank = sorted(k for k in _REQUIRED if k in changes and changes[k] is None)
        if blank:
            raise InvalidInput(
                f"{'、'.join(blank)} 不能为空 ({', '.join(blank)} cannot be null: send a value, "
                "e.g. an empty text or list, or leave the field out)"
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
            values.update(deadline_values(deadlines))
        values.update(edited=True, updated_at=now, version=current.version + 1)
        detail = {
            k: jsonable(v if k != "fields" else json.loads(values["fields"]))
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
        followup_due: datetime | None = None,
    ) -> TicketRecord:
        """One lifecycle action, validated by `lifecycle.step`, stored with its history.

        `data`: unit (dispatch), satisfaction and unreachable (close/reopen), step and
        new_due (request_extension); all of it is kept in the history's detail.
        `followup_due` (a reply): when its first 回访 is due, as the policy says; without
        it the reply itself, a lower bound the watch makes exact at its first look."""
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
            values.update(deadline_values(deadlines))
        if complaint_level is not None:
            values["complaint_level"] = int(complaint_level)
        if move.action is Action.REPLY:
            values["followup_due"] = followup_due or now
        values.update(updated_at=now, version=current.version + 1)
        detail = {k: v for k, v in data.items() if k not in ("unreachable",) or v}
        if deadlines is not None:
            detail["deadlines"] = deadline_values(deadlines)
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
        elif act is Action.RESOLVE_ON_SPOT:  # 即时办结: answered, nothing left to watch
            values.update(
                closed_at=now,
                replied_at=now,
                reply=move.reason,
                close_reason="即时办结",
                on_spot=True,
                dispatch_by=None,
                contact_by=None,
                done_by=None,
                reply_by=None,
            )
        elif act is Action.DISPATCH:
            values.update(unit=move.unit, dispatched_at=now, started_at=None)
        elif act is Action.START:
            values.update(started_at=now)
        elif act is Action.CONTACT:
            values.update(contacted_at=now)
        elif act is Action.RETURN:
            values.update(unit=None, dispatched_at=None, started_at=None, contacted_at=None)
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
        elif act is Action.CLOSE_NO_FOLLOWUP:
            values.update(closed_at=now, close_reason=move.reason)
        elif act is Action.REOPEN:
            if data.get("unit"):  # 不满意 escalated to the policy's department
                values["unit"] = data["unit"]
            values.update(
                satisfaction=Satisfaction.UNSATISFIED.value,
                reopened=t.reopened + 1,
                dispatched_at=now,
                started_at=None,
                contacted_at=None,
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
        values.setdefault("next_deadline", next_deadline_after(current, values))
        if State(values.get("state", current.ticket.state)) not in (State.REPLIED, State.FOLLOW_UP):
            values.setdefault("followup_due", None)  # no 回访 left to dial
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

    _event = staticmethod(history_row)

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

    # --- complaints judged ------------------------------------------------------------------

    async def judge(
        self,
        current: TicketRecord,
        values: Mapping[str, Any],
        *,
        actor: str,
        role: Role | str,
        now: datetime,
    ) -> TicketRecord:
        """Store a complaint's judgement (validity, reason, party complained about, opinion
        deadline), compare-and-set, with its history row."""
        t = current.ticket
        changes = {**values, "updated_at": now, "version": current.version + 1}
        await self._cas(
            current,
            changes,
            self._event(
                t.id,
                now,
                actor,
                role,
                "judge",
                t.state,
                t.state,
                reason=values.get("complaint_reason"),
                detail={k: v for k, v in values.items() if k != "complaint_reason"},
            ),
        )
        return await self.require(t.id)
