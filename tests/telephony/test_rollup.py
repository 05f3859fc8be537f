"""The service level's daily roll-up answers exactly what the live query answers, after new
calls, late changes to past days' calls and callbacks whose status changes, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.model import CallRecord, Direction, Outcome
from hotline.telephony.rollup import whole_days
from hotline.telephony.store import CallFilter, CallStore, StatsRow
from hotline.telephony.tables import CallDayBuiltRow
from tests.factories import abandoned_call, answered_call

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=ZONE)  # today is the 25th, local


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=ZONE).astimezone(UTC)


def reference(
    records: dict[str, CallRecord],
    done: set[str],
    since: datetime,
    until: datetime | None,
    group_by: str | None,
) -> dict[str | None, tuple[int, int, int, int, float, int]]:
    """The service level computed from the records themselves."""
    out: dict[str | None, list[float]] = {}
    for r in records.values():
        if r.direction is not Direction.INBOUND or r.entered_at < since:
            continue
        if until is not None and r.entered_at >= until:
            continue
        key = {"queue": r.queue, "agent": r.agent_member, None: None}[group_by]
        n = out.setdefault(key, [0, 0, 0, 0, 0.0, 0])
        answered = r.outcome in (Outcome.ANSWERED, Outcome.DROPPED)
        n[0] += 1
        n[1] += answered
        n[2] += r.within_rule is True
        n[3] += r.outcome is Outcome.ABANDONED
        n[4] += (r.wait_seconds or 0.0) if answered else 0.0
        n[5] += r.call_id in done
    if group_by is None and None not in out:
        out[None] = [0, 0, 0, 0, 0.0, 0]
    return {
        k: (int(v[0]), int(v[1]), int(v[2]), int(v[3]), round(v[4], 6), int(v[5]))
        for k, v in out.items()
    }


def counters(rows: list[StatsRow]) -> dict[str | None, tuple[int, int, int, int, float, int]]:
    return {
        r.key: (
            r.calls,
            r.answered,
            r.within_rule,
            r.abandoned,
            round(r.answer_seconds_sum, 6),
            r.callbacks_done,
        )
        for r in rows
    }


def a_week_of_calls(rng: random.Random) -> list[CallRecord]:
    """Calls from the 19th to today, some on the stroke of local midnight."""
    calls: list[CallRecord] = []
    for i in range(160):
        at = local(19, 0) + timedelta(seconds=rng.randrange(int(6.4 * 86400)))
        if i % 20 == 0:  # the last second of a day and the first of the next
            at = local(20 + i // 40, 23, 59, 59) + timedelta(seconds=i % 40 // 20)
        queue = rng.choice(["燃气热线", "抢修", "投诉"])
        if rng.random() < 0.7:
            agent = rng.choice(["PJSIP/1001", "PJSIP/1002", "PJSIP/1003"])
            record = answered_call(
                f"c{i}", at=at, queue=queue, agent=agent, ring_s=rng.choice([3.0, 9.5, 22.0])
            )
            if rng.random() < 0.1:
                record = replace(record, outcome=Outcome.DROPPED)
        else:
            record = abandoned_call(f"c{i}", at=at, queue=queue, wait_s=rng.uniform(5, 90))
        if rng.random() < 0.05:
            record = replace(record, direction=Direction.CALLBACK)
        calls.append(record)
    return calls


async def test_the_roll_up_answers_as_the_live_query_after_saves_late_edits_and_callbacks(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    store, callbacks = CallStore(sessions), CallbackStore(sessions)
    rng = random.Random(17)
    records = {r.call_id: r for r in a_week_of_calls(rng)}
    await store.save(records.values())
    done: set[str] = set()
    ids: dict[str, int] = {}
    for r in records.values():
        if r.outcome is Outcome.ABANDONED:
            cb = await callbacks.create(
                call_id=r.call_id,
                number=r.caller_number or "",
                reason="abandoned",
                connect_kind="queue",
                connect_target=r.queue,
                first_attempt_at=r.entered_at,
                now=r.entered_at,
            )
            assert cb is not None
            ids[r.call_id] = cb.id

    async def set_status(call_id: str, expect: str, status: str) -> None:
        assert await callbacks.save_progress(
            ids[call_id],
            expect=expect,
            status=status,
            attempts_made=1,
            next_attempt_at=None,
            last_attempt_at=None,
            last_result=None,
            now=NOW,
        )
        (done.add if status == "done" else done.discard)(call_id)

    for call_id in list(ids)[::2]:
        await set_status(call_id, "scheduled", "done")

    ranges = [
        (local(19, 10), None),  # a partial first day, whole days, and today
        (local(20, 0), local(24, 0)),  # whole days only
        (local(21, 6, 30), local(23, 17)),  # partial at both ends
        (local(22, 3), local(22, 9)),  # inside one day: all live
    ]

    async def check() -> None:
        for since, until in ranges:
            for by in ("queue", "agent", None):
                f = CallFilter(since=since, until=until)
                rolled = counters(await store.stats(f, by, zone=ZONE, now=NOW))
                live = counters(await store.stats(f, by))
                assert rolled == live == reference(records, done, since, until, by)
        queue = CallFilter(since=local(19, 10), queue="抢修")
        rolled = counters(await store.stats(queue, "agent", zone=ZONE, now=NOW))
        live = counters(await store.stats(queue, "agent"))
        assert rolled == live and sum(n[0] for n in rolled.values()) > 0

    await check()
    async with sessions() as session:
        built = await session.scalar(select(func.count()).select_from(CallDayBuiltRow))
    assert built == len(whole_days(local(19, 10), NOW.astimezone(UTC), ZONE)) == 5

    # late changes to past days: an outcome, a queue, a start moved to another day, a call
    # found late, a deleted call, callbacks done and undone
    by_day = sorted(records.values(), key=lambda r: r.entered_at)
    edited = next(r for r in by_day if r.entered_at.astimezone(ZONE).day == 21)
    moved = next(r for r in by_day if r.entered_at.astimezone(ZONE).day == 22)
    gone = next(r for r in by_day if r.entered_at.astimezone(ZONE).day == 23)
    late = answered_call("late", at=local(20, 23, 59, 59), queue="投诉", ring_s=30.0)
    changed = [
        replace(edited, outcome=Outcome.DROPPED, queue="抢修", wait_seconds=41.0),
        replace(moved, entered_at=local(24, 8)),
        late,
    ]
    await store.save(changed, delete=[gone.call_id])
    records.update({r.call_id: r for r in changed})
    del records[gone.call_id]
    await check()

    def on(day: int, calls: list[str]) -> str:
        return next(c for c in calls if records[c].entered_at.astimezone(ZONE).day == day)

    # a callback done on a past day's call, and one done before reopened: nothing else
    await set_status(
        on(22, [c for c in ids if c not in done and c in records]), "scheduled", "done"
    )
    await set_status(on(21, [c for c in ids if c in done and c in records]), "done", "scheduled")
    await check()

    # the same again, now that every day was built once more
    await store.save([replace(late, within_rule=False, wait_seconds=2.0)])
    records["late"] = replace(late, within_rule=False, wait_seconds=2.0)
    await check()


def test_whole_days_are_the_local_days_inside_the_range() -> None:
    since, until = local(20, 0), local(22, 12)
    assert whole_days(since, until, ZONE) == [date(2026, 11, 20), date(2026, 11, 21)]
    assert whole_days(local(20, 0, 0, 1), local(21, 0), ZONE) == []
    start = datetime.combine(date(2026, 11, 21), time(0), tzinfo=ZONE)
    assert whole_days(start, start + timedelta(days=1), ZONE) == [date(2026, 11, 21)]
