"""Checks of outcomes (回访核实 / 抽查): a share of a period's closed tickets drawn into a
verification queue, and each one's result recorded.

Rule: the draw is made by the database with a keyed hash of the ticket id (the same
tickets for the same share, whoever draws and however often; no rows loaded into Python),
among the closed tickets of the policy's categories created in the period and not drawn
before; a result is recorded once per drawn ticket, with who and when, and kept in its
history.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, cast, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import Conflict, InvalidInput
from hotline.core.periods import Period
from hotline.tickets.model import Category, State
from hotline.tickets.tables import TicketEventRow, TicketRow

PENDING, PASSED, FAILED = "pending", "passed", "failed"
BUCKETS = 10_000
_KEY = 2_654_435_761  # Knuth's multiplicative hash: spreads consecutive ids


def _bucket() -> Any:
    product = cast(TicketRow.id, BigInteger) * literal(_KEY, BigInteger)
    return func.abs(product) % BUCKETS


class Verification:
    """A mixin of `TicketStore`, which holds the session factory."""

    _sessions: async_sessionmaker[AsyncSession]

    async def draw_verification(
        self, period: Period, share: float, categories: Collection[Category], now: datetime
    ) -> int:
        """Draw `share` of the period's closed tickets (of `categories`; all when empty)
        into the verification queue; returns how many were drawn now."""
        if not 0 < share <= 1:
            raise InvalidInput(
                f"抽查比例 {share!r} 无效 (the share must be above 0 and at most 1, e.g. 0.2)"
            )
        where = [
            TicketRow.state == State.CLOSED.value,
            TicketRow.created_at >= period.start_utc,
            TicketRow.created_at < period.end_utc,
            TicketRow.verify_state.is_(None),
            _bucket() < round(share * BUCKETS),
        ]
        if categories:
            where.append(TicketRow.category.in_([c.value for c in categories]))
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(*where)
                .values(verify_state=PENDING)
                .execution_options(synchronize_session=False)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def verification_queue(self, *, limit: int = 200) -> list[int]:
        """Ids of drawn tickets waiting for their check, oldest first."""
        async with self._sessions() as session:
            ids = await session.scalars(
                select(TicketRow.id)
                .where(TicketRow.verify_state == PENDING)
                .order_by(TicketRow.created_at, TicketRow.id)
                .limit(limit)
            )
            return list(ids)

    async def record_verification(
        self, ticket_id: int, *, passed: bool, note: str, actor: str, role: str, now: datetime
    ) -> None:
        note = note.strip()
        if not passed and not note:
            raise InvalidInput("核实不合格须说明原因 (a failed check needs a note saying why)")
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(TicketRow)
                .where(TicketRow.id == ticket_id, TicketRow.verify_state == PENDING)
                .values(
                    verify_state=PASSED if passed else FAILED,
                    verify_note=note or None,
                    verified_by=actor,
                    verified_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                raise Conflict(
                    f"工单 {ticket_id} 不在待核实队列中 (ticket {ticket_id} is not waiting for a "
                    "check: draw it first, or its result is already recorded)",
                    error_id="not_drawn",
                )
            session.add(
                TicketEventRow(
                    ticket_id=ticket_id,
                    at=now,
                    actor=actor,
                    role=role,
                    action="verify",
                    reason=note or None,
                    detail='{"passed": %s}' % ("true" if passed else "false"),
                )
            )
