"""Service level over whole past days from a daily roll-up. Rule: a day's roll-up rows are
read only while every UTC hour the day covers has the change generation it was built at.

Every write that can change a day's counters bumps the generation of the calls' UTC hours in
its own transaction (`touch`): a call saved or deleted (CallStore.save, the old start and the
new) and a callback's status stored (CallbackStore.save_progress; `callbacks_done` counts per
call). A build first locks the day's `call_day_built` row, then reads the generations, then
aggregates: a write committed after the generations were read leaves them different from the
stored ones, so the day is built again the next time it is asked for. Days are local days of
the hotline's zone; the range's partial days at its edges, and today, come from the live
query (CallStore.stats).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, case, delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from hotline.telephony.callback_store import CallbackRow
from hotline.telephony.changes import HOUR, hour_of
from hotline.telephony.model import Direction, Outcome
from hotline.telephony.tables import CallChangeRow, CallDayBuiltRow, CallDayRollupRow, CallRow

_ANSWERED = (Outcome.ANSWERED.value, Outcome.DROPPED.value)
COUNTERS = (
    "calls",
    "answered",
    "within_rule",
    "abandoned",
    "answer_seconds_sum",
    "callbacks_done",
)


def aggregates() -> list[Any]:
    """The service-level counters of the inbound calls selected with them."""
    c = CallRow
    answered = c.outcome.in_(_ANSWERED)
    return [
        func.count().label("calls"),
        func.sum(case((answered, 1), else_=0)).label("answered"),
        func.sum(case((c.within_rule.is_(True), 1), else_=0)).label("within_rule"),
        func.sum(case((c.outcome == Outcome.ABANDONED.value, 1), else_=0)).label("abandoned"),
        func.sum(case((answered, func.coalesce(c.wait_seconds, 0.0)), else_=0.0)).label(
            "answer_seconds_sum"
        ),
        func.count(CallbackRow.call_id).label("callbacks_done"),  # joined only when done
    ]


def calls_with_callbacks() -> Any:
    """The calls, each with its callback if that is done (one per call, ever): read by
    the partial index of done callbacks, row by row, not by hashing all callbacks."""
    return cast(Table, CallRow.__table__).outerjoin(
        CallbackRow.__table__,
        (CallbackRow.call_id == CallRow.call_id) & (CallbackRow.status == "done"),
    )


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def whole_days(since: datetime, until: datetime, zone: ZoneInfo) -> list[date]:
    """The local days lying wholly in [since, until)."""
    day = since.astimezone(zone).date()
    if day_bounds(day, zone)[0] < since:
        day += timedelta(days=1)
    days = []
    while day_bounds(day, zone)[1] <= until:
        days.append(day)
        day += timedelta(days=1)
    return days


def _gens_by_day(
    days: Sequence[date], zone: ZoneInfo, hours: Iterable[tuple[datetime, int]]
) -> dict[date, int]:
    """Per day, the sum of the generations of the UTC hours that overlap it."""
    bounds = {d: day_bounds(d, zone) for d in days}
    sums = dict.fromkeys(days, 0)
    for hour, gen in hours:
        h = hour_of(hour)
        for d, (start, end) in bounds.items():
            if h < end and h + HOUR > start:
                sums[d] += gen
    return sums


async def _hour_gens(
    session: AsyncSession, start: datetime, end: datetime
) -> list[tuple[datetime, int]]:
    g = CallChangeRow
    stmt = select(g.hour, g.gen).where(g.hour > start - HOUR, g.hour < end)
    return [(h, n) for h, n in (await session.execute(stmt)).all()]


async def _build(session: AsyncSession, day: date, zone: ZoneInfo) -> None:
    """Rebuild one day's rows, in one transaction, under the lock of its built row."""
    name, key = zone.key, day.isoformat()
    start, end = day_bounds(day, zone)
    b, r = cast(Table, CallDayBuiltRow.__table__), cast(Table, CallDayRollupRow.__table__)
    async with session.begin():
        conn = await session.connection()
        upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        lock = upsert(b).values(zone=name, day=key, gens=-1)
        await conn.execute(
            lock.on_conflict_do_update(index_elements=["zone", "day"], set_={"gens": -1})
        )
        gens = _gens_by_day([day], zone, await _hour_gens(session, start, end))[day]
        await conn.execute(delete(r).where(r.c.zone == name, r.c.day == key))
        c = CallRow
        source = (
            select(literal(name), literal(key), c.queue, c.agent_member, *aggregates())
            .select_from(calls_with_callbacks())
            .where(
                c.entered_at >= start,
                c.entered_at < end,
                c.direction == Direction.INBOUND.value,
            )
            .group_by(c.queue, c.agent_member)
        )
        cols = ["zone", "day", "queue", "agent_member", *COUNTERS]
        await conn.execute(insert(r).from_select(cols, source))
        await conn.execute(update(b).where(b.c.zone == name, b.c.day == key).values(gens=gens))


async def rolled_up(
    session: AsyncSession,
    days: Sequence[date],
    zone: ZoneInfo,
    group_by: str | None,
    queue: str | None,
) -> list[dict[str, Any]]:
    """The counters of these whole past days per key (queue, agent_member or none),
    building first the days whose roll-up is missing or stale. The session must not be
    in a transaction (each build is its own)."""
    first, last = day_bounds(days[0], zone)[0], day_bounds(days[-1], zone)[1]
    b = CallDayBuiltRow
    keys = [d.isoformat() for d in days]
    async with session.begin():
        built_rows = await session.execute(
            select(b.day, b.gens).where(b.zone == zone.key, b.day >= keys[0], b.day <= keys[-1])
        )
        built = {d: g for d, g in built_rows.all()}
        now = _gens_by_day(days, zone, await _hour_gens(session, first, last))
    for day in days:
        if built.get(day.isoformat()) != now[day]:
            await _build(session, day, zone)
    r = CallDayRollupRow
    key: Any = {"queue": r.queue, "agent": r.agent_member, None: None}[group_by]
    sums = [func.sum(getattr(r, n)).label(n) for n in COUNTERS]
    where = [r.zone == zone.key, r.day >= keys[0], r.day <= keys[-1]]
    if queue:
        where.append(r.queue == queue)
    stmt = select(*([key.label("key")] if key is not None else []), *sums).where(and_(*where))
    if key is not None:
        stmt = stmt.group_by(key)
    async with session.begin():
        return [dict(m) for m in (await session.execute(stmt)).mappings()]
