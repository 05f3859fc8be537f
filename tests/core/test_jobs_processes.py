"""Real worker processes (tests/core/job_worker_proc.py) share one queue: a batch is done
exactly once per job, and the job of a worker killed with SIGKILL completes on another."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hotline.core import db
from hotline.core.jobs import JobQueue, JobState, JobStatus
from tests.core.job_worker_proc import make_queue

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sql", pytest.param("procrastinate", marks=pytest.mark.postgres)])
def kind_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sql":
        return "sql", f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    return "procrastinate", request.getfixturevalue("pg_url")


@pytest.fixture
async def setup(kind_url: tuple[str, str]) -> AsyncIterator[tuple[str, str, Any, JobQueue]]:
    kind, url = kind_url
    engine = db.make_engine(url)
    await db.migrate(engine)
    async with engine.begin() as conn:
        await conn.execute(
            text("CREATE TABLE job_runs_test (key VARCHAR(32), worker VARCHAR(32), at TEXT)")
        )
    queue = make_queue(kind, url, engine)
    yield kind, url, engine, queue
    await queue.close()
    await engine.dispose()


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def start_worker(
    procs: list[subprocess.Popen[str]], kind: str, url: str, name: str
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.core.job_worker_proc",
            "--kind",
            kind,
            "--url",
            url,
            "--name",
            name,
            "--concurrency",
            "3",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    procs.append(proc)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", f"worker {name} did not start"
    return proc


async def runs(engine: Any) -> list[tuple[str, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT key, worker FROM job_runs_test ORDER BY at"))
        return [(r[0], r[1]) for r in rows]


async def wait_for(queue: JobQueue, done: Any, timeout: float = 25.0) -> list[JobStatus]:
    async with asyncio.timeout(timeout):
        while True:
            jobs = await queue.status("test")
            if done(jobs):
                return jobs
            await asyncio.sleep(0.1)


async def test_two_worker_processes_share_a_batch_without_duplicates(
    setup: tuple[str, str, Any, JobQueue], workers: list[subprocess.Popen[str]]
) -> None:
    kind, url, engine, queue = setup
    await queue.defer("test", "warm-up", version=1)  # procrastinate: schema applied before
    start_worker(workers, kind, url, "w1")
    start_worker(workers, kind, url, "w2")
    for i in range(50):
        assert await queue.defer("test", str(i), version=1)
    jobs = await wait_for(queue, lambda js: all(j.state is JobState.DONE for j in js))
    assert len(jobs) == 51
    executed = await runs(engine)
    assert Counter(k for k, _ in executed) == {k: 1 for k in ["warm-up", *map(str, range(50))]}
    by_worker = Counter(w for _, w in executed)
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0, by_worker
    for p in workers:  # a graceful stop
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0


async def test_the_job_of_a_killed_worker_completes_on_another(
    setup: tuple[str, str, Any, JobQueue], workers: list[subprocess.Popen[str]]
) -> None:
    kind, url, engine, queue = setup
    await queue.defer("test", "slow-1", version=1)
    doomed = start_worker(workers, kind, url, "doomed")
    async with asyncio.timeout(15):
        while not await runs(engine):
            await asyncio.sleep(0.05)
    start_worker(workers, kind, url, "survivor")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(5)
    [job] = await wait_for(queue, lambda js: js[0].state is JobState.DONE)
    assert await runs(engine) == [("slow-1", "doomed"), ("slow-1", "survivor")]
    assert job.attempts == 2
