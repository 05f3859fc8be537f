"""Reading tickets back: by id, call or recording, their history, a caller's history, search
with a filter, and the counts escalation rests on. Rule: nothing here writes; every method
opens a session, selects, and returns records (tickets/records.py), never rows.

A mixin of `TicketStore`, which holds the session factory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import paging
from hotline.core.errors import NotFound
from hotline.core.paging import Page
from hotline.telephony.view import CallView, calls_from_number, owned_by
from hotline.tickets.model import Category, State, Ticket
from hotline.tickets.records import (
    CallerHistory,
    PastCall,
    TicketEvent,
    TicketFilter,
    TicketRecord,
    event_from_row,
    record_from_row,
    ticket_from_row,
)
from hotline.tickets.tables import TicketEventRow, TicketRow


class TicketQueries:
    _sessions: async_sessionmaker[AsyncSession]

    # --- one ticket -----------------------------------------------------------------------

    async def by_call(self, call_id: str) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(select(TicketRow).where(TicketRow.origin_call == call_id))
            return record_from_row(row) if row else None

    async def by_recording(self, recording_id: int) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(TicketRow)
                .where(TicketRow.recording_id == recording_id, TicketRow.origin_call.is_not(None))
                .limit(1)
            )
            return record_from_row(row) if row else None

    async def get(self, ticket_id: int) -> TicketRecord | None:
        async with self._sessions() as session:
            row = await session.get(TicketRow, ticket_id)
            return record_from_row(row) if row else None

    async def belongs_to(self, ticket_id: int, agent: str) -> bool:
        """Whether `agent` (a member name or interface) took the call of this ticket."""
        async with self._sessions() as session:
            found = await session.scalar(
                select(TicketRow.id).where(TicketRow.id == ticket_id, _answered_by(agent))
            )
            return found is not None

    async def require(self, ticket_id: int) -> TicketRecord:
        record = await self.get(ticket_id)
        if record is None:
            raise NotFound(
                f"没有编号为 {ticket_id} 的工单 (no ticket {ticket_id}; list them with "
                "GET /api/tickets)"
            )
        return record

    # --- history and search ---------------------------------------------------------------

    async def history(self, ticket_id: int) -> list[TicketEvent]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketEventRow)
                .where(TicketEventRow.ticket_id == ticket_id)
                .order_by(TicketEventRow.id)
            )
            return [event_from_row(r) for r in rows]

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
            found = await session.execute(
                calls_from_number(number, exclude_call=exclude_call, limit=limit)
            )
            calls = [CallView.from_row(c) for c in found.mappings()]
            closed_last = case((TicketRow.state == State.CLOSED.value, 1), else_=0)
            rows = await session.scalars(
                select(TicketRow)
                .where(TicketRow.caller_number == number, TicketRow.id != (exclude_ticket or 0))
                .order_by(closed_last, TicketRow.created_at.desc(), TicketRow.id.desc())
                .limit(limit)
            )
            return CallerHistory(
                calls=tuple(
                    PastCall(
                        c.call_id, c.entered_at, c.outcome.value, c.agent_member, c.talk_seconds
                    )
                    for c in calls
                ),
                tickets=tuple(ticket_from_row(r) for r in rows),
            )

    def _where(self, f: TicketFilter) -> list[Any]:
        c = TicketRow
        where: list[Any] = []
        if f.state:
            where.append(c.state == f.state.value)
        if f.category:
            where.append(c.category == f.category.value)
        if f.source:
            where.append(c.source == f.source.value)
        if f.units is not None:
            where.append(c.unit.in_(f.units or ("\x00none",)))
            where.append(c.dispatched_at.is_not(None))  # a unit sees what was sent to it
        if f.unit:
            where.append(c.unit == f.unit)
        if f.agent:
            where.append(_answered_by(f.agent))
        if f.only_agent is not None:
            where.append(_answered_by(f.only_agent))
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
        """A page and the total, counted up to `offset` + paging.COUNT_CAP."""
        page = await self.page(f, offset=offset, limit=limit)
        return page.items, page.total

    async def page(
        self, f: TicketFilter, *, offset: int = 0, limit: int = 50, cursor: str | None = None
    ) -> Page[TicketRecord]:
        """Newest first, by a deferred join: the page's ids, and the count from the page's
        start on up to the cap, from an index alone; then the page's rows. With `cursor` (a
        previous page's next_cursor) the page starts after that page's last ticket."""
        t = TicketRow

        def keys_after(after: list[Any]) -> Any:
            keys = select(t.created_at, t.id).where(*self._where(f), *after)
            return keys.order_by(t.created_at.desc(), t.id.desc())

        keys = keys_after(paging.after(t.created_at, t.id, cursor, key_type=int))
        p = paging.window(keys, offset, limit + 1)
        stmt = select(t).join_from(p, t, t.id == p.c[1]).order_by(p.c[0].desc(), p.c[1].desc())
        async with self._sessions() as session:
            rows = [r[0] for r in (await session.execute(stmt)).all()]
            if cursor:  # by cursor the total counts from the top, as by offset
                counted = await paging.total_from(session, keys_after([]), None, offset)
            else:
                first = (rows[0].created_at, rows[0].id) if rows else None
                counted = await paging.total_from(session, keys, first, offset)
        more = len(rows) > limit
        rows = rows[:limit]
        last = paging.Cursor(rows[-1].created_at, str(rows[-1].id)) if more and rows else None
        return Page([record_from_row(r) for r in rows], *counted, last.encode() if last else None)

    async def tickets(self, f: TicketFilter) -> list[Ticket]:
        """Every ticket the filter matches (reports)."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketRow).where(*self._where(f)).order_by(TicketRow.id)
            )
            return [ticket_from_row(r) for r in rows]

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
            return [record_from_row(r) for r in rows]

    # --- escalation counts ----------------------------------------------------------------

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


def _answered_by(agent: str) -> Any:
    """Tickets of `agent`, named as a queue member or an interface: the ticket keeps one of
    the two, the call record both."""
    return owned_by(agent, TicketRow.id, TicketRow.agent, TicketRow.call_id)
