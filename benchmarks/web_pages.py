"""Server time of the web workspace's main pages with 1,000,000 calls in PostgreSQL, against
`/api/health` measured in the same run. Aim: p95 under 100 ms.

A fresh database (`hotline_bench_<random>`, dropped at the end) is filled by
benchmarks/million_calls.py (calls over 50 days, 60 queues, 750 agents, with recordings,
transcripts, scores and tickets); the real app then runs as `hotline serve` would
(`create_app()` under uvicorn, in its own process, so this client does not share its CPU
lock), and each page is fetched signed in through `POST /login` with a browser session
cookie, as a supervisor and as an agent. The pages send no Server-Timing header, so the
time is the client's wall time of the whole response over loopback (httpx).

Rounds: every page once per round, in turn, so the machine's load falls on all pages
alike. A page whose first answer takes more than --slow-s seconds gets --slow-requests
samples instead of --requests (said in the table). The ticket deadline watch runs every
day instead of every minute: its first tick is waited out before measuring (issue 17: a
tick at this size stalls the service for seconds); with the default minute, add its stalls.

Statements slower than 100 ms are logged with their plans by PostgreSQL's auto_explain
(log_analyze on, per-node timing off: row counts are exact, the overhead small), read back
from the server's log and printed under the table, slowest first.

Run: .venv/bin/python benchmarks/web_pages.py [--calls 1000000] [--days 50] [--requests 50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # type: ignore[import-untyped]  # noqa: E402
import httpx  # noqa: E402

from benchmarks.million_calls import PG, Loaded, create_database, drop_database, iface, load  # noqa: E402
from hotline.api.users import UserStore  # noqa: E402
from hotline.core import db  # noqa: E402
from hotline.core.roles import Role  # noqa: E402

AIM_MS = 100.0
PASSWORD = "bench-horse-9"
SLOW_STATEMENT_MS = 100
PAGES = [
    "/",
    "/calls",
    "/calls?within_rule=false",
    "/calls/{call}",
    "/recordings",
    "/quality",
    "/tickets",
    "/attention",
    "/wallboard",
    "/reports/service-level?period=month",
]


@dataclass(frozen=True, slots=True)
class Sample:
    status: int
    ms: float
    size: int


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def add_users(loaded: Loaded) -> None:
    engine = db.make_engine(loaded.url)
    users = UserStore(db.session_factory(engine))
    now = datetime.now(UTC)
    for name, role, agent in (
        ("chen", Role.SUPERVISOR, None),
        ("wang", Role.AGENT, iface(loaded.sample_agent)),
    ):
        await users.add(name, role, agent, now)
        await users.set_password(name, PASSWORD)
    await engine.dispose()


async def explain_slow_statements(name: str) -> None:
    conn = await asyncpg.connect(f"{PG}/{name}")
    try:
        for sql in (
            f"ALTER DATABASE \"{name}\" SET session_preload_libraries = 'auto_explain'",
            f'ALTER DATABASE "{name}" SET auto_explain.log_min_duration = {SLOW_STATEMENT_MS}',
            f'ALTER DATABASE "{name}" SET auto_explain.log_analyze = on',
            f'ALTER DATABASE "{name}" SET auto_explain.log_timing = off',
            f'ALTER DATABASE "{name}" SET auto_explain.log_buffers = on',
        ):
            await conn.execute(sql)
    finally:
        await conn.close()


def log_offset() -> int:
    log = _server_log()
    return log.stat().st_size if log else 0


def _server_log() -> Path | None:
    logs = sorted(Path("/var/log/postgresql").glob("postgresql-*-main.log"))
    return logs[-1] if logs else None


def slow_plans(name: str, since: int) -> list[tuple[float, str]]:
    """(duration ms, plan text) of this database's statements auto_explain logged."""
    log = _server_log()
    if log is None:
        return []
    with log.open("rb") as f:
        f.seek(since)
        text = f.read().decode("utf-8", "replace")
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    out = []
    for e in entries:
        m = re.search(rf"@{re.escape(name)} LOG:  duration: ([\d.]+) ms  plan:\n", e)
        if m:
            out.append((float(m.group(1)), e[m.end() :]))
    slowest: dict[str, tuple[float, str, int]] = {}  # by query text: the slowest, and a count
    for ms, plan in out:
        query = re.sub(r"\s+", " ", plan.split("(cost=", 1)[0])  # the text, the top node
        old = slowest.get(query, (0.0, "", 0))
        slowest[query] = (max(ms, old[0]), plan if ms > old[0] else old[1], old[2] + 1)
    return sorted(
        ((ms, f"(logged {n}x)\n{plan}") for ms, plan, n in slowest.values()), key=lambda p: -p[0]
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_app(loaded: Loaded, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_DATABASE_URL": loaded.url,
        "HOTLINE_TICKETS__OVERDUE_CHECK_S": "86400",
    }
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "hotline.api.app:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen(cmd, env=env, cwd=ROOT)


def wait_settled(client: httpx.Client, timeout_s: float = 900) -> float:
    """Wait until the app answers and /api/health is fast five times in a row (the
    start-up work, such as the first ticket deadline tick, is over)."""
    t0 = time.monotonic()
    fast = 0
    while fast < 5:
        if time.monotonic() - t0 > timeout_s:
            raise RuntimeError(f"the app did not settle within {timeout_s:.0f} s")
        try:
            s = fetch(client, "/api/health")
            fast = fast + 1 if s.status == 200 and s.ms < 50 else 0
        except httpx.TransportError:
            fast = 0
        time.sleep(0.5)
    return time.monotonic() - t0


def fetch(client: httpx.Client, path: str) -> Sample:
    t0 = time.perf_counter()
    r = client.get(path)
    body = r.read()
    return Sample(r.status_code, (time.perf_counter() - t0) * 1000, len(body))


def sign_in(base: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=300, follow_redirects=False)
    r = client.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
    if r.status_code != 303 or not client.cookies:
        raise RuntimeError(f"sign-in of {name} failed: {r.status_code}")
    return client


def measure(
    client: httpx.Client, paths: list[str], requests: int, slow_ms: float, few: int
) -> dict[str, list[Sample]]:
    first = {p: fetch(client, p) for p in ["/api/health", *paths]}  # warm-up, not counted
    wanted = {p: (few if s.ms > slow_ms else requests) for p, s in first.items()}
    wanted["/api/health"] = requests
    out: dict[str, list[Sample]] = {p: [] for p in first}
    for k in range(requests):
        for p in out:
            if k < wanted[p] and first[p].status == 200:
                out[p].append(fetch(client, p))
    for p, s in first.items():
        if s.status != 200:
            out[p] = [s]
    return out


def report(role: str, results: dict[str, list[Sample]]) -> list[tuple[str, str, float]]:
    base = statistics.median(s.ms for s in results["/api/health"])
    print(
        f"\n{role}: {'page':40} {'n':>3} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}"
        f" {'p95/base':>9}  aim"
    )
    misses = []
    for path, samples in results.items():
        if samples[0].status != 200:
            print(
                f"{'':{len(role) + 2}}{path:40} answered {samples[0].status}: not this role's page"
            )
            continue
        ms = [s.ms for s in samples]
        p95 = pct(ms, 95)
        ok = "met" if p95 < AIM_MS else "MISSED"
        if path != "/api/health" and p95 >= AIM_MS:
            misses.append((role, path, p95))
        label = f"{path} (baseline)" if path == "/api/health" else path
        print(
            f"{'':{len(role) + 2}}{label:40} {len(ms):>3} {statistics.median(ms):8.1f}"
            f" {p95:8.1f} {max(ms):8.1f} {p95 / base:8.1f}x  {ok}"
        )
    return misses


async def prepare(args: argparse.Namespace) -> tuple[Loaded, int]:
    name = await create_database()
    print(f"database {name}: loading {args.calls:,} calls over {args.days:g} days …", flush=True)
    t0 = time.perf_counter()
    loaded = await load(name, args.calls, args.days, lambda m: print(m, flush=True))
    print(f"loaded in {time.perf_counter() - t0:.0f} s: {loaded.counts}")
    await add_users(loaded)
    await explain_slow_statements(name)
    return loaded, log_offset()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=50.0)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--slow-s", type=float, default=2.0)
    parser.add_argument("--slow-requests", type=int, default=10)
    parser.add_argument("--plans", type=int, default=8, help="slow statements' plans shown")
    args = parser.parse_args()
    loaded, since = asyncio.run(prepare(args))
    misses: list[tuple[str, str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            app = start_app(loaded, Path(tmp), port)
            base = f"http://127.0.0.1:{port}"
            try:
                with httpx.Client(base_url=base, timeout=60) as probe:
                    print(f"app started, settled after {wait_settled(probe):.0f} s", flush=True)
                for name, role in (("chen", "supervisor"), ("wang", "agent")):
                    paths = [p.replace("{call}", loaded.sample_call) for p in PAGES]
                    client = sign_in(base, name)
                    try:
                        results = measure(
                            client, paths, args.requests, args.slow_s * 1000, args.slow_requests
                        )
                    finally:
                        client.close()
                    misses += report(role, results)
            finally:
                app.terminate()
                app.wait(30)
        print(f"\npages missing the aim (p95 < {AIM_MS:.0f} ms): {len(misses)}")
        for role, path, p95 in misses:
            print(f"  {role:10} {path:40} p95 {p95:8.1f} ms")
        plans = slow_plans(loaded.name, since)
        print(f"\nstatements over {SLOW_STATEMENT_MS} ms (auto_explain): {len(plans)}")
        for ms, plan in plans[: args.plans]:
            print(f"\n--- {ms:.0f} ms ---\n{plan.rstrip()}")
    finally:
        asyncio.run(drop_database(loaded.name))


if __name__ == "__main__":
    main()
