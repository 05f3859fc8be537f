"""`hotline partition` on a generated hotline: the large tables become monthly partitions
with every row kept, the code writes to them unchanged, retention drops whole old months
but never one still under a legal hold, and Alembic keeps working on the result."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Column, Connection, Text, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from benchmarks.million_calls import load_url
from hotline.api.partitioning import PLAN, partition
from hotline.core import db
from hotline.core.partitions import Month, PartitionError, months_between
from hotline.telephony.store import CallStore

ZONE = ZoneInfo("Asia/Shanghai")
TABLES = [p.table for p in PLAN]


async def _counts(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {t: int(await conn.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


async def _home(conn: AsyncConnection, call_id: str) -> list[str]:
    rows = await conn.execute(
        text("SELECT tableoid::regclass::text FROM calls WHERE call_id = :c"), {"c": call_id}
    )
    return [r[0] for r in rows]


def _add_note_column(sync: Connection) -> None:  # what a later release's migration would do
    Operations(MigrationContext.configure(sync)).add_column(
        "calls", Column("note", Text(), nullable=True)
    )


@pytest.mark.postgres
async def test_a_generated_hotline_is_partitioned_by_month_and_keeps_every_row(
    pg_url: str,
) -> None:
    loaded = await load_url(pg_url, 3_000, 70.0, progress=lambda _: None)
    engine = db.make_engine(pg_url)
    try:
        before = await _counts(engine)
        assert before["calls"] == 3_000 and before["ticket_events"] > 0

        now = datetime.now(UTC)
        reports = await partition(engine, ZONE, now, ahead=2)

        assert {r.table: r.converted_rows for r in reports} == before
        assert await _counts(engine) == before
        this_month = Month.of(now, ZONE).suffix()
        async with engine.connect() as conn:
            kinds = await conn.execute(
                text("SELECT relname::text, relkind::text FROM pg_class WHERE relname = ANY(:t)"),
                {"t": TABLES},
            )
            assert dict(kinds.all()) == dict.fromkeys(TABLES, "p")
            parts = set(
                await conn.scalars(
                    text(
                        "SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                        "ON c.oid = i.inhrelid WHERE i.inhparent = 'calls'::regclass"
                    )
                )
            )
            in_default = await conn.scalar(text("SELECT count(*) FROM calls_default"))
        span = months_between(Month.of(loaded.first_at, ZONE), Month.of(loaded.last_at, ZONE))
        months_of_data = {m.suffix() for m in span}
        assert len(months_of_data) >= 3
        assert {f"calls_{m}" for m in months_of_data} <= parts
        assert {"calls_default", f"calls_{this_month}"} <= parts
        assert f"calls_{Month.of(now, ZONE).plus(2).suffix()}" in parts
        assert in_default == 0
        # the indexes came along, the unique key widened by the month
        async with engine.connect() as conn:
            indexes = set(
                await conn.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'calls'")
                )
            )
        assert {"ux_calls_call_id_entered_at", "ix_calls_open", "ix_calls_caller_number"} <= (
            indexes
        )

        # the code above writes unchanged: into this month, into a month with no partition
        # (DEFAULT), and a call whose entered_at moves stays one row
        calls = CallStore(db.session_factory(engine))
        sample = await calls.get(loaded.sample_call)
        assert sample is not None
        fresh = dataclasses.replace(sample, call_id="new-1", entered_at=now)
        far = dataclasses.replace(sample, call_id="far-1", entered_at=now + timedelta(days=800))
        await calls.save([fresh, far])
        await calls.save([dataclasses.replace(fresh, entered_at=now - timedelta(seconds=3))])
        async with engine.connect() as conn:
            assert await _home(conn, "new-1") == [f"calls_{this_month}"]
            assert await _home(conn, "far-1") == ["calls_default"]

        # Alembic on the partitioned database: migrate is a no-op, a new column works
        await db.migrate(engine)
        async with engine.begin() as conn:
            await conn.run_sync(_add_note_column)
            await conn.execute(text("UPDATE calls SET note = '回访' WHERE call_id = 'new-1'"))
            note = await conn.scalar(
                text(f"SELECT note FROM calls_{this_month} WHERE call_id = 'new-1'")
            )
        assert note == "回访"

        # two calls of long ago: one's recording is on legal hold, the other has none
        held_at = now - timedelta(days=31 * 17)
        old = dataclasses.replace(sample, call_id="old-1", entered_at=now - timedelta(days=31 * 16))
        await calls.save([dataclasses.replace(sample, entered_at=held_at), old])
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE recordings SET legal_hold = true WHERE call_id = :c"),
                {"c": loaded.sample_call},
            )
            assert await _home(conn, loaded.sample_call) == ["calls_default"]

        # next month's run: the rows waiting in DEFAULT get their months, old ones go
        again = await partition(engine, ZONE, now, ahead=2, retain_months=12)

        created = {p for r in again for p in r.created}
        held_part = f"calls_{Month.of(held_at, ZONE).suffix()}"
        old_part = f"calls_{Month.of(old.entered_at, ZONE).suffix()}"
        assert {held_part, old_part, f"calls_{Month.of(far.entered_at, ZONE).suffix()}"} <= (
            created
        )
        calls_report = next(r for r in again if r.table == "calls")
        assert calls_report.converted_rows is None
        verdicts = {d.partition: d.held for d in calls_report.dropped}
        assert verdicts[old_part] == 0 and verdicts[held_part] == 1
        assert await calls.get("old-1") is None
        assert await calls.get(loaded.sample_call) is not None
        assert await calls.get("far-1") is not None
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM calls_default")) == 0
    finally:
        await engine.dispose()


async def test_sqlite_is_refused_with_a_chinese_message(tmp_path: object) -> None:
    engine = db.make_engine(f"sqlite+aiosqlite:///{tmp_path}/hotline.db")
    try:
        await db.migrate(engine)
        with pytest.raises(PartitionError) as refused:
            await partition(engine, ZONE, datetime.now(UTC))
        assert "只适用于 PostgreSQL" in refused.value.message
    finally:
        await engine.dispose()
