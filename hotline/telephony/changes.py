"""Change generations of the calls per UTC hour. Rule: every write that can change a call's
service-level counters (its row, its callback's status) bumps its hour's generation in the
same transaction; hotline/telephony/rollup.py trusts a day's roll-up only while its hours'
generations are unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.telephony.tables import CallChangeRow

HOUR = timedelta(hours=1)


def hour_of(at: datetime) -> datetime:
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(minute=0, second=0, microsecond=0)


async def touch(conn: AsyncConnection, starts: Iterable[datetime]) -> None:
    """Bump the generation of the UTC hours of these call starts (in the caller's
    transaction), in hour order so two writers never wait on each other in a circle."""
    hours = sorted({hour_of(at) for at in starts})
    if not hours:
        return
    table = cast(Table, CallChangeRow.__table__)
    upsert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = upsert(table).values([{"hour": h, "gen": 1} for h in hours])
    stmt = stmt.on_conflict_do_update(index_elements=["hour"], set_={"gen": table.c.gen + 1})
    await conn.execute(stmt)
