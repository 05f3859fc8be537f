"""A worker process for tests/core/test_jobs_processes.py: runs jobs of the stage "test",
recording every execution as a row of `job_runs_test` (so duplicates are visible).

A key starting with "slow" blocks for a minute on its first execution (to be killed)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.jobs import JobQueue, RetryPolicy, SqlJobQueue
from hotline.core.jobs_procrastinate import ProcrastinateJobQueue

RETRY = RetryPolicy(max_attempts=3, backoff_s=0.1, max_backoff_s=1.0)
LEASE_S = 1.5  # a killed worker's job is taken back after this


def make_queue(kind: str, url: str, engine: AsyncEngine) -> JobQueue:
    if kind == "procrastinate":
        return ProcrastinateJobQueue(url, retry=RETRY, heartbeat_s=0.3, stall_s=LEASE_S, poll_s=0.2)
    return SqlJobQueue(db.session_factory(engine), retry=RETRY, lease_s=LEASE_S, poll_s=0.05)


async def main(args: argparse.Namespace) -> None:
    engine = db.make_engine(args.url)
    sessions = db.session_factory(engine)
    queue = make_queue(args.kind, args.url, engine)
    if isinstance(queue, ProcrastinateJobQueue):
        await queue.open()

    async def handler(key: str) -> None:
        async with db.transaction(sessions) as session:
            prior = (
                await session.execute(
                    text("SELECT count(*) FROM job_runs_test WHERE key = :key"), {"key": key}
                )
            ).scalar_one()
            await session.execute(
                text("INSERT INTO job_runs_test (key, worker, at) VALUES (:key, :worker, :at)"),
                {"key": key, "worker": args.name, "at": datetime.now(UTC).isoformat()},
            )
        await asyncio.sleep(60 if key.startswith("slow") and prior == 0 else args.sleep)

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    try:
        await queue.run_worker({"test": handler}, concurrency=args.concurrency, stop=stop)
    finally:
        await queue.close()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=["procrastinate", "sql"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sleep", type=float, default=0.02)
    asyncio.run(main(parser.parse_args()))
