"""Deadline marks: the deadline watch's writes. Rule: the watch reads only the tickets whose
indexed `next_deadline` has come (`WHERE next_deadline <= now`), marks their newly late
steps compare-and-set on the version with a history row, in one session per tick, and moves
each one's next deadline on; the per-ticket work runs in a worker thread, so the event loop
stays free. Every other write of a ticket keeps `next_deadline` right through
`next_deadline_after`.

A mixin of `TicketStore`, which holds the session factory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import NotFound
from hotline.core.roles import Role
from hotline.tickets import sla
from hotline.tickets.history import history_row
from hotline.tickets.model import Deadlines, State
from hotline.tickets.records import TicketRecord, record_from_row
from hotline.tickets.tables import TicketEventRow, TicketRow


class DeadlineStore:
    _sessions: async_sessionmaker[AsyncSession]
    _event = staticmethod(history_row)

    async def _current(self, ticket_id: int) -> TicketRecord:
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            if row is None:
                raise NotFound(f"没有编号为 {ticket_id} 的工单 (no ticket {ticket_id})")
            return record_from_row(row)

    async def mark_due(self, now: datetime, *, limit: int = 500) -> list[Overdue]:
        """Mark the steps now past their deadline of the tickets whose indexed
        `next_deadline` has come (`WHERE next_deadline <= now`), in one session and one
        transaction: the rows are locked as they are read (PostgreSQL `FOR UPDATE SKIP
        LOCKED`; SQLite refuses a write from a stale snapshot), all of them updated in one
        statement, with a history row for each newly late step and each next deadline moved
        on. Tickets nothing is due on are not read."""
        table: Table = TicketRow.__table__  # type: ignore[assignment]
        async with self._sessions() as session, session.begin():
            rows = (
                await session.execute(
                    select(*table.c)
                    .where(table.c.next_deadline <= now, table.c.state != State.CLOSED.value)
                    .order_by(table.c.next_deadline)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            # the per-ticket work is CPU: in a worker thread, the event loop stays free
            changes, out, events = await asyncio.to_thread(_marks, rows, now)
            session.add_all(events)
            if changes:
                await session.execute(
                    update(table)
                    .where(table.c.id == bindparam("b_id"))
                    .values(
                        overdue=bindparam("b_overdue"),
                        overdue_steps=bindparam("b_steps"),
                        next_deadline=bindparam("b_next"),
                    ),
                    changes,
                )
        return out

    async def mark_overdue(self, ticket_id: int, steps: Sequence[str], now: datetime) -> bool:
        """Mark the steps overdue; True when one of them is newly overdue."""
        current = await self._current(ticket_id)
        new = [s for s in steps if s not in current.overdue_steps]
        if not new:
            return False
        joined = ",".join(sorted({*current.overdue_steps, *steps}))
        t = current.ticket
        nd = sla.next_deadline(t.deadlines, current.reached(), joined.split(","))
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(
                    TicketRow.id == ticket_id,
                    TicketRow.overdue_steps == ",".join(current.overdue_steps),
                )
                .values(overdue=True, overdue_steps=joined, next_deadline=nd)
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


def _marks(
    rows: Sequence[Any], now: datetime
) -> tuple[list[dict[str, Any]], list[Overdue], list[TicketEventRow]]:
    """For each ticket read: its new marks and next deadline, the newly late steps, and a
    history row for each ticket with one. Pure CPU over the rows read."""
    changes: list[dict[str, Any]] = []
    out: list[Overdue] = []
    events: list[TicketEventRow] = []
    for row in rows:
        record = record_from_row(row)
        t = record.ticket
        steps = sla.overdue(t.deadlines, record.reached(), now)
        new = [s for s in steps if s not in record.overdue_steps]
        marked = sorted({*record.overdue_steps, *steps})
        changes.append(
            {
                "b_id": row.id,
                "b_overdue": bool(marked) or row.overdue,
                "b_steps": ",".join(marked),
                "b_next": sla.next_deadline(t.deadlines, record.reached(), marked),
            }
        )
        if not new:
            continue
        detail = {"steps": new}
        events.append(
            history_row(row.id, now, "system", Role.SYSTEM, "overdue", None, None, detail=detail)
        )
        late = replace(record, ticket=replace(t, overdue=True), overdue_steps=tuple(marked))
        out.append(Overdue(late, tuple(new)))
    return changes, out, events


@dataclass(frozen=True, slots=True)
class Overdue:
    """A ticket the watch just marked, and its steps newly late."""

    record: TicketRecord
    steps: tuple[str, ...]


def next_deadline_after(current: TicketRecord, values: Mapping[str, Any]) -> datetime | None:
    """The ticket's next deadline once `values` are written over `current`."""
    if values.get("state", current.ticket.state) in (State.CLOSED, State.CLOSED.value):
        return None
    t = current.ticket

    def v(key: str, old: datetime | None) -> datetime | None:
        found: datetime | None = values.get(key, old)
        return found

    deadlines = Deadlines(
        v("dispatch_by", t.deadlines.dispatch_by),
        v("contact_by", t.deadlines.contact_by),
        v("done_by", t.deadlines.done_by),
        v("reply_by", t.deadlines.reply_by),
        v("opinion_by", t.deadlines.opinion_by),
    )
    reached = {
        "dispatch": v("dispatched_at", t.dispatched_at),
        "contact": v("contacted_at", current.contacted_at) or v("started_at", current.started_at),
        "done": v("replied_at", t.replied_at),
        "reply": v("followup_at", current.followup_at) or v("closed_at", t.closed_at),
        "opinion": v("replied_at", t.replied_at) or v("closed_at", t.closed_at),
    }
    marked = current.overdue_steps
    if "overdue_steps" in values:
        marked = tuple(x for x in str(values["overdue_steps"]).split(",") if x)
    # a deadline that moved (extension, 重办) is watched again
    marked = tuple(
        x for x in marked if getattr(deadlines, f"{x}_by") == getattr(t.deadlines, f"{x}_by")
    )
    return sla.next_deadline(deadlines, reached, marked)
