"""Which tables `hotline partition` partitions by month, and which old months it keeps.
Rule: a month is dropped only when nothing in it is still under a retention or a hold.

The mechanism is hotline.core.partitions; this is the composition root's plan, since it
names tables of several packages. transcript_utterances, transcript_grams and quality_hits
stay whole: they have no time of their own (their rows go with their transcript or score,
by cascade or by the purge of their recording) and quality_appeals refers to quality_hits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import partitions
from hotline.core.partitions import Dropped, Month


@dataclass(frozen=True, slots=True)
class Partitioned:
    table: str
    key: str
    guard: str  # counts the rows of {part} that keep the month (see partitions.drop_months)
    held: str  # what those rows are, for the person running it


PLAN = (
    # a call stays while its recording is on legal hold or within its retention (1 year,
    # longer for important calls): the call row is the record the recording belongs to
    Partitioned(
        "calls",
        "entered_at",
        "SELECT count(*) FROM {part} c JOIN recordings r ON r.call_id = c.call_id "
        "WHERE r.legal_hold OR r.retain_until > :now",
        "通话的录音仍在保存期内或处于法律保全 (recording retained or on legal hold)",
    ),
    # who listened to a recording stays as long as the recording may be listened to
    Partitioned(
        "audit_log",
        "at",
        "SELECT count(*) FROM {part} a JOIN recordings r ON r.id = a.recording_id "
        "WHERE r.legal_hold OR r.retain_until > :now",
        "审计记录所涉录音仍在保存期内或处于法律保全 (recording retained or on legal hold)",
    ),
    # a ticket's history goes whole or not at all: not while the ticket has newer events
    Partitioned(
        "ticket_events",
        "at",
        "SELECT count(*) FROM {part} e WHERE EXISTS (SELECT 1 FROM ticket_events n "
        "WHERE n.ticket_id = e.ticket_id AND n.at >= :before)",
        "工单在保留月份中还有更新的记录 (the ticket's history goes on in a kept month)",
    ),
)


@dataclass(frozen=True, slots=True)
class TableReport:
    table: str
    held: str  # why a kept month is kept
    converted_rows: int | None  # None: it was partitioned already
    created: list[str]
    dropped: list[Dropped]


async def partition(
    engine: AsyncEngine,
    zone: ZoneInfo,
    now: datetime,
    *,
    ahead: int = 3,
    retain_months: int | None = None,
    dry_run: bool = False,
) -> list[TableReport]:
    """Convert the plan's tables (once), create the months ahead, and with `retain_months`
    drop the whole months that ended before that many months ago; each table in its own
    transaction."""
    reports = []
    before = Month.of(now, zone).plus(-retain_months).start(zone) if retain_months else None
    for p in PLAN:
        async with engine.begin() as conn:
            await partitions.require_postgres(conn)
            converted = None
            if not await partitions.is_partitioned(conn, p.table):
                converted = await partitions.convert(conn, p.table, p.key, zone, now, ahead)
        async with engine.begin() as conn:
            created = await partitions.ensure_months(conn, p.table, p.key, zone, now, ahead)
        dropped: list[Dropped] = []
        if before is not None:
            async with engine.begin() as conn:
                dropped = await partitions.drop_months(
                    conn, p.table, zone, before, now, p.guard, dry_run=dry_run
                )
        reports.append(TableReport(p.table, p.held, converted, created, dropped))
    if any(r.converted_rows for r in reports):
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for r in reports:
                if r.converted_rows:
                    await conn.exec_driver_sql(f"ANALYZE {r.table}")
    return reports
