"""Callbacks and their attempts in the database. Rule: one callback per call, ever.

The unique call_id column is what keeps a call from being called back twice, across
restarts and against AMI re-sending an action after a reconnect. An attempt is finished
once (compare-and-set on `finished_at`), and its stage only moves forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.telephony import changes
from hotline.telephony.callbacks import AttemptStage, furthest
from hotline.telephony.tables import CallRow


class CallbackRow(Base):
    __tablename__ = "callbacks"
    __table_args__ = (  # the service level's callbacks done, per call (migration 0018)
        Index(
            "ix_callbacks_done_call_id",
            "call_id",
            postgresql_where=text("status = 'done'"),
            sqlite_where=text("status = 'done'"),
        ),
    )

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
    stage: Mapped[str] = mapped_column(String(24), default=AttemptStage.ORIGINATED.value)
    leg_call_id: Mapped[str | None] = mapped_column(String(64))  # the call it placed
    leg_ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


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
    stage: str = AttemptStage.ORIGINATED.value
    leg_call_id: str | None = None
    leg_ended_at: datetime | None = None


def _attempt(a: CallbackAttemptRow) -> Attempt:
    return Attempt(
        a.attempt_no,
        a.action_id,
        a.started_at,
        a.finished_at,
        a.verdict,
        a.reason_code,
        a.reason_text,
        a.uniqueid,
        a.stage,
        a.leg_call_id,
        a.leg_ended_at,
    )


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
        attempts=tuple(_attempt(a) for a in attempts or []),
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
        """A page of callbacks, newest first, each with its attempts."""
        stmt = select(CallbackRow).order_by(CallbackRow.id.desc()).offset(offset).limit(limit)
        if status:
            stmt = stmt.where(CallbackRow.status == status)
        async with self._sessions() as session:
            rows = list(await session.scalars(stmt))
            by_callback: dict[int, list[CallbackAttemptRow]] = {r.id: [] for r in rows}
            if rows:
                attempts = await session.scalars(
                    select(CallbackAttemptRow)
                    .where(CallbackAttemptRow.callback_id.in_(list(by_callback)))
                    .order_by(CallbackAttemptRow.callback_id, CallbackAttemptRow.attempt_no)
                )
                for a in attempts:
                    by_callback[a.callback_id].append(a)
            return [_callback(r, by_callback[r.id]) for r in rows]

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
            if result.rowcount:  # type: ignore[attr-defined]
                # callbacks_done in the service level counts per call: its day changed
                start = await session.scalar(
                    select(CallRow.entered_at)
                    .join(CallbackRow, CallbackRow.call_id == CallRow.call_id)
                    .where(CallbackRow.id == callback_id)
                )
                await changes.touch(await session.connection(), [start] if start else [])
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

    async def open_attempt(self, callback_id: int) -> Attempt | None:
        """The attempt still waiting for its result, if any."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(CallbackAttemptRow).where(
                    CallbackAttemptRow.callback_id == callback_id,
                    CallbackAttemptRow.finished_at.is_(None),
                )
            )
            return None if row is None else _attempt(row)

    async def advance_attempt(
        self,
        *,
        callback_id: int,
        action_id: str | None = None,
        stage: AttemptStage,
        uniqueid: str | None = None,
        leg_call_id: str | None = None,
        leg_ended_at: datetime | None = None,
    ) -> Attempt | None:
        """Move the callback's open attempt on (its stage never goes back) and return it.

        `action_id` names the attempt (the OriginateResponse); without it, the open one.
        The leg is the call the OriginateResponse's Uniqueid names, or, before that
        arrives, the first leg the attempt hears of: news of another leg (an earlier
        attempt's, arriving late) returns None, as does a finished attempt.
        """
        where = [
            CallbackAttemptRow.callback_id == callback_id,
            CallbackAttemptRow.finished_at.is_(None),
        ]
        if action_id is not None:
            where.append(CallbackAttemptRow.action_id == action_id)
        async with self._sessions() as session, session.begin():
            row = await session.scalar(select(CallbackAttemptRow).where(*where).with_for_update())
            if row is None:
                return None
            known = row.leg_call_id or row.uniqueid  # the OriginateResponse names the leg
            if leg_call_id is not None:
                if known not in (None, leg_call_id):
                    return None
                row.leg_call_id = leg_call_id
            elif uniqueid is not None and row.leg_call_id is None:
                row.leg_call_id = uniqueid  # the leg is the originated channel's own call
            row.stage = furthest(row.stage, stage).value
            row.uniqueid = uniqueid or row.uniqueid
            row.leg_ended_at = leg_ended_at or row.leg_ended_at
            return _attempt(row)

    async def awaiting_legs(self, started_before: datetime) -> list[tuple[Callback, Attempt]]:
        """Dialing callbacks whose open attempt was answered before `started_before` and is
        still waiting for its leg's news."""
        stmt = (
            select(CallbackRow, CallbackAttemptRow)
            .join(CallbackAttemptRow, CallbackAttemptRow.callback_id == CallbackRow.id)
            .where(
                CallbackRow.status == "dialing",
                CallbackAttemptRow.finished_at.is_(None),
                CallbackAttemptRow.started_at < started_before,
            )
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
            return [(_callback(cb), _attempt(a)) for cb, a in rows]

    async def finish_attempt(
        self,
        action_id: str,
        *,
        now: datetime,
        verdict: str,
        reason_code: int | None,
        reason_text: str,
        uniqueid: str | None,
    ) -> bool:
        """Close the attempt with its verdict; False when it was closed already (the
        OriginateResponse and the leg's end may both settle it: the first one counts)."""
        values: dict[str, object] = dict(
            finished_at=now, verdict=verdict, reason_code=reason_code, reason_text=reason_text
        )
        if uniqueid is not None:
            values["uniqueid"] = uniqueid
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(CallbackAttemptRow)
                .where(
                    CallbackAttemptRow.action_id == action_id,
                    CallbackAttemptRow.finished_at.is_(None),
                )
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]
