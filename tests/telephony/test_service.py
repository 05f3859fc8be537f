"""The call service: a whole capture in, one saved record per call out, even through
a database outage and a service restart."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.telephony.frames import read_stream
from hotline.telephony.model import CallRecord, Outcome, RingRule
from hotline.telephony.service import CallService, QueueItem
from hotline.telephony.store import CallFilter, CallStore
from hotline.telephony.tracker import CallTracker
from tests.conftest import DATA

CAPTURE = DATA / "ami/verbara/queue-shapes-asterisk-22.9.0.raw"
BASE = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)


class FlakyStore(CallStore):
    """A real store whose database is 'away' for the first `outages` saves."""

    def __init__(self, inner: CallStore, outages: int) -> None:
        self.inner, self.outages = inner, outages

    async def save(self, records: Iterable[CallRecord], *, delete: Iterable[str] = ()) -> None:
        if self.outages:
            self.outages -= 1
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
        await self.inner.save(records, delete=delete)

    async def load_open(self) -> list[CallRecord]:
        return await self.inner.load_open()


def service(store: CallStore, bus: Bus | None = None) -> CallService:
    return CallService(
        CallTracker(RingRule(), frozenset({38})),
        store,
        bus or Bus(),
        end_unknown_after=timedelta(hours=4),
    )


def frames(start: int = 0, stop: int | None = None) -> list[QueueItem]:
    _, all_frames = read_stream(CAPTURE.read_bytes())
    return [
        (BASE + timedelta(seconds=i * 0.1), f)
        for i, f in enumerate(all_frames)
        if start <= i < (stop if stop is not None else len(all_frames))
    ]


async def run_until_drained(svc: CallService, items: list[QueueItem]) -> None:
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    task = asyncio.create_task(svc.run(queue))
    async with asyncio.timeout(30):
        await queue.join()
    task.cancel()


async def test_every_call_of_the_capture_is_saved_once_despite_a_database_outage(
    engine: AsyncEngine,
) -> None:
    real = CallStore(db.session_factory(engine))
    bus = Bus()
    ended: list[Message] = []

    async def on_ended(m: Message) -> None:
        ended.append(m)

    bus.subscribe("call/ended", on_ended)
    svc = service(FlakyStore(real, outages=2), bus)
    await run_until_drained(svc, frames())
    assert svc.counters.db_retries == 2
    records, total = await real.search(CallFilter(), limit=100)
    assert total == 17  # 15 queue shapes and 2 controls; agent login sessions are not calls
    assert all(not r.is_open for r in records)
    assert len({m.payload["call_id"] for m in ended}) == len(ended) == 17
    outcomes = sorted(r.outcome.value for r in records)
    assert outcomes.count(Outcome.ABANDONED.value) == 4


async def test_a_restart_mid_call_loses_nothing_and_duplicates_nothing(engine: AsyncEngine) -> None:
    store = CallStore(db.session_factory(engine))
    everything = frames()
    cut = 40  # shape L: the caller is in the queue, an agent is ringing
    await run_until_drained(service(store), everything[:cut])
    assert [r.caller_number for r in await store.load_open()] == ["5550001"]

    restarted = service(store)  # a new process: memory is empty
    assert await restarted.restore() == 1
    await run_until_drained(restarted, everything[cut:])
    records, total = await store.search(CallFilter(number="5550001"))
    assert total == 1
    (first,) = records
    assert first.outcome is Outcome.ANSWERED and first.agent_member == "Local/agent@agents/n"


async def test_a_pool_timeout_and_a_database_away_during_after_call_work_lose_no_call(
    engine: AsyncEngine,
) -> None:
    """A pool timeout (no connection to be had) is a database error the consumer holds its
    batch for, like a refused connection; after-call work waits for the database too."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    real = CallStore(db.session_factory(engine))

    class PoolExhausted(FlakyStore):
        async def save(self, records: Iterable[CallRecord], *, delete: Iterable[str] = ()) -> None:
            if self.outages:
                self.outages -= 1
                raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")
            await self.inner.save(records, delete=delete)

    after: list[str] = []
    away = [ConnectionRefusedError("database is down")] * 3

    async def archive(record: CallRecord) -> None:  # e.g. the recording row and its job
        if away:
            raise OperationalError("INSERT", {}, away.pop())
        after.append(record.call_id)

    svc = service(PoolExhausted(real, outages=2))
    svc.on_ended = [archive]
    await run_until_drained(svc, frames())
    records, total = await real.search(CallFilter(), limit=100)
    assert total == 17 and svc.counters.db_retries == 2 + 3
    assert sorted(after) == sorted(r.call_id for r in records)  # none dropped, none twice
