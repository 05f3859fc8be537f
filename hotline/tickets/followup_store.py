"""The 回访 (follow-up call) attempts of a ticket. Rule: an attempt is logged as started
before the call is made, numbered within its round (round = how often the ticket was
reopened), and the unique (ticket, round, attempt_no) lets only one instance take a slot;
its result, and the switch's OriginateResponse, are written onto that same row.

What an attempt means for the ticket (the FOLLOW_UP step, history notes) is the service's
business, through `TicketStore`. A mixin of `TicketStore`, which holds the session factory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.tickets.model import Satisfaction
from hotline.tickets.records import FollowupAttempt, attempt_from_row, jsonable
from hotline.tickets.tables import TicketFollowupRow


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
