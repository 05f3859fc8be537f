"""The ticket deadline watch with many open tickets: one tick now (the indexed
`next_deadline`, only what is due, in one session) against the old way, measured in the
same run on the same database (load every open ticket, compute its late steps in Python,
then re-read each late one in its own session); and its 回访 part the same way (now: the
indexed `followup_due`, only what is due; before: every replied ticket loaded and its
attempts read in a session of its own).

The database holds `--open` open tickets, of which `--due` have a deadline that just
passed (every other has its next deadline tomorrow), and `--replied` of them are waiting
for their 回访, of which `--followups-due` are due now (the others in an hour).

Run: PYTHONPATH=. .venv/bin/python benchmarks/ticket_watch.py [--open 50000] [--due 200]
     [--replied 20000] [--followups-due 200] [--db sqlite|postgresql+asyncpg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from hotline.core import db
from hotline.core.bus import Bus
from hotline.core.settings import TicketSettings
from hotline.telephony.ami import Originator
from hotline.tickets import classify, sla
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.followups import Followups
from hotline.tickets.model import State
from hotline.tickets.records import record_from_row
from hotline.tickets.service import TicketService
from hotline.tickets.store import TicketStore
from hotline.tickets.tables import TicketRow

NOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # Friday 15:00 in Shanghai


def service(
    store: TicketStore, now: datetime = NOW, originator: Originator | None = None
) -> TicketService:
    return TicketService(
        store,
        Bus(),
        sla_policy=sla.SlaPolicy.from_settings(
            TicketSettings(), WorkCalendar(), ZoneInfo("Asia/Shanghai")
        ),
        followup_policy=FollowupPolicy(),
        pack=classify.load_pack,
        originator=originator,
        clock=lambda: now,
    )


async def fill(
    store: TicketStore,
    n_open: int,
    n_due: int,
    *,
    now: datetime = NOW,
    replied: int = 0,
    followups_due: int = 0,
    lower_bound: bool = False,
) -> None:
    """`n_open` open tickets, `n_due` of them with a deadline just passed; the last
    `replied` are replied and wait for their 回访, `followups_due` of them due now. With
    `lower_bound`, their `followup_due` is the reply (as the migration leaves it: the
    watch's next tick reads them all and writes the exact time)."""
    rows = []
    for i in range(n_open):
        due = now - timedelta(minutes=1) if i < n_due else now + timedelta(days=1)
        k = i - (n_open - replied)  # >= 0: replied, waiting for the 回访
        replied_at = None if k < 0 else now - timedelta(hours=3 if k < followups_due else 1)
        rows.append(
            dict(
                state="dispatched" if replied_at is None else "replied",
                category="repair",
                urgent=False,
                summary="报修",
                fields="[]",
                evidence="{}",
                edited=False,
                exposure=False,
                created_at=now - timedelta(hours=4),
                updated_at=now,
                caller_number=f"1380013{i % 10000:04d}",
                dispatched_at=now - timedelta(minutes=230),
                dispatch_by=now - timedelta(minutes=235),
                contact_by=due,
                done_by=now + timedelta(days=3),
                replied_at=replied_at,
                followup_due=replied_at
                and (replied_at if lower_bound else replied_at + timedelta(hours=2)),
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


async def old_followups(store: TicketStore, followups: Followups) -> int:
    """The 回访 part before: every replied ticket loaded, its attempts read on its own."""
    due = 0
    for record in await store.open_tickets([State.REPLIED, State.FOLLOW_UP]):
        at = await followups.next_followup_at(record)
        if at is not None and at <= NOW:
            due += 1
    return due


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--open", type=int, default=50_000)
    ap.add_argument("--due", type=int, default=200)
    ap.add_argument("--replied", type=int, default=20_000)
    ap.add_argument("--followups-due", type=int, default=200)
    ap.add_argument("--db", default="sqlite")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db if args.db != "sqlite" else f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}"
        engine = db.make_engine(url)
        await db.migrate(engine)
        store = TicketStore(db.session_factory(engine))
        await fill(
            store, args.open, args.due, replied=args.replied, followups_due=args.followups_due
        )
        t0 = time.perf_counter()
        late_old = await old_tick(store)  # reads only: the marks are left for the new tick
        t_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        marked = await store.mark_due(NOW)
        t_new = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = await store.mark_due(NOW)
        t_idle = time.perf_counter() - t0
        followups = service(store).followups
        t0 = time.perf_counter()
        due_old = await old_followups(store, followups)
        f_old = time.perf_counter() - t0
        t0 = time.perf_counter()
        due_new = await followups.due(NOW)
        f_new = time.perf_counter() - t0
        await engine.dispose()
    print(f"open tickets {args.open}, due {args.due}  ({args.db})")
    print(f"{'tick':<34}{'seconds':>10}{'vs old':>10}")
    row = "{:<34}{:>10.4f}{:>10.4f}   {}"
    print(row.format("old: scan every open ticket", t_old, 1, f"late {late_old}"))
    new = "new: WHERE next_deadline <= now"
    print(row.format(new, t_new, t_new / t_old, f"marked {len(marked)}"))
    idle = "new, nothing due (next tick)"
    print(row.format(idle, t_idle, t_idle / t_old, f"marked {len(again)}"))
    print(f"回访 part: {args.replied} replied tickets, {args.followups_due} due")
    print(row.format("old: every replied ticket", f_old, 1, f"due {due_old}"))
    new_f = "new: WHERE followup_due <= now"
    print(row.format(new_f, f_new, f_new / f_old, f"due {len(due_new)}"))


if __name__ == "__main__":
    asyncio.run(main())
