"""The ticket deadline watch with many open tickets: one tick now (the indexed
`next_deadline`, only what is due, in one session) against the old way, measured in the
same run on the same database (load every open ticket, compute its late steps in Python,
then re-read each late one in its own session).

The database holds `--open` open tickets, of which `--due` have a deadline that just
passed; every other has its next deadline tomorrow.

Run: PYTHONPATH=. .venv/bin/python benchmarks/ticket_watch.py [--open 20000] [--due 200]
     [--db sqlite|postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select

from hotline.core import db
from hotline.tickets import sla
from hotline.tickets.records import record_from_row
from hotline.tickets.store import TicketStore
from hotline.tickets.tables import TicketRow

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


async def fill(store: TicketStore, n_open: int, n_due: int) -> None:
    rows = []
    for i in range(n_open):
        due = NOW - timedelta(minutes=1) if i < n_due else NOW + timedelta(days=1)
        rows.append(
            dict(
                state="dispatched",
                category="repair",
                urgent=False,
                summary="报修",
                fields="[]",
                evidence="{}",
                edited=False,
                exposure=False,
                created_at=NOW - timedelta(hours=1),
                updated_at=NOW,
                dispatched_at=NOW - timedelta(minutes=50),
                dispatch_by=NOW - timedelta(minutes=55),
                contact_by=due,
                done_by=NOW + timedelta(days=3),
                overdue=False,
                overdue_steps="",
                reopened=0,
                version=1,
                source="phone",
                on_spot=False,
                followup_declined=False,
                next_deadline=due,
            )
        )
    async with store.sessions() as s, s.begin():
        for k in range(0, len(rows), 5000):
            await s.execute(insert(TicketRow), rows[k : k + 5000])


async def old_tick(store: TicketStore) -> int:
    """The watch before: every open ticket loaded, each late one re-read on its own."""
    late = 0
    for record in await store.open_tickets():
        steps = sla.overdue(record.ticket.deadlines, record.reached(), NOW)
        if steps and [s for s in steps if s not in record.overdue_steps]:
            async with store.sessions() as s:
                row = await s.scalar(select(TicketRow).where(TicketRow.id == record.id))
                assert row is not None
                record_from_row(row)
            late += 1
    return late


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=int, default=20_000)
    ap.add_argument("--due", type=int, default=200)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db if args.db != "sqlite" else f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}"
        engine = db.make_engine(url)
        await db.migrate(engine)
        store = TicketStore(db.session_factory(engine))
        await fill(store, args.open, args.due)
        t0 = time.perf_counter()
        late_old = await old_tick(store)  # reads only: the marks are left for the new tick
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        marked = await store.mark_due(NOW)
        t_new = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = await store.mark_due(NOW)
        t_idle = time.perf_counter() - t0
        await engine.dispose()
    print(f"open tickets {args.open}, due {args.due}  ({args.db})")
    print(f"{'tick':<34}{'seconds':>10}{'vs old':>10}")
    row = "{:<34}{:>10.4f}{:>10.4f}   {}"
    print(row.format("old: scan every open ticket", t_old, 1, f"late {late_old}"))
    new = "new: WHERE next_deadline <= now"
    print(row.format(new, t_new, t_new / t_old, f"marked {len(marked)}"))
    idle = "new, nothing due (next tick)"
    print(row.format(idle, t_idle, t_idle / t_old, f"marked {len(again)}"))


if __name__ == "__main__":
    asyncio.run(main())
