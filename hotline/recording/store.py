"""Recordings, their audit trail, in the database. Rule: a row says `archived` only once the
archived file is verified and in place; every listen, download and deletion leaves an
audit entry.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core import paging
from hotline.core.db import Base, UtcDateTime
from hotline.core.paging import Page
from hotline.telephony.view import AmongCallsAnsweredBy, call_answered_by, owned_by


class Status(StrEnum):
    PENDING = "pending"  # waiting for the switch to finish the file, or to be transcoded
    ARCHIVED = "archived"  # verified and stored under the archive root
    FAILED = "failed"  # see `reason`; a person can retry it
    PURGED = "purged"  # deleted by retention; the row stays as the record of it


class Layout(StrEnum):
    STEREO = "stereo"  # customer on the left channel, agent on the right
    MIXED = "mixed"  # one channel with both parties


class RecordingRow(Base):
    __tablename__ = "recordings"
    __table_args__ = (  # newest first, and an agent's own (migration 0012)
        Index("ix_recordings_started_at_id", "started_at", "id"),
        *(  # migration 0018
            Index(f"ix_recordings_{column}_started_at_id", column, "started_at", "id")
            for column in ("queue", "agent", "call_id")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    sources: Mapped[str] = mapped_column(Text)  # JSON: {"mixed": path, "customer": …, "agent": …}
    layout: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(Text)  # relative to the archive root
    codec: Mapped[str | None] = mapped_column(String(16))
    sample_rate: Mapped[int | None] = mapped_column(Integer)
    channels: Mapped[int | None] = mapped_column(Integer)
    duration_s: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    source_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # what records staff search by (copied from the call, or from an import's metadata)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    caller_number: Mapped[str | None] = mapped_column(String(64), index=True)
    agent: Mapped[str | None] = mapped_column(String(128), index=True)
    queue: Mapped[str | None] = mapped_column(String(128))
    # retention
    retain_until: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    important: Mapped[bool] = mapped_column(Boolean, default=False)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # a user name, or "retention"
    action: Mapped[str] = mapped_column(String(32), index=True)
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recordings.id"), index=True)
    remote: Mapped[str | None] = mapped_column(String(64))  # where from (client address)
    detail: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Recording:
    id: int
    call_id: str | None
    status: Status
    reason: str | None
    attempts: int
    next_attempt_at: datetime | None
    sources: dict[str, str]
    layout: Layout | None
    path: str | None
    codec: str | None
    sample_rate: int | None
    channels: int | None
    duration_s: float | None
    size_bytes: int | None
    sha256: str | None
    source_sha256: str | None
    created_at: datetime
    archived_at: datetime | None
    started_at: datetime
    caller_number: str | None
    agent: str | None
    queue: str | None
    retain_until: datetime
    important: bool
    legal_hold: bool
    hold_reason: str | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    recording_id: int | None
    remote: str | None
    detail: str | None


def _recording(row: RecordingRow) -> Recording:
    return Recording(
        id=row.id,
        call_id=row.call_id,
        status=Status(row.status),
        reason=row.reason,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sources=json.loads(row.sources),
        layout=Layout(row.layout) if row.layout else None,
        path=row.path,
        codec=row.codec,
        sample_rate=row.sample_rate,
        channels=row.channels,
        duration_s=row.duration_s,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        source_sha256=row.source_sha256,
        created_at=row.created_at,
        archived_at=row.archived_at,
        started_at=row.started_at,
        caller_number=row.caller_number,
        agent=row.agent,
        queue=row.queue,
        retain_until=row.retain_until,
        important=row.important,
        legal_hold=row.legal_hold,
        hold_reason=row.hold_reason,
    )


def _audit(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        row.id, row.at, row.actor, row.action, row.recording_id, row.remote, row.detail
    )


@dataclass(frozen=True, slots=True)
class RecordingFilter:
    since: datetime | None = None
    until: datetime | None = None
    number: str | None = None  # caller number or part of it
    agent: str | None = None
    queue: str | None = None
    call_id: str | None = None
    min_duration_s: float | None = None
    status: Status | None = None
    only_agent: str | None = None  # role agent: their own recordings only


class RecordingStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self._sessions

    # --- the archiver's side ---------------------------------------------------------------

    async def add(
        self,
        *,
        call_id: str | None,
        sources: dict[str, str],
        started_at: datetime,
        caller_number: str | None,
        agent: str | None,
        queue: str | None,
        retain_until: datetime,
        now: datetime,
        source_sha256: str | None = None,
        important: bool = False,
    ) -> Recording | None:
        """A new pending recording; None if this call (or this source hash) has one."""
        row = RecordingRow(
            call_id=call_id,
            status=Status.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            sources=json.dumps(sources, ensure_ascii=False),
            created_at=now,
            started_at=started_at,
            caller_number=caller_number,
            agent=agent,
            queue=queue,
            retain_until=retain_until,
            important=important,
            legal_hold=False,
            source_sha256=source_sha256,
        )
        try:
            async with self._sessions() as session, session.begin():
                if source_sha256 is not None:
                    dup = await session.scalar(
                        select(RecordingRow.id).where(RecordingRow.source_sha256 == source_sha256)
                    )
                    if dup is not None:
                        return None
                session.add(row)
        except IntegrityError:
            return None
        return _recording(row)

    async def due(self, now: datetime, limit: int = 10) -> list[Recording]:
        stmt = (
            select(RecordingRow)
            .where(
                RecordingRow.status == Status.PENDING.value,
                RecordingRow.next_attempt_at <= now,
            )
            .order_by(RecordingRow.next_attempt_at, RecordingRow.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_recording(r) for r in await session.scalars(stmt)]

    async def update(self, recording_id: int, **values: Any) -> None:
        """Set columns of one recording (status values as `Status`)."""
        values = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in values.items()}
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(RecordingRow).where(RecordingRow.id == recording_id).values(**values)
            )

    async def update_unless_purged(self, recording_id: int, **values: Any) -> bool:
        """`update`, in one statement only while the recording is not purged (a hold set
        as a purge takes the row cannot be lost); False when it is purged (or gone)."""
        values = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in values.items()}
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(RecordingRow)
                .where(RecordingRow.id == recording_id, RecordingRow.status != "purged")
                .values(**values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def claim_purge(self, recording_id: int, now: datetime) -> bool:
        """Mark the recording purged, in one statement, only if it is still due: not on
        legal hold, its deadline passed, not purged. The file goes only after this."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(RecordingRow)
                .where(
                    RecordingRow.id == recording_id,
                    RecordingRow.legal_hold.is_(False),
                    RecordingRow.retain_until <= now,
                    RecordingRow.status != "purged",
                )
                .values(status="purged")
            )
        return bool(getattr(result, "rowcount", 0))

    async def get(self, recording_id: int) -> Recording | None:
        async with self._sessions() as session:
            row = await session.get(RecordingRow, recording_id)
            return _recording(row) if row else None

    async def by_call(self, call_id: str) -> Recording | None:
        async with self._sessions() as session:
            row = await session.scalar(select(RecordingRow).where(RecordingRow.call_id == call_id))
            return _recording(row) if row else None

    async def belongs_to(self, recording: Recording, agent: str) -> bool:
        """Whether `agent` (a member name or interface) had this recording's call."""
        if recording.agent == agent:
            return True
        if recording.call_id is None:
            return False
        async with self._sessions() as session:
            found = await session.scalar(call_answered_by(recording.call_id, agent))
            return found is not None

    async def has_source_hash(self, sha256: str) -> bool:
        async with self._sessions() as session:
            found = await session.scalar(
                select(RecordingRow.id).where(
                    or_(RecordingRow.source_sha256 == sha256, RecordingRow.sha256 == sha256)
                )
            )
            return found is not None

    # --- records staff's side --------------------------------------------------------------

    def _where(self, f: RecordingFilter) -> list[Any]:
        r = RecordingRow
        where: list[Any] = []
        if f.since:
            where.append(r.started_at >= f.since)
        if f.until:
            where.append(r.started_at < f.until)
        if f.number:
            where.append(r.caller_number.contains(f.number, autoescape=True))
        if f.agent:
            where.append(r.agent == f.agent)
        if f.only_agent is not None:  # the member name or the interface, as for calls
            where.append(owned_by(f.only_agent, r.id, r.agent, r.call_id))
        if f.queue:
            where.append(r.queue == f.queue)
        if f.call_id:
            where.append(r.call_id == f.call_id)
        if f.min_duration_s is not None:
            where.append(r.duration_s >= f.min_duration_s)
        if f.status:
            where.append(r.status == f.status.value)
        return where

    async def search(
        self, f: RecordingFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[Recording], int]:
        """A page and the total, counted up to `offset` + paging.COUNT_CAP."""
        page = await self.page(f, offset=offset, limit=limit)
        return page.items, page.total

    async def page(
        self, f: RecordingFilter, *, offset: int = 0, limit: int = 50, cursor: str | None = None
    ) -> Page[Recording]:
        """Newest first; with `cursor` (a previous page's next_cursor) the page after it.
        A deferred join: the page's keys and its capped count from an index alone, then
        the page's rows (as CallStore.page)."""
        r = RecordingRow
        keys = self._keys(f, paging.after(r.started_at, r.id, cursor, int))
        p = paging.window(keys, offset, limit + 1)
        stmt = select(r).join_from(p, r, r.id == p.c[1]).order_by(p.c[0].desc(), p.c[1].desc())
        async with self._sessions() as session:
            found = (await session.execute(stmt)).all()
            if cursor:  # by cursor the total counts from the top, as by offset
                counted = await paging.total_from(session, self._keys(f, []), None, offset)
            else:
                first = (found[0][0].started_at, found[0][0].id) if found else None
                counted = await paging.total_from(session, keys, first, offset)
        rows = [x[0] for x in found]
        more = len(rows) > limit
        rows = rows[:limit]
        cursor_out = paging.Cursor(rows[-1].started_at, str(rows[-1].id)).encode() if more else None
        return Page([_recording(x) for x in rows], *counted, cursor_out)

    def _keys(self, f: RecordingFilter, keyset: list[Any]) -> Any:
        """(started_at, id) of the recordings `f` selects, newest first. An agent's own are
        the union of theirs by the row's agent and by the calls they answered, each part
        from its index (as `owned_by`, without looking each id up again)."""
        r = RecordingRow
        where = [*self._where(replace(f, only_agent=None)), *keyset]
        if f.only_agent is None:
            stmt = select(r.started_at, r.id).where(*where)
            return stmt.order_by(r.started_at.desc(), r.id.desc())
        agent = f.only_agent
        mine = union(
            select(r.started_at, r.id).where(r.agent == agent, *where),
            select(r.started_at, r.id).where(AmongCallsAnsweredBy(r.call_id, agent), *where),
        ).subquery("mine")
        return select(mine.c.started_at, mine.c.id).order_by(
            mine.c.started_at.desc(), mine.c.id.desc()
        )

    async def expired(self, now: datetime, limit: int = 500) -> list[Recording]:
        """Archived or failed recordings past retention and not on legal hold."""
        stmt = (
            select(RecordingRow)
            .where(
                RecordingRow.retain_until <= now,
                RecordingRow.legal_hold.is_(False),
                RecordingRow.status.in_([Status.ARCHIVED.value, Status.FAILED.value]),
            )
            .order_by(RecordingRow.retain_until)
            .limit(limit)
        )
        async with self._sessions() as session:
            return [_recording(r) for r in await session.scalars(stmt)]

    # --- audit -----------------------------------------------------------------------------

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        recording_id: int | None,
        at: datetime,
        remote: str | None = None,
        detail: str | None = None,
    ) -> None:
        async with self._sessions() as session, session.begin():
            session.add(
                AuditRow(
                    at=at,
                    actor=actor,
                    action=action,
                    recording_id=recording_id,
                    remote=remote,
                    detail=detail,
                )
            )

    async def audit_all(
        self, entries: Sequence[tuple[str, str, int | None, str | None, str | None]], at: datetime
    ) -> None:
        """Several entries (actor, action, recording id, remote, detail) in one transaction."""
        if not entries:
            return
        async with self._sessions() as session, session.begin():
            session.add_all(
                AuditRow(
                    at=at, actor=actor, action=action, recording_id=rid, remote=remote, detail=d
                )
                for actor, action, rid, remote, d in entries
            )

    async def audit_log(
        self,
        *,
        recording_id: int | None = None,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Sequence[AuditEntry]:
        """Newest entry first (by id); with `cursor` (next_cursor(last entry of a page)) the
        entries after it, by the primary key at any depth."""
        stmt = select(AuditRow).order_by(AuditRow.id.desc()).offset(offset).limit(limit)
        if cursor:
            stmt = stmt.where(AuditRow.id < paging.cursor_key(cursor, int)[1])
        if recording_id is not None:
            stmt = stmt.where(AuditRow.recording_id == recording_id)
        if actor:
            stmt = stmt.where(AuditRow.actor == actor)
        if action:
            stmt = stmt.where(AuditRow.action == action)
        if since:
            stmt = stmt.where(AuditRow.at >= since)
        async with self._sessions() as session:
            return [_audit(r) for r in await session.scalars(stmt)]
