"""Call records and callbacks in the database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.live import DayCounters
from hotline.telephony.model import Direction, Outcome, QueueVisit
from hotline.telephony.paths import map_path
from hotline.telephony.store import (
    CallFilter,
    CallStore,
    record_from_json,
    record_to_json,
)
from tests.factories import T0, abandoned_call, answered_call

PATHS = {"/var/spool/asterisk/monitor": "/srv/hotline/pbx-monitor"}


def test_a_record_survives_the_trip_through_json() -> None:
    record = answered_call(caller_name="李女士（燃气）")
    assert record_from_json(record_to_json(record)) == record


def test_switch_paths_are_mapped_to_local_ones_by_the_longest_prefix() -> None:
    paths = {"/var/spool": "/a", "/var/spool/asterisk/monitor": "/srv/rec/"}
    assert map_path("/var/spool/asterisk/monitor/x.wav", paths) == "/srv/rec/x.wav"
    assert map_path("/var/spool/other/y.wav", paths) == "/a/other/y.wav"
    assert map_path("/var/spoolish/z.wav", paths) == "/var/spoolish/z.wav"
    assert map_path(None, paths) is None


def test_the_path_map_resolves_dot_dot_and_refuses_paths_that_leave_the_folder() -> None:
    paths = {"/var/spool/asterisk/monitor": "/srv/rec"}
    monitor = "/var/spool/asterisk/monitor"
    assert map_path(f"{monitor}/2026/../x.wav", paths) == "/srv/rec/x.wav"
    assert map_path(f"{monitor}/./20261123//y.wav", paths) == "/srv/rec/20261123/y.wav"
    assert map_path(f"{monitor}/../../../../etc/shadow", paths) is None
    assert map_path(f"{monitor}/20261123/../../z.wav", paths) is None
    assert map_path(f"{monitor}/..", paths) is None
    assert map_path("/var/spool/asterisk/../../etc/shadow", paths) is None  # unmapped, ..
    assert map_path("/tmp/a/../b.wav", {}) == "/tmp/b.wav"  # no map: just resolved


async def test_a_call_whose_entry_time_moves_earlier_stays_one_row(engine: AsyncEngine) -> None:
    # after a reconnect the tracker estimates a call's entry from a channel listing, then
    # corrects it by an earlier event: the upsert's key (call_id, entered_at) changes
    store = CallStore(db.session_factory(engine))
    estimated = replace(answered_call(), ended_at=None, outcome=Outcome.IN_PROGRESS)
    await store.save([estimated])
    corrected = replace(answered_call(), entered_at=estimated.entered_at - timedelta(seconds=4))
    await store.save([corrected])

    assert await store.get(corrected.call_id) == corrected
    page, total = await store.search(CallFilter())
    assert total == 1 and page == [corrected]
    assert await store.load_open() == []


async def test_a_call_in_progress_is_updated_in_place_and_reloaded_after_a_restart(
    engine: AsyncEngine,
) -> None:
    store = CallStore(db.session_factory(engine), PATHS)
    done = answered_call()
    ongoing = replace(done, ended_at=None, outcome=Outcome.IN_PROGRESS, call_id="2.2")
    await store.save([ongoing, done])
    assert [r.call_id for r in await store.load_open()] == ["2.2"]

    await store.save([replace(ongoing, ended_at=done.ended_at, outcome=Outcome.ANSWERED)])
    assert await store.load_open() == []
    records, total = await store.search(CallFilter())
    assert total == 2 and {r.call_id for r in records} == {"2.2", done.call_id}
    assert await store.recording_path(done.call_id) == (
        f"/srv/hotline/pbx-monitor/{done.call_id}.wav"
    )


async def test_calls_are_found_by_number_agent_queue_outcome_rule_and_time(
    engine: AsyncEngine,
) -> None:
    store = CallStore(db.session_factory(engine))
    fast = answered_call("1.1", ring_s=4.0, agent="PJSIP/1001")
    slow = answered_call("1.2", ring_s=21.0, agent="PJSIP/1002", at=T0 + timedelta(hours=1))
    gone = abandoned_call("1.3", at=T0 + timedelta(hours=2))
    await store.save([fast, slow, gone])

    async def ids(**kw: object) -> list[str]:
        records, _ = await store.search(CallFilter(**kw))  # type: ignore[arg-type]
        return sorted(r.call_id for r in records)

    assert await ids(within_rule=False) == ["1.2"]
    assert await ids(within_rule=True) == ["1.1"]
    assert await ids(outcome=Outcome.ABANDONED) == ["1.3"]
    assert await ids(agent="PJSIP/1002") == ["1.2"]
    assert await ids(only_agent="PJSIP/1001") == ["1.1"]
    assert await ids(number="139") == ["1.3"]
    assert await ids(number="%") == []  # a LIKE wildcard is a literal character here
    assert await ids(since=T0 + timedelta(minutes=30), until=T0 + timedelta(hours=2)) == ["1.2"]
    page, total = await store.search(CallFilter(), offset=1, limit=1)
    assert total == 3 and [r.call_id for r in page] == ["1.2"]  # newest first


async def test_service_level_per_queue_counts_the_three_ring_rule_and_abandons(
    engine: AsyncEngine,
) -> None:
    sessions = db.session_factory(engine)
    store = CallStore(sessions)
    await store.save(
        [
            answered_call("1.1", ring_s=4.0),
            answered_call("1.2", ring_s=21.0),
            abandoned_call("1.3"),
            answered_call("1.4", ring_s=2.0, queue="repairs"),
        ]
    )
    cbs = CallbackStore(sessions)
    cb = await cbs.create(
        call_id="1.3",
        number="13900139000",
        reason="abandoned",
        connect_kind="queue",
        connect_target="hotline",
        first_attempt_at=T0,
        now=T0,
    )
    assert cb is not None
    await cbs.save_progress(
        cb.id,
        expect="scheduled",
        status="done",
        attempts_made=1,
        next_attempt_at=None,
        last_attempt_at=T0,
        last_result="已接通",
        now=T0,
    )
    rows = {r.key: r for r in await store.stats(CallFilter(), "queue")}
    hotline = rows["hotline"]
    assert (hotline.calls, hotline.answered, hotline.within_rule) == (3, 2, 1)
    assert hotline.within_rule_pct == 50.0
    assert (hotline.abandoned, hotline.abandoned_pct) == (1, 33.3)
    assert hotline.average_speed_of_answer_s == 12.5
    assert hotline.callbacks_done == 1
    assert rows["repairs"].within_rule_pct == 100.0
    (overall,) = await store.stats(CallFilter(), None)
    assert overall.calls == 4 and overall.key is None


async def test_a_call_gets_one_callback_ever(engine: AsyncEngine) -> None:
    cbs = CallbackStore(db.session_factory(engine))
    args = dict(
        call_id="9.9",
        number="13900139000",
        reason="abandoned",
        connect_kind="queue",
        connect_target="hotline",
        first_attempt_at=T0,
        now=T0,
    )
    first = await cbs.create(**args)  # type: ignore[arg-type]
    assert first is not None
    assert await cbs.create(**args) is None  # type: ignore[arg-type]
    assert [c.id for c in await cbs.due(T0)] == [first.id]
    assert await cbs.begin_attempt(first.id, action_id="a-1", now=T0)
    assert not await cbs.begin_attempt(first.id, action_id="a-2", now=T0)  # already dialing
    opened = await cbs.open_attempt(first.id)
    assert opened is not None and opened.action_id == "a-1"
    assert await cbs.due(T0 + timedelta(hours=1)) == []


async def test_todays_queue_counters_count_the_visits_that_joined_since_local_midnight(
    engine: AsyncEngine,
) -> None:
    store = CallStore(db.session_factory(engine))
    day, zone = date(2026, 11, 23), ZoneInfo("Asia/Shanghai")  # T0 is 10:00 there
    timeout = QueueVisit("hotline", T0, 1, T0 + timedelta(seconds=60), "timeout", 60)
    joined_again = replace(
        answered_call("1.4", ring_s=20.0, at=T0 + timedelta(minutes=2)),  # late
        visits=(timeout, answered_call("1.4", ring_s=20.0).visits[0]),
        direction=Direction.CALLBACK,
    )
    waiting = replace(
        abandoned_call("1.6", at=T0 + timedelta(minutes=5)),
        queue="billing",
        visits=(QueueVisit("billing", T0 + timedelta(minutes=5)),),
        ended_at=None,
        outcome=Outcome.IN_PROGRESS,
    )
    await store.save(
        [
            answered_call("1.1", ring_s=4.0),
            answered_call("1.2", ring_s=4.0, at=T0 - timedelta(days=1)),  # yesterday
            answered_call("1.3", ring_s=4.0, at=datetime(2026, 11, 22, 15, 59, tzinfo=UTC)),
            # entered at 23:59:59, joined the queue after midnight: today's
            answered_call("1.7", ring_s=4.0, at=datetime(2026, 11, 22, 15, 59, 59, tzinfo=UTC)),
            joined_again,
            abandoned_call("1.5"),
            waiting,
        ]
    )
    counts = await store.queue_day_counts(day, zone)
    assert counts == {
        "hotline": DayCounters(
            day, offered=5, answered=3, answered_within=2, abandoned=1, timed_out=1, callbacks=2
        ),
        "billing": DayCounters(day, offered=1),
    }
    assert await store.queue_day_counts(date(2026, 11, 21), zone) == {}
