"""The 回访 (follow-up call) attempts of a ticket. Rule: an attempt is logged as started
before the call is made, numbered within its round (round = how often the ticket was
reopened), and the unique (ticket, round, attempt_no) lets only one instance take a slot;
its result, and the switch's OriginateResponse, are written onto that same row.

What an attempt means for the ticket (the FOLLOW_UP step, history notes) is the service's
business, through `TicketStore`. The ticket's indexed `followup_due` (when the watch next
looks at its 回访) is cleared in the transaction that begins an attempt; the service, which
knows the policy, writes the next one (`set_followup_due`), and the watch reads only the
tickets whose time has come (`followups_due`). A mixin of `TicketStore`, which holds the
session factory.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.tickets.model import Satisfaction
from hotline.tickets.records import (
    FollowupAttempt,
    TicketRecord,
    attempt_from_row,
    jsonable,
    record_from_row,
)
from hotline.tickets.tables import TicketFollowupRow, TicketRow


class FollowupStore:
    _sessions: async_sessionmaker[AsyncSession]

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
                await session.execute(  # one in progress: nothing to dial until it ends
                    update(TicketRow)
                    .where(TicketRow.id == ticket_id)
                    .values(followup_due=None)
                    .execution_options(synchronize_session=False)
                )
        except IntegrityError:
            return None
        return attempt_from_row(row)

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
            values["ami_response"] = json.dumps(jsonable(dict(ami_response)), ensure_ascii=False)
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
                .values(ami_response=json.dumps(jsonable(dict(response)), ensure_ascii=False))
            )

    async def followups(self, ticket_id: int, round: int | None = None) -> list[FollowupAttempt]:
        stmt = select(TicketFollowupRow).where(TicketFollowupRow.ticket_id == ticket_id)
        if round is not None:
            stmt = stmt.where(TicketFollowupRow.round == round)
        async with self._sessions() as session:
            rows = await session.scalars(
                stmt.order_by(TicketFollowupRow.round, TicketFollowupRow.attempt_no)
            )
            return [attempt_from_row(r) for r in rows]

    async def followups_due(
        self, now: datetime, *, limit: int = 500
    ) -> list[tuple[TicketRecord, datetime]]:
        """The tickets whose indexed `followup_due` has come (`WHERE followup_due <= now`),
        earliest first, each with the due time read (for `set_followup_dues`); the records
        are built in a worker thread (CPU over up to `limit` rows)."""
        table: Table = TicketRow.__table__  # type: ignore[assignment]
        async with self._sessions() as session:
            rows: Sequence[Any] = (
                await session.execute(
                    select(*table.c)
                    .where(table.c.followup_due <= now)
                    .order_by(table.c.followup_due)
                    .limit(limit)
                )
            ).all()
        return await asyncio.to_thread(lambda: [(record_from_row(r), r.followup_due) for r in rows])

    async def set_followup_due(self, ticket_id: int, due: datetime | None) -> None:
        """Write when the watch next looks at the ticket's 回访."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id)
                .values(followup_due=due)
                .execution_options(synchronize_session=False)
            )

    async def set_followup_dues(
        self, changes: Sequence[tuple[int, datetime | None, datetime]]
    ) -> None:
        """(ticket, next due, due read) in one statement, each only if the value is still
        the one read (an attempt begun or ended meanwhile wins)."""
        if not changes:
            return
        table: Table = TicketRow.__table__  # type: ignore[assignment]
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(table)
                .where(table.c.id == bindparam("b_id"), table.c.followup_due == bindparam("b_seen"))
                .values(followup_due=bindparam("b_due")),
                [{"b_id": i, "b_due": due, "b_seen": seen} for i, due, seen in changes],
            )

    async def followups_of(
        self, tickets: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], list[FollowupAttempt]]:
        """The attempts of each (ticket, round), in one query."""
        out: dict[tuple[int, int], list[FollowupAttempt]] = defaultdict(list)
        if not tickets:
            return out
        wanted = set(tickets)
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketFollowupRow)
                .where(TicketFollowupRow.ticket_id.in_(sorted({t for t, _ in wanted})))
                .order_by(TicketFollowupRow.ticket_id, TicketFollowupRow.attempt_no)
            )
            for r in rows:
                if (r.ticket_id, r.round) in wanted:
                    out[(r.ticket_id, r.round)].append(attempt_from_row(r))
        return out
