"""A year of a big hotline: p50 / p95 / p99 of the README's routes with one client and with
8 at once, and the service's peak memory (VmHWM of the `hotline serve` process).

The database is filled by benchmarks/million_calls.py (calls with callbacks, recordings,
transcripts, scores with hits, tickets in every state with history), or an already filled
one is given with --url (e.g. to measure before and after a migration on the same rows).
The app runs as `hotline serve` would (create_app under uvicorn, its own process); each
route is fetched signed in (session cookie) as a supervisor, and the agent's own-scope
routes as an agent. `/api/health`, measured in the same run, is the baseline.

Aims (issue 17, 1,000,000 calls on PostgreSQL): lists, details and searches p99 < 50 ms
with one client; any day/week/month aggregate or report < 500 ms; the service < 500 MB.

Run:
  .venv/bin/python benchmarks/big_hotline.py --calls 1000000            # new PG database
  .venv/bin/python benchmarks/big_hotline.py --url postgresql+asyncpg://postgres@127.0.0.1/bench17
  .venv/bin/python benchmarks/big_hotline.py --url sqlite+aiosqlite:////tmp/big.db
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import text  # noqa: E402

from benchmarks.million_calls import Loaded, create_database, drop_database, iface, load_url  # noqa: E402
from benchmarks.web_pages import (  # noqa: E402
    Sample,
    add_users,
    fetch,
    free_port,
    pct,
    sign_in,
    start_app,
    wait_settled,
)
from hotline.core import db  # noqa: E402
from hotline.core.paging import Cursor  # noqa: E402

LIST_AIM_MS, REPORT_AIM_MS, RSS_AIM_MB = 50.0, 500.0, 500.0


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    kind: str  # "list" (p99 < 50 ms) or "report" (< 500 ms)
    role: str = "chen"  # the supervisor; "wang" is the agent


def routes(loaded: Loaded, calls: int, deep_cursor: str) -> list[Route]:
    month = f"{loaded.last_at - timedelta(days=20):%Y-%m}"  # a whole month of data
    since = f"{loaded.last_at - timedelta(days=30):%Y-%m-%dT%H:%M:%S}"
    deep = min(200_000, calls // 5)
    day = f"{loaded.last_at - timedelta(days=20):%Y-%m-%d}"  # in that month
    return [
        Route("/api/calls", "list"),
        Route("/api/calls?within_rule=false", "list"),
        Route(f"/api/calls?offset={deep}", "list"),
        Route(f"/api/calls?cursor={deep_cursor}", "list"),  # the same depth by keyset
        Route(f"/api/calls?agent={iface(loaded.sample_agent)}", "list"),
        Route(f"/api/calls/{loaded.sample_call}", "list"),
        Route("/api/recordings", "list"),
        Route("/api/transcripts/search?q=燃气表", "list"),
        *(  # said in most calls, in 5 %, in 0.1 %, nowhere; one character (most calls)
            Route(f"/api/transcripts/search?q={q}", "list")
            for q in ("燃气", "燃气泄漏", "壁挂炉", "地铁卡", "燃")
        ),
        Route("/api/transcripts/search?q=燃气泄漏", "list", "wang"),
        Route("/api/quality/scores", "list"),
        Route("/api/quality/scores?band=不合格", "list"),
        Route(f"/api/quality/scores/{loaded.sample_call}", "list"),
        Route("/api/tickets", "list"),
        Route("/api/calls", "list", "wang"),
        Route("/api/recordings", "list", "wang"),
        Route("/api/quality/scores", "list", "wang"),
        Route(f"/api/stats/service-level?by=queue&since={since}", "report"),
        Route(f"/api/stats/service-level?by=agent&since={since}", "report"),
        Route(f"/api/quality/review-queue?period={month}", "report"),
        Route(f"/api/quality/reports?period=month&date={day}", "report"),
        Route(f"/api/quality/reports?period=month&date={day}&format=xlsx", "report"),
        Route(f"/api/ticket-reports?period=month&date={day}", "report"),
        Route(f"/api/ticket-reports?period=month&date={day}&format=xlsx", "report"),
    ]


async def _users(loaded: Loaded) -> None:
    engine = db.make_engine(loaded.url)
    try:
        async with engine.connect() as conn:
            known = (await conn.execute(text("SELECT count(*) FROM users"))).scalar()
    finally:
        await engine.dispose()
    if not known:
        await add_users(loaded)


async def _deep_cursor(url: str, depth: int) -> str:
    """The keyset cursor after `depth` calls of the newest-first list."""
    engine = db.make_engine(url)
    try:
        async with engine.connect() as conn:
            at, call_id = (
                await conn.execute(
                    text(
                        "SELECT entered_at, call_id FROM calls WHERE direction = 'inbound'"
                        " ORDER BY entered_at DESC, call_id DESC"
                        f" LIMIT 1 OFFSET {max(0, depth - 1)}"
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return Cursor(at if at.tzinfo else at.replace(tzinfo=UTC), call_id).encode()


async def _sample_of(url: str) -> Loaded:
    """What the routes need of an already filled database."""
    engine = db.make_engine(url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT s.call_id, s.agent FROM quality_scores s"
                        " JOIN tickets t ON t.origin_call = s.call_id ORDER BY s.id LIMIT 1"
                    )
                )
            ).one()
            n = (await conn.execute(text("SELECT count(*) FROM calls"))).scalar() or 0
            last = (await conn.execute(text("SELECT max(entered_at) FROM calls"))).scalar()
    finally:
        await engine.dispose()
    if isinstance(last, str):
        last = datetime.fromisoformat(last)
    last = last.replace(tzinfo=UTC) if last.tzinfo is None else last
    agent = int(row[1].split("/")[1]) - 1000
    return Loaded(url, url.rsplit("/", 1)[-1], n, last, last, {}, row[0], agent)


class Peak:
    """The app's resident memory, sampled, with the kernel's own high-water mark."""

    def __init__(self, pid: int) -> None:
        self.pid, self.stop = pid, threading.Event()

    def reset(self) -> None:
        """Start the kernel's high-water mark again from the current RSS (so the peak is
        per route)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def mb(self, field: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0


def run_route(
    clients: dict[str, httpx.Client], route: Route, n: int, workers: int, budget_s: float
) -> list[Sample]:
    """`n` requests per worker (fewer when the budget runs out), `workers` at once."""
    deadline = time.monotonic() + budget_s

    def one(_: int) -> list[Sample]:
        base = clients[route.role]
        c = httpx.Client(base_url=base.base_url, cookies=base.cookies, timeout=600)
        out = []
        try:
            for _k in range(n):
                out.append(fetch(c, route.path))
                if time.monotonic() > deadline:
                    break
        finally:
            c.close()
        return out

    with ThreadPoolExecutor(workers) as pool:
        return [s for batch in pool.map(one, range(workers)) for s in batch]


def line(route: Route, one: list[Sample], eight: list[Sample], base: float) -> tuple[str, bool]:
    """One row of the table; `base` is /api/health's p50 of the same run (ms)."""
    aim = LIST_AIM_MS if route.kind == "list" else REPORT_AIM_MS
    bad = [s.status for s in one + eight if s.status != 200]
    ms1, ms8 = [s.ms for s in one], [s.ms for s in eight]
    p99 = pct(ms1, 99)
    ok = not bad and p99 < aim
    who = "" if route.role == "chen" else " (agent)"
    label = (route.path + who)[:62]
    cells = f"{statistics.median(ms1):8.0f} {pct(ms1, 95):8.0f} {p99:8.0f}"
    cells += f" {statistics.median(ms8):8.0f} {pct(ms8, 95):8.0f} {pct(ms8, 99):8.0f}"
    verdict = "met" if ok else f"MISSED{' ' + str(sorted(set(bad))) if bad else ''}"
    return f"{label:62} {len(ms1):>3} {cells}  <{aim:.0f} {verdict}", ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an already filled database (kept)")
    parser.add_argument("--calls", type=int, default=1_000_000, help="without --url: load these")
    parser.add_argument("--days", type=float, default=50.0)
    parser.add_argument("--requests", type=int, default=20, help="per route, one client")
    parser.add_argument("--requests8", type=int, default=3, help="per route and client, 8 clients")
    parser.add_argument("--budget-s", type=float, default=40.0, help="per route and mode")
    parser.add_argument(
        "--only", default="", help="only routes whose path contains this (or one of, a,b,c)"
    )
    parser.add_argument("--skip", default="", help="leave out routes whose path contains this")
    args = parser.parse_args()
    made = None
    if args.url:
        loaded = asyncio.run(_sample_of(args.url))
    else:
        made = asyncio.run(create_database())
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{made}"
        t0 = time.perf_counter()
        loaded = asyncio.run(load_url(url, args.calls, args.days, lambda m: print(m, flush=True)))
        loaded = replace(loaded, last_at=loaded.last_at)
        print(f"loaded in {time.perf_counter() - t0:.0f} s: {loaded.counts}", flush=True)
    asyncio.run(_users(loaded))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            app = start_app(loaded, Path(tmp), port)
            base = f"http://127.0.0.1:{port}"
            peak = Peak(app.pid)
            try:
                with httpx.Client(base_url=base, timeout=60) as probe:
                    print(f"app settled after {wait_settled(probe):.0f} s", flush=True)
                rss0 = peak.mb("VmRSS")
                clients = {name: sign_in(base, name) for name in ("chen", "wang")}
                health = run_route(clients, Route("/api/health", "list"), 20, 1, 30)
                base = statistics.median(s.ms for s in health)
                print(
                    f"\n{loaded.calls:,} calls at {loaded.url.split('@')[-1]}; baseline"
                    f" /api/health p50 {statistics.median(s.ms for s in health):.1f} ms;"
                    f" service RSS after start {rss0:.0f} MB\n"
                )
                head = f"{'route':62} {'n':>3} {'p50':>8} {'p95':>8} {'p99':>8}"
                head += f" {'p50 ×8':>8} {'p95 ×8':>8} {'p99 ×8':>8}"
                head += "  aim ms  verdict  peak RSS  p50/base"
                print(head, flush=True)
                misses = 0
                worst_peak = peak.mb("VmHWM")
                depth = min(200_000, loaded.calls // 5)
                cursor = asyncio.run(_deep_cursor(loaded.url, depth))
                for route in routes(loaded, loaded.calls, cursor):
                    if args.only and not any(p in route.path for p in args.only.split(",")):
                        continue
                    if args.skip and args.skip in route.path:
                        continue
                    peak.reset()
                    fetch(clients[route.role], route.path)  # warm-up
                    one = run_route(clients, route, args.requests, 1, args.budget_s)
                    eight = run_route(clients, route, args.requests8, 8, args.budget_s)
                    text_, ok = line(route, one, eight, base)
                    misses += not ok
                    route_peak = peak.mb("VmHWM")
                    worst_peak = max(worst_peak, route_peak)
                    ratio = statistics.median(s.ms for s in one) / base
                    print(f"{text_}  {route_peak:5.0f} MB  {ratio:7.0f}x", flush=True)
                print(
                    f"\nservice peak RSS {worst_peak:.0f} MB (aim < {RSS_AIM_MB:.0f});"
                    f" routes missing their aim: {misses}"
                )
            finally:
                app.terminate()
                app.wait(30)
    finally:
        if made:
            asyncio.run(drop_database(made))


if __name__ == "__main__":
    main()
