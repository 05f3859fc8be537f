"""Does a route freeze the service? Each of the README's routes (big_hotline.py's list) is
asked of the app in this process (`hotline serve`'s app, started with its background
loops, over an already filled database), while a ticker on the same event loop measures
how long the loop was held: how late a 5 ms sleep wakes, counted only as far as the loop's
thread was on the CPU meanwhile (on a loaded machine, waiting for a core while PostgreSQL
works is not the loop's doing). Aim (issue 17): no route holds the loop > 50 ms.

Run: PYTHONPATH=. .venv/bin/python benchmarks/loop_stalls.py --url postgresql+asyncpg://…
     [--only ticket] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.big_hotline import _deep_cursor, _sample_of, _users, routes  # noqa: E402
from benchmarks.web_pages import PASSWORD  # noqa: E402
from hotline.api import app as app_module  # noqa: E402
from hotline.core.settings import Settings  # noqa: E402

STALL_AIM_MS = 50.0


async def longest_stall(work: asyncio.Future[object], tick_s: float = 0.005) -> float:
    """The event loop's longest stall (ms) while `work` runs: how late a 5 ms sleep wakes,
    counted only as far as the loop's own thread was on the CPU meanwhile. On a loaded
    machine the process may wait for a core, which is not the loop's doing; the thread's
    CPU time (`time.thread_time`) is what a callback that blocks the loop spends.

    What is on the heap already is frozen first (as `hotline serve` freezes its start-up
    heap), so a full garbage collection walks only what the work allocates, not the
    caller's own objects (a test's generator rows: 100–400 ms)."""
    frozen = gc.get_freeze_count() > 0
    gc.collect()
    gc.freeze()
    worst = 0.0
    try:
        while not work.done():
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(tick_s)
            late = time.perf_counter() - wall - tick_s
            busy = time.thread_time() - cpu
            worst = max(worst, min(late, busy) * 1000)
        await work
    finally:
        if not frozen:
            gc.unfreeze()
    return worst


async def measure(url: str, only: str, rounds: int) -> None:
    loaded = await _sample_of(url)
    await _users(loaded)
    deep = await _deep_cursor(url, min(200_000, loaded.calls // 5))
    todo = [r for r in routes(loaded, loaded.calls, deep) if only in r.path]
    with tempfile.TemporaryDirectory() as tmp:
        container = app_module.build(Settings(data_dir=Path(tmp), database_url=url))
        app = app_module.create_app(container=container)
        await app_module.start(container)
        transport = httpx.ASGITransport(app=app)
        clients: dict[str, httpx.AsyncClient] = {}
        try:
            for name in ("chen", "wang"):
                c = httpx.AsyncClient(transport=transport, base_url="http://hotline", timeout=600)
                form = {"username": name, "password": PASSWORD, "next": "/"}
                if (await c.post("/login", data=form)).status_code != 303:
                    raise RuntimeError(f"sign-in of {name} failed")
                clients[name] = c
            idle = asyncio.ensure_future(asyncio.sleep(2))
            print(f"idle service: held {await longest_stall(idle):.0f} ms (baseline)")
            print(f"{'route':62} {'route ms':>9} {'held ms':>8}")
            for route in todo:
                client = clients[route.role]
                await client.get(route.path)  # warm-up, not counted
                took, held = [], []
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    held.append(await longest_stall(asyncio.ensure_future(client.get(route.path))))
                    took.append((time.perf_counter() - t0) * 1000)
                worst = max(held)
                who = "" if route.role == "chen" else " (agent)"
                print(
                    f"{(route.path + who)[:62]:62} {statistics.median(took):9.0f} {worst:8.0f}"
                    f"  {'met' if worst < STALL_AIM_MS else 'HELD'}",
                    flush=True,
                )
        finally:
            for c in clients.values():
                await c.aclose()
            await app_module.stop(container)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="a database filled by million_calls.py")
    ap.add_argument("--only", default="", help="only routes whose path contains this")
    ap.add_argument("--rounds", type=int, default=3, help="requests per route")
    args = ap.parse_args()
    asyncio.run(measure(args.url, args.only, args.rounds))


if __name__ == "__main__":
    main()
