"""Every filter the README lists for calls, recordings and tickets has an index the planner
uses: on PostgreSQL, with a generated hotline of 20,000 calls (benchmarks/million_calls.py)
vacuumed and analysed, each list's query is explained, and none reads its big table by a
sequential scan.

The total is counted up to the cap as at a million calls, scaled to this table's size (a
cap of 10,000 of 20,000 rows would make any plan a full read). The plans at a
million calls are in benchmarks/EXPLAIN.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.million_calls import iface, load_url, member
from hotline.core import db, paging
from hotline.recording.store import RecordingFilter, RecordingStore, Status
from hotline.telephony.model import Direction, Outcome
from hotline.telephony.store import CallFilter, CallStore
from hotline.tickets.model import Category, Source, State
from hotline.tickets.records import TicketFilter
from hotline.tickets.store import TicketStore

pytestmark = pytest.mark.postgres
BIG = ("calls", "recordings", "tickets")


async def plans_of(engine: AsyncEngine, read: Callable[[], Awaitable[Any]]) -> list[str]:
    """The plan of the last SELECT `read` sends: a list page's count of its filter's keys
    (the page itself joins those keys to their rows by primary key: a nested loop at a
    million rows, a hash join over a read of the few thousand rows here)."""
    sent: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            sent.append((statement, params))

    event.listen(engine.sync_engine, "before_cursor_execute", keep)
    try:
        await read()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", keep)
    plans = []
    async with engine.connect() as conn:
        for statement, params in sent[-1:]:
            rows = await conn.exec_driver_sql("EXPLAIN " + statement, params)
            plans.append("\n".join(r[0] for r in rows))
    return plans


async def test_each_list_filter_of_the_readme_is_read_through_an_index(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = await load_url(pg_url, 20_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(pg_url)
    try:
        async with engine.connect() as conn:  # as autovacuum leaves it after the load
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
        monkeypatch.setattr(paging, "COUNT_CAP", 200)  # 1 % of the table, as at 1M
        sessions = db.session_factory(engine)
        calls, recordings = CallStore(sessions), RecordingStore(sessions)
        tickets = TicketStore(sessions)
        agent = loaded.sample_agent
        since = loaded.last_at - timedelta(days=3)
        until = loaded.last_at - timedelta(days=2)
        number = "3800"
        call_filters = {
            "since": CallFilter(since=since),
            "until": CallFilter(until=until),
            "number": CallFilter(number=number),
            "agent (interface)": CallFilter(agent=iface(agent)),
            "agent (member)": CallFilter(agent=member(agent)),
            "own calls": CallFilter(only_agent=iface(agent)),
            "queue": CallFilter(queue="热线07"),
            "outcome": CallFilter(outcome=Outcome.ABANDONED),
            "within_rule": CallFilter(within_rule=False),
            "direction": CallFilter(direction=Direction.INBOUND),
        }
        recording_filters = {
            "since": RecordingFilter(since=since),
            "until": RecordingFilter(until=until),
            "number": RecordingFilter(number=number),
            "agent": RecordingFilter(agent=iface(agent)),
            "own recordings": RecordingFilter(only_agent=iface(agent)),
            "queue": RecordingFilter(queue="热线07"),
            "call_id (and ticket)": RecordingFilter(call_id=loaded.sample_call),
            "min_duration_s": RecordingFilter(min_duration_s=500.0),
            "status": RecordingFilter(status=Status.FAILED),
        }
        ticket_filters = {
            "state": TicketFilter(state=State.CLOSED),
            "category": TicketFilter(category=Category.COMPLAINT),
            "source": TicketFilter(source=Source.PHONE),
            "unit": TicketFilter(unit="维修中心"),
            "agent": TicketFilter(agent=iface(agent)),
            "own tickets": TicketFilter(only_agent=iface(agent)),
            "overdue": TicketFilter(overdue=True),
            "urgent": TicketFilter(urgent=True),
            "caller": TicketFilter(caller=number),
            "since": TicketFilter(since=since),
            "until": TicketFilter(until=until),
        }
        scans: dict[str, list[str]] = {}
        plans: list[str] = []
        for name, f in call_filters.items():
            for plan in await plans_of(engine, lambda f=f: calls.page(f)):
                plans.append(plan)
                scans.setdefault(f"calls {name}", []).extend(
                    t for t in BIG if f"Seq Scan on {t}" in plan
                )
        for name, r in recording_filters.items():
            for plan in await plans_of(engine, lambda r=r: recordings.page(r)):
                plans.append(plan)
                scans.setdefault(f"recordings {name}", []).extend(
                    t for t in BIG if f"Seq Scan on {t}" in plan
                )
        for name, t in ticket_filters.items():
            for plan in await plans_of(engine, lambda t=t: tickets.page(t)):
                plans.append(plan)
                scans.setdefault(f"tickets {name}", []).extend(
                    x for x in BIG if f"Seq Scan on {x}" in plan
                )
        assert len(scans) == len(call_filters) + len(recording_filters) + len(ticket_filters)
        assert {name: seq for name, seq in scans.items() if seq} == {}, plans
    finally:
        await engine.dispose()
