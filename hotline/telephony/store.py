"""Call records in the database. Rule: one row per call, written whole, never half.

The table is `hotline.telephony.tables.CallRow`; other packages read calls through
`hotline.telephony.view`, never through this store's table.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, case, func, or_, select
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import paging
from hotline.core.paging import Page
from hotline.telephony.callback_store import CallbackRow
from hotline.telephony.live import DAY_COUNTERS, DayCounters
from hotline.telephony.model import (
    AgentAttempt,
    AttemptResult,
    CallRecord,
    Direction,
    HangupBy,
    Outcome,
    QueueVisit,
    SurveyResult,
)
from hotline.telephony.paths import map_path
from hotline.telephony.tables import CallRow
from hotline.telephony.view import answered_by

# --- record <-> JSON -------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def record_to_json(record: CallRecord) -> str:
    data = {f.name: _jsonable(getattr(record, f.name)) for f in dataclasses.fields(record)}
    data["visits"] = [
        {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
        for v in record.visits
    ]
    data["attempts"] = [
        {f.name: _jsonable(getattr(a, f.name)) for f in dataclasses.fields(a)}
        for a in record.attempts
    ]
    return json.dumps(data, ensure_ascii=False)


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_json(text: str) -> CallRecord:
    data = json.loads(text)
    times = {"entered_at", "queue_joined_at", "ring_started_at", "answered_at", "ended_at"}
    times |= {"callback_reached_at", "survey_offered_at"}
    for key in times:
        data[key] = _dt(data.get(key))
    data["visits"] = tuple(
        QueueVisit(**{**v, "joined_at": _dt(v["joined_at"]), "left_at": _dt(v.get("left_at"))})
        for v in data.get("visits", [])
    )
    data["attempts"] = tuple(
        AgentAttempt(
            **{**a, "started_at": _dt(a["started_at"]), "result": AttemptResult(a["result"])}
        )
        for a in data.get("attempts", [])
    )
    data["direction"] = Direction(data["direction"])
    data["outcome"] = Outcome(data["outcome"])
    data["hangup_by"] = HangupBy(data["hangup_by"]) if data.get("hangup_by") else None
    survey = data.get("survey_result")
    data["survey_result"] = SurveyResult(survey) if survey else None
    data["variables"] = tuple(tuple(kv) for kv in data.get("variables", []))
    known = {f.name for f in dataclasses.fields(CallRecord)}
    return CallRecord(**{k: v for k, v in data.items() if k in known})


def _row_values(record: CallRecord, path_map: dict[str, str]) -> dict[str, Any]:
    return dict(
        call_id=record.call_id,
        linkedid=record.linkedid,
        direction=record.direction.value,
        caller_number=record.caller_number,
        caller_name=record.caller_name,
        dialled=record.dialled,
        queue=record.queue,
        agent_member=record.agent_member,
        agent_interface=record.agent_interface,
        entered_at=record.entered_at,
        answered_at=record.answered_at,
        ended_at=record.ended_at,
        ring_seconds=record.ring_seconds,
        rings=record.rings,
        within_rule=record.within_rule,
        wait_seconds=record.wait_seconds,
        talk_seconds=record.talk_seconds,
        hangup_by=record.hangup_by.value if record.hangup_by else None,
        hangup_cause=record.hangup_cause,
        outcome=record.outcome.value,
        recording_file=record.recording_file,
        recording_path=map_path(record.recording_file, path_map),
        callback_id=record.callback_id,
        detail=record_to_json(record),
    )


# --- queries ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallFilter:
    since: datetime | None = None
    until: datetime | None = None
    number: str | None = None  # caller number, or part of it
    agent: str | None = None  # member name or interface
    queue: str | None = None
    outcome: Outcome | None = None
    within_rule: bool | None = None
    direction: Direction | None = None
    only_agent: str | None = None  # an agent's own calls (role agent)


@dataclass(frozen=True, slots=True)
class StatsRow:
    key: str | None
    calls: int
    answered: int
    within_rule: int
    abandoned: int
    answer_seconds_sum: float
    callbacks_done: int

    @property
    def within_rule_pct(self) -> float | None:
        return round(100.0 * self.within_rule / self.answered, 1) if self.answered else None

    @property
    def abandoned_pct(self) -> float | None:
        return round(100.0 * self.abandoned / self.calls, 1) if self.calls else None

    @property
    def average_speed_of_answer_s(self) -> float | None:
        return round(self.answer_seconds_sum / self.answered, 1) if self.answered else None


_ANSWERED = (Outcome.ANSWERED.value, Outcome.DROPPED.value)


def day_counts(
    records: Iterable[CallRecord], day: date, start: datetime, end: datetime
) -> dict[str, DayCounters]:
    """Per queue, the visits that joined it in [start, end), counted as the live state
    counts them: offered, answered (connect) and within the ring rule, abandoned (a verdict
    still pending counts as abandoned, as QueueCallerAbandon does live), timed out, and
    callbacks (visits of a call Hotline originated)."""
    counts: dict[str, dict[str, int]] = {}
    for record in records:
        callback = int(record.direction is Direction.CALLBACK)
        for v in record.visits:
            if not start <= v.joined_at < end:
                continue
            n = counts.setdefault(v.queue, dict.fromkeys(DAY_COUNTERS, 0))
            connect = v.result == "connect"
            pending = v.result is None and v.hold_s is not None
            n["offered"] += 1
            n["answered"] += int(connect)
            n["answered_within"] += int(connect and record.within_rule is True)
            n["abandoned"] += int(v.result == "abandon" or pending)
            n["timed_out"] += int(v.result == "timeout")
            n["callbacks"] += callback
    return {queue: DayCounters(day, **n) for queue, n in counts.items()}


class CallStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], path_map: dict[str, str] | None = None
    ) -> None:
        self._sessions = sessions
        self._path_map = path_map or {}

    async def save(self, records: Iterable[CallRecord], *, delete: Iterable[str] = ()) -> None:
        """Upsert each record (last snapshot of a call wins) and delete the calls named in
        `delete`, all in one transaction.

        The upsert's key is (call_id, entered_at), unique on both layouts: a monthly
        partitioned `calls` cannot have call_id alone unique (deploy/partitioning.md). The
        tracker may move a call's entered_at earlier (an entry estimated from a listing), so
        a row of the same call under another entered_at is deleted first."""
        latest = {r.call_id: r for r in records}
        gone = [call_id for call_id in delete if call_id not in latest]
        if not latest and not gone:
            return
        table = cast(Table, CallRow.__table__)
        async with self._sessions() as session, session.begin():
            conn = await session.connection()
            if latest:
                rows = [_row_values(r, self._path_map) for r in latest.values()]
                insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                stmt = insert(table)
                key = ["call_id", "entered_at"]
                moved = sa_delete(table).where(
                    table.c.call_id == bindparam("old_id"),
                    table.c.entered_at != bindparam("old_at", type_=table.c.entered_at.type),
                )
                await conn.execute(
                    moved, [{"old_id": r["call_id"], "old_at": r["entered_at"]} for r in rows]
                )
                updates = {c: stmt.excluded[c] for c in rows[0] if c not in key}
                upsert = stmt.on_conflict_do_update(index_elements=key, set_=updates)
                await conn.execute(upsert, rows)
            if gone:
                await conn.execute(sa_delete(table).where(table.c.call_id.in_(gone)))

    async def load_open(self) -> list[CallRecord]:
        async with self._sessions() as session:
            result = await session.scalars(select(CallRow.detail).where(CallRow.ended_at.is_(None)))
            return [record_from_json(d) for d in result]

    async def queue_day_counts(self, day: date, zone: ZoneInfo) -> dict[str, DayCounters]:
        """Today's counters per queue for the local `day` (see `day_counts`), from the calls
        that entered since the day before and had not ended before the day began."""
        start = datetime.combine(day, time(0), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
        c = CallRow
        since, first = (start - timedelta(days=1)).astimezone(UTC), start.astimezone(UTC)
        stmt = select(c.detail).where(
            c.entered_at >= since,
            c.entered_at < end.astimezone(UTC),
            or_(c.ended_at.is_(None), c.ended_at >= first),
        )
        async with self._sessions() as session:
            details = list(await session.scalars(stmt))
        return day_counts((record_from_json(d) for d in details), day, start, end)

    async def get(self, call_id: str) -> CallRecord | None:
        async with self._sessions() as session:
            detail = await session.scalar(select(CallRow.detail).where(CallRow.call_id == call_id))
            return record_from_json(detail) if detail else None

    async def recording_path(self, call_id: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(CallRow.recording_path).where(CallRow.call_id == call_id)
            )

    def _where(self, f: CallFilter) -> list[Any]:
        c = CallRow
        where: list[Any] = []
        if f.since:
            where.append(c.entered_at >= f.since)
        if f.until:
            where.append(c.entered_at < f.until)
        if f.number:
            where.append(c.caller_number.contains(f.number, autoescape=True))
        if f.agent:
            where.append(answered_by(f.agent))
        if f.only_agent is not None:
            where.append(answered_by(f.only_agent))
        if f.queue:
            where.append(c.queue == f.queue)
        if f.outcome:
            where.append(c.outcome == f.outcome.value)
        if f.within_rule is not None:
            where.append(c.within_rule == f.within_rule)  # `IS false` cannot use an index
        if f.direction:
            where.append(c.direction == f.direction.value)
        return where

    async def search(
        self, f: CallFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[CallRecord], int]:
        """A page of calls and their total, counted up to `offset` + paging.COUNT_CAP."""
        page = await self.page(f, offset=offset, limit=limit)
        return page.items, page.total

    async def page(
        self, f: CallFilter, *, offset: int = 0, limit: int = 50, cursor: str | None = None
    ) -> Page[CallRecord]:
        """Newest call first. With `cursor` (a previous page's next_cursor) the page starts
        after that page's last call, whatever its depth; `offset` is kept for old clients."""
        c = CallRow
        where = self._where(f)
        keyset = paging.after(c.entered_at, c.call_id, cursor)
        stmt = select(c.detail, c.entered_at, c.call_id).where(*where, *keyset)
        stmt = stmt.order_by(c.entered_at.desc(), c.call_id.desc())
        async with self._sessions() as session:
            rows = (await session.execute(stmt.offset(offset).limit(limit + 1))).all()
            total, capped = await paging.capped_count(
                session, select(c.call_id).where(*where), offset + paging.COUNT_CAP
            )
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        return Page(
            [record_from_json(r.detail) for r in rows],
            total,
            capped,
            paging.Cursor(last.entered_at, last.call_id).encode() if more and last else None,
        )

    async def stats(self, f: CallFilter, group_by: str | None) -> list[StatsRow]:
        """Service level per queue, per agent or overall (group_by None)."""
        c = CallRow
        key: Any = {"queue": c.queue, "agent": c.agent_member, None: None}[group_by]
        answered = case((c.outcome.in_(_ANSWERED), 1), else_=0)
        cols: list[Any] = [
            func.count().label("calls"),
            func.sum(answered).label("answered"),
            func.sum(case((c.within_rule.is_(True), 1), else_=0)).label("within_rule"),
            func.sum(case((c.outcome == Outcome.ABANDONED.value, 1), else_=0)).label("abandoned"),
            func.sum(
                case((c.outcome.in_(_ANSWERED), func.coalesce(c.wait_seconds, 0.0)), else_=0.0)
            ).label("asa"),
            func.sum(case((CallbackRow.status == "done", 1), else_=0)).label("callbacks_done"),
        ]
        where = [*self._where(f), c.direction == Direction.INBOUND.value]
        stmt = (
            select(*([key.label("key")] if key is not None else []), *cols)
            .select_from(
                c.__table__.outerjoin(CallbackRow.__table__, CallbackRow.call_id == c.call_id)
            )
            .where(*where)
        )
        if key is not None:
            stmt = stmt.group_by(key).order_by(key)
        async with self._sessions() as session:
            result = await session.execute(stmt)
            out: list[StatsRow] = []
            for row in result.mappings():
                out.append(
                    StatsRow(
                        key=row.get("key"),
                        calls=int(row["calls"] or 0),
                        answered=int(row["answered"] or 0),
                        within_rule=int(row["within_rule"] or 0),
                        abandoned=int(row["abandoned"] or 0),
                        answer_seconds_sum=float(row["asa"] or 0.0),
                        callbacks_done=int(row["callbacks_done"] or 0),
                    )
                )
            return out
