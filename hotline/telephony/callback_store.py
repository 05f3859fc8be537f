"""Callbacks and their attempts in the database. Rule: one callback per call, ever.

The unique call_id column is what keeps a call from being called back twice, across
restarts and against AMI re-sending an action after a reconnect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class CallbackRow(Base):
    __tablename__ = "callbacks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    number: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(16))
    connect_kind: Mapped[str] = mapped_column(String(16))
    connect_target: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), index=True)
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)  # since the last (re)trigger
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_result: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class CallbackAttemptRow(Base):
    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callbacks.id"), index=True)
    attempt_no: Mapped[int] = mapped_column(Integer)
    action_id: Mapped[str] = mapped_column(String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    verdict: Mapped[str | None] = mapped_column(String(24))
    reason_code: Mapped[int | None] = mapped_column(Integer)
    reason_text: Mapped[str | None] = mapped_column(Text)
    uniqueid: Mapped[str | None] = mapped_column(String(64))


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt_no: int
    action_id: str
    started_at: datetime
    finished_at: datetime | None
    verdict: str | None
    reason_code: int | None
    reason_text: str | None
    uniqueid: str | None


@dataclass(frozen=True, slots=True)
class Callback:
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
    attempts: tuple[Attempt, ...] = ()


def _callback(row: CallbackRow, attempts: list[CallbackAttemptRow] | None = None) -> Callback:
    return Callback(
        id=row.id,
        call_id=row.call_id,
        number=row.number,
        reason=row.reason,
        connect_kind=row.connect_kind,
        connect_target=row.connect_target,
        status=row.status,
        attempts_made=row.attempts_made,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_result=row.last_result,
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
        attempts=tuple(
            Attempt(
                a.attempt_no,
                a.action_id,
                a.started_at,
                a.finished_at,
                a.verdict,
                a.reason_code,
                a.reason_text,
                a.uniqueid,
            )
            for a in attempts or []
        ),
    )


class CallbackStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def create(
        self,
        *,
        call_id: str,
        number: str,
        reason: str,
        connect_kind: str,
        connect_target: str | None,
        first_attempt_at: datetime,
        now: datetime,
    ) -> Callback | None:
        """Schedule a callback; None when this call already has one (never twice)."""
        row = CallbackRow(
            call_id=call_id,
            number=number,
            reason=reason,
            connect_kind=connect_kind,
            connect_target=connect_target,
            status="scheduled",
            attempts_made=0,
            next_attempt_at=first_attempt_at,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            return None
        return _callback(row)

    async def get(self, callback_id: int) -> Callback | None:
        async with self._sessions() as session:
            row = await session.get(CallbackRow, callback_id)
            if row is None:
                return None
            attempts = await session.scalars(
                select(CallbackAttemptRow)
                .where(CallbackAttemptRow.callback_id == callback_id)
                .order_by(CallbackAttemptRow.attempt_no)
            )
            return _callback(row, list(attempts))

    async def find(
        self, *, status: str | None = None, offset: int = 0, limit: int = 50
    ) -> list[Callback]:
        stmt = select(CallbackRow).order_by(CallbackRow.id.desc()).offset(offset).limit(limit)
        if status:
            stmt = stmt.where(CallbackRow.status == status)
        async with self._sessions() as session:
            return [_callback(r) for r in await session.scalars(stmt)]

    async def due(self, now: datetime, limit: int = 20) -> list[Callback]:
        stmt = (
            select(CallbackRow)
            .where(CallbackRow.status == "scheduled", CallbackRow.next_attempt_at <= now)
            .order_by(CallbackRow.next_attempt_at)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_callback(r) for r in await session.scalars(stmt)]

    async def dialing(self) -> list[Callback]:
        async with self._sessions() as session:
            stmt = select(CallbackRow).where(CallbackRow.status == "dialing")
            return [_callback(r) for r in await session.scalars(stmt)]

    async def save_progress(
        self,
        callback_id: int,
        *,
        expect: str,
        status: str,
        attempts_made: int,
        next_attempt_at: datetime | None,
        last_attempt_at: datetime | None,
        last_result: str | None,
        now: datetime,
        by: str | None = None,
    ) -> bool:
        """Compare-and-set: store the new progress only if the state is still `expect`."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id, CallbackRow.status == expect)
                .values(
                    status=status,
                    attempts_made=attempts_made,
                    next_attempt_at=next_attempt_at,
                    last_attempt_at=last_attempt_at,
                    last_result=last_result,
                    updated_at=now,
                    updated_by=by,
                )
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    async def begin_attempt(self, callback_id: int, *, action_id: str, now: datetime) -> bool:
        """scheduled -> dialing and the attempt logged, atomically; False if it was not due."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(CallbackRow)
                .where(CallbackRow.id == callback_id, CallbackRow.status == "scheduled")
                .values(status="dialing", updated_at=now, next_attempt_at=None)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            done = await session.scalar(
                select(func.count()).where(CallbackAttemptRow.callback_id == callback_id)
            )
            session.add(
                CallbackAttemptRow(
                    callback_id=callback_id,
                    attempt_no=int(done or 0) + 1,
                    action_id=action_id,
                    started_at=now,
                )
            )
            return True

    async def open_attempt(self, callback_id: int) -> str | None:
        """The action id of the attempt still waiting for its result, if any."""
        async with self._sessions() as session:
            return await session.scalar(
                select(CallbackAttemptRow.action_id).where(
                    CallbackAttemptRow.callback_id == callback_id,
                    CallbackAttemptRow.finished_at.is_(None),
                )
            )

    async def finish_attempt(
        self,
        action_id: str,
        *,
        now: datetime,
        verdict: str,
        reason_code: int | None,
        reason_text: str,
        uniqueid: str | None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(CallbackAttemptRow)
                .where(CallbackAttemptRow.action_id == action_id)
                .values(
                    finished_at=now,
                    verdict=verdict,
                    reason_code=reason_code,
                    reason_text=reason_text,
                    uniqueid=uniqueid,
                )
            )
