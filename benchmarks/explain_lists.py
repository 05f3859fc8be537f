"""The plans of every README list filter of calls, recordings and tickets, as the stores
send them: each page's statements are captured and explained with ANALYZE and BUFFERS, and
written as Markdown (benchmarks/EXPLAIN.md holds them at a million calls).

tests/benchmarks/test_indexes.py explains the same filters on a small generated database
and checks that none reads its big table by a sequential scan.

Run:
  .venv/bin/python benchmarks/explain_lists.py --url postgresql+asyncpg://postgres@127.0.0.1/bench17
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from benchmarks.million_calls import iface, member  # noqa: E402
from hotline.core import db  # noqa: E402
from hotline.recording.store import RecordingFilter, RecordingStore, Status  # noqa: E402
from hotline.telephony.model import Direction, Outcome  # noqa: E402
from hotline.telephony.store import CallFilter, CallStore  # noqa: E402
from hotline.tickets.model import Category, Source, State  # noqa: E402
from hotline.tickets.records import TicketFilter  # noqa: E402
from hotline.tickets.store import TicketStore  # noqa: E402

Read = Callable[[], Awaitable[Any]]


def list_reads(
    sessions: Any, agent: int, call_id: str, last_at: datetime
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Each README filter of the three lists (the API's default `direction=inbound` for
    calls), a first page of 50 as the API asks for it."""
    calls, recordings = CallStore(sessions), RecordingStore(sessions)
    tickets = TicketStore(sessions)
    since, until = last_at - timedelta(days=3), last_at - timedelta(days=2)
    number, inbound = "3800", Direction.INBOUND
    call_filters = {
        "since": CallFilter(since=since, direction=inbound),
        "until": CallFilter(until=until, direction=inbound),
        "number": CallFilter(number=number, direction=inbound),
        "agent (interface)": CallFilter(agent=iface(agent), direction=inbound),
        "agent (member)": CallFilter(agent=member(agent), direction=inbound),
        "own calls (agent)": CallFilter(only_agent=iface(agent), direction=inbound),
        "queue": CallFilter(queue="热线07", direction=inbound),
        "outcome": CallFilter(outcome=Outcome.ABANDONED, direction=inbound),
        "within_rule": CallFilter(within_rule=False, direction=inbound),
        "direction": CallFilter(direction=inbound),
        "offset 200000": CallFilter(direction=inbound),
    }
    recording_filters = {
        "since": RecordingFilter(since=since),
        "until": RecordingFilter(until=until),
        "number": RecordingFilter(number=number),
        "agent": RecordingFilter(agent=iface(agent)),
        "own recordings (agent)": RecordingFilter(only_agent=iface(agent)),
        "queue": RecordingFilter(queue="热线07"),
        "call_id (and ticket)": RecordingFilter(call_id=call_id),
        "min_duration_s": RecordingFilter(min_duration_s=500.0),
        "status": RecordingFilter(status=Status.FAILED),
    }
    ticket_filters = {
        "state": TicketFilter(state=State.CLOSED),
        "category": TicketFilter(category=Category.COMPLAINT),
        "source": TicketFilter(source=Source.PHONE),
        "unit": TicketFilter(unit="维修中心"),
        "agent": TicketFilter(agent=iface(agent)),
        "own tickets (agent)": TicketFilter(only_agent=iface(agent)),
        "overdue": TicketFilter(overdue=True),
        "urgent": TicketFilter(urgent=True),
        "caller": TicketFilter(caller=number),
        "since": TicketFilter(since=since),
        "until": TicketFilter(until=until),
    }
    reads: dict[str, Read] = {}
    for name, f in call_filters.items():
        offset = 200_000 if name.startswith("offset") else 0
        reads[f"calls: {name}"] = lambda f=f, o=offset: calls.page(f, offset=o)
    for name, r in recording_filters.items():
        reads[f"recordings: {name}"] = lambda r=r: recordings.page(r)
    for name, t in ticket_filters.items():
        reads[f"tickets: {name}"] = lambda t=t: tickets.page(t)
    return reads


async def explained(engine: AsyncEngine, read: Read, how: str = "") -> list[str]:
    """The plans of the SELECTs `read` sends, in order (page, then its capped count)."""
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
        for statement, params in sent:
            rows = await conn.exec_driver_sql(f"EXPLAIN {how}{statement}", params)
            plans.append("\n".join(r[0] for r in rows))
    return plans


async def _main(url: str, out: Path) -> None:
    engine = db.make_engine(url)
    try:
        async with engine.connect() as conn:
            call_id, agent_iface = (
                await conn.execute(
                    text(
                        "SELECT s.call_id, s.agent FROM quality_scores s"
                        " JOIN tickets t ON t.origin_call = s.call_id ORDER BY s.id LIMIT 1"
                    )
                )
            ).one()
            n = (await conn.execute(text("SELECT count(*) FROM calls"))).scalar()
            last_at = (await conn.execute(text("SELECT max(entered_at) FROM calls"))).scalar()
        agent = int(agent_iface.split("/")[1]) - 1000
        reads = list_reads(db.session_factory(engine), agent, call_id, last_at)
        lines = [
            f"# List plans at {n:,} calls (PostgreSQL)",
            "",
            "Written by `benchmarks/explain_lists.py`: each README filter of the calls,",
            "recordings and tickets lists, a first page of 50 as the API asks for it (calls:",
            "`direction=inbound`, the API's default), explained with ANALYZE and BUFFERS after",
            "one warm-up. Each page is two statements: the page (its keys from an index, then",
            "their rows by primary key: a deferred join) and its total, counted from the page's",
            "first row on up to 10,000 from an index alone. The machine is shared and loaded:",
            "read the plans' shapes and buffers, not their milliseconds.",
            "",
        ]
        for name, read in reads.items():
            await read()  # warm
            plans = await explained(engine, read, "(ANALYZE, BUFFERS) ")
            lines += [f"## {name}", ""]
            for label, plan in zip(("page", "total"), plans, strict=False):
                lines += [f"{label}:", "```", plan, "```", ""]
            print(name, flush=True)
        out.write_text("\n".join(lines))
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a filled PostgreSQL database")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "EXPLAIN.md")
    args = parser.parse_args()
    asyncio.run(_main(args.url, args.out))


if __name__ == "__main__":
    main()
