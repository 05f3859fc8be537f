"""Does a route freeze the service? While each of the README's routes runs (one client),
a second client asks `/api/health` every 10 ms; the health check's worst time during the
route, less its median when nothing else runs (measured in the same run), is how long the
event loop was held. Aim (issue 17): no route holds it for more than 50 ms.

The app runs as `hotline serve` would (benchmarks/web_pages.start_app) over an already
filled database (benchmarks/million_calls.py); the routes are big_hotline.py's.

Run: PYTHONPATH=. .venv/bin/python benchmarks/loop_stalls.py --url postgresql+asyncpg://…
     [--only ticket] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.big_hotline import _deep_cursor, _sample_of, _users, routes  # noqa: E402
from benchmarks.web_pages import fetch, free_port, sign_in, start_app, wait_settled  # noqa: E402

STALL_AIM_MS = 50.0


def probe(client: httpx.Client, stop: threading.Event, out: list[float]) -> None:
    while not stop.is_set():
        out.append(fetch(client, "/api/health").ms)
        time.sleep(0.01)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="a database filled by million_calls.py")
    ap.add_argument("--only", default="", help="only routes whose path contains this")
    ap.add_argument("--rounds", type=int, default=3, help="requests per route")
    args = ap.parse_args()
    loaded = asyncio.run(_sample_of(args.url))
    asyncio.run(_users(loaded))
    deep = asyncio.run(_deep_cursor(args.url, min(200_000, loaded.calls // 5)))
    todo = [r for r in routes(loaded, loaded.calls, deep) if args.only in r.path]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        app = start_app(loaded, Path(tmp), port)
        try:
            health = httpx.Client(base_url=base, timeout=600)
            wait_settled(health)
            clients = {name: sign_in(base, name) for name in ("chen", "wang")}
            idle = [fetch(health, "/api/health").ms for _ in range(50)]
            base_ms = statistics.median(idle)
            print(f"/api/health alone: median {base_ms:.1f} ms, worst {max(idle):.1f} ms")
            print(f"{'route':62} {'route ms':>9} {'health worst':>13} {'held':>7}")
            for route in todo:
                fetch(clients[route.role], route.path)  # warm-up, not counted
                seen: list[float] = []
                stop = threading.Event()
                t = threading.Thread(target=probe, args=(health, stop, seen))
                t.start()
                took = [fetch(clients[route.role], route.path).ms for _ in range(args.rounds)]
                stop.set()
                t.join()
                held = max(seen, default=0.0) - base_ms
                verdict = "met" if held < STALL_AIM_MS else "HELD"
                who = "" if route.role == "chen" else " (agent)"
                print(
                    f"{(route.path + who)[:62]:62} {statistics.median(took):9.0f}"
                    f" {max(seen, default=0.0):13.0f} {held:7.0f}  {verdict}",
                    flush=True,
                )
        finally:
            app.terminate()
            app.wait(30)


if __name__ == "__main__":
    main()
