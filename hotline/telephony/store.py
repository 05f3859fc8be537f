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

from sqlalchemy import Table, bindparam, or_, select, union
from sqlalchemy import delete as sa_delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import paging
from hotline.core.paging import Page
from hotline.telephony import changes, rollup
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
            # the service-level roll-up of the days these calls entered on (before and after)
            named = [*latest, *gone]
            before = await conn.execute(
                select(table.c.entered_at).where(table.c.call_id.in_(named))
            )
            starts = [r.entered_at for r in latest.values()]
            await changes.touch(conn, [*starts, *(at for (at,) in before.all())])
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
        after that page's last call, whatever its depth; `offset` is kept for old clients.

        A deferred join: the page's keys are found (and the rows from the page's start on
        counted, up to the cap) in an index alone, then only the page's wide rows are read."""
        c = CallRow
        keys = self._keys(f, paging.after(c.entered_at, c.call_id, cursor))
        p = paging.window(keys, offset, limit + 1)
        at, key = p.c[0], p.c[1]
        stmt = (
            select(c.detail, at.label("at"), key.label("key"))
            .join_from(p, c, c.call_id == key)
            .order_by(at.desc(), key.desc())
        )
        async with self._sessions() as session:
            rows = (await session.execute(stmt)).all()
            if cursor:  # by cursor the total counts from the top, as by offset
                counted = await paging.total_from(session, self._keys(f, []), None, offset)
            else:
                first = (rows[0].at, rows[0].key) if rows else None
                counted = await paging.total_from(session, keys, first, offset)
        more = len(rows) > limit
        rows = rows[:limit]
        last = rows[-1] if rows else None
        return Page(
            [record_from_json(r.detail) for r in rows],
            *counted,
            paging.Cursor(last.at, last.key).encode() if more and last else None,
        )

    def _keys(self, f: CallFilter, keyset: list[Any]) -> Any:
        """(entered_at, call_id) of the calls `f` selects, newest first, from indexes alone.
        An agent's calls are those they answered as the member or at the interface: the two
        index scans' union (an OR of the two would scan the table in time order)."""
        c = CallRow
        where = [*self._where(dataclasses.replace(f, agent=None, only_agent=None)), *keyset]
        agents = [a for a in (f.agent, f.only_agent) if a is not None]
        if not agents:
            stmt = select(c.entered_at, c.call_id).where(*where)
            return stmt.order_by(c.entered_at.desc(), c.call_id.desc())
        where += [answered_by(a) for a in agents[1:]]
        mine = union(
            *(
                select(c.entered_at, c.call_id).where(col == agents[0], *where)
                for col in (c.agent_member, c.agent_interface)
            )
        ).subquery("mine")
        return select(mine.c.entered_at, mine.c.call_id).order_by(
            mine.c.entered_at.desc(), mine.c.call_id.desc()
        )

    async def stats(
        self,
        f: CallFilter,
        group_by: str | None,
        zone: ZoneInfo | None = None,
        now: datetime | None = None,
    ) -> list[StatsRow]:
        """Service level per queue, per agent or overall (group_by None), inbound calls.
        Given the hotline's `zone`, the whole local days before today in the range are
        read from the daily roll-up (hotline/telephony/rollup.py), the rest live."""
        days: list[date] = []
        plain = f == CallFilter(since=f.since, until=f.until, queue=f.queue)
        if zone is not None and f.since is not None and plain:
            now = now or datetime.now(UTC)
            days = rollup.whole_days(f.since, min(f.until or now, now), zone)
        async with self._sessions() as session:
            if not days:
                found = await self._live_stats(session, f, group_by)
            else:
                assert zone is not None
                first = rollup.day_bounds(days[0], zone)[0]
                last = rollup.day_bounds(days[-1], zone)[1]
                found = await rollup.rolled_up(session, days, zone, group_by, f.queue)
                if f.since is not None and f.since < first:
                    found += await self._live_stats(
                        session, dataclasses.replace(f, until=first), group_by
                    )
                if f.until is None or last < f.until:
                    found += await self._live_stats(
                        session, dataclasses.replace(f, since=last), group_by
                    )
        return _merged(found, group_by)

    async def _live_stats(
        self, session: AsyncSession, f: CallFilter, group_by: str | None
    ) -> list[dict[str, Any]]:
        c = CallRow
        key: Any = {"queue": c.queue, "agent": c.agent_member, None: None}[group_by]
        where = [*self._where(f), c.direction == Direction.INBOUND.value]
        stmt = (
            select(*([key.label("key")] if key is not None else []), *rollup.aggregates())
            .select_from(rollup.calls_with_callbacks())
            .where(*where)
        )
        if key is not None:
            stmt = stmt.group_by(key)
        return [dict(m) for m in (await session.execute(stmt)).mappings()]


def _merged(found: Iterable[dict[str, Any]], group_by: str | None) -> list[StatsRow]:
    """Sum the parts' counters per key, keys in order (none last); overall: one row."""
    sums: dict[str | None, dict[str, float]] = {}
    if group_by is None:
        sums[None] = dict.fromkeys(rollup.COUNTERS, 0.0)
    for part in found:
        n = sums.setdefault(part.get("key"), dict.fromkeys(rollup.COUNTERS, 0.0))
        for name in rollup.COUNTERS:
            n[name] += float(part[name] or 0)
    order = sorted(sums, key=lambda k: (k is None, k or ""))
    return [
        StatsRow(
            key=k,
            calls=int(sums[k]["calls"]),
            answered=int(sums[k]["answered"]),
            within_rule=int(sums[k]["within_rule"]),
            abandoned=int(sums[k]["abandoned"]),
            answer_seconds_sum=sums[k]["answer_seconds_sum"],
            callbacks_done=int(sums[k]["callbacks_done"]),
        )
        for k in order
    ]
