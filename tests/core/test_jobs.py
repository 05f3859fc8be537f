"""Durable jobs: the same scenarios on the embedded queue (SQLite, and the same table on
PostgreSQL) and on procrastinate (PostgreSQL)."""

from __future__ import annotations

import asyncio
import errno
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import update

from hotline.core import db
from hotline.core.jobs import (
    Handler,
    JobQueue,
    JobRow,
    JobState,
    JobStatus,
    PermanentError,
    RetryPolicy,
    SqlJobQueue,
    Waiting,
    is_waiting,
    make_job_queue,
)
from hotline.core.jobs_procrastinate import ProcrastinateJobQueue

FAST = RetryPolicy(
    max_attempts=3,
    backoff_s=0.1,
    max_backoff_s=1.0,
    wait_backoff_s=0.1,
    wait_max_backoff_s=0.3,
    wait_limit_s=60.0,
)


def make_queue(kind: str, url: str, engine: Any) -> JobQueue:
    if kind == "procrastinate":
        return ProcrastinateJobQueue(url, retry=FAST, heartbeat_s=0.2, stall_s=1.0, poll_s=0.1)
    return SqlJobQueue(db.session_factory(engine), retry=FAST, lease_s=1.0, poll_s=0.05)


@pytest.fixture(
    params=[
        "sql-sqlite",
        pytest.param("sql-postgres", marks=pytest.mark.postgres),
        pytest.param("procrastinate", marks=pytest.mark.postgres),
    ]
)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sql-sqlite":
        return request.param, f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"
    return request.param, request.getfixturevalue("pg_url")


@pytest.fixture
async def backend(backend_url: tuple[str, str]) -> AsyncIterator[tuple[str, str, Any]]:
    kind, url = backend_url
    engine = db.make_engine(url)
    await db.migrate(engine)
    yield kind, url, engine
    await engine.dispose()


@pytest.fixture
async def queue(backend: tuple[str, str, Any]) -> AsyncIterator[JobQueue]:
    q = make_queue(*backend)
    yield q
    await q.close()


async def run_until(
    queue: JobQueue,
    handlers: Mapping[str, Handler],
    done: Callable[[list[JobStatus]], bool],
    *,
    timeout: float = 15.0,
    concurrency: int = 2,
) -> list[JobStatus]:
    stop = asyncio.Event()
    worker = asyncio.create_task(queue.run_worker(handlers, concurrency=concurrency, stop=stop))
    try:
        async with asyncio.timeout(timeout):
            while True:
                jobs = await queue.status()
                if done(jobs):
                    return jobs
                assert not worker.done(), worker.exception()
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)


def all_settled(jobs: list[JobStatus]) -> bool:
    return bool(jobs) and all(j.state in (JobState.DONE, JobState.FAILED) for j in jobs)


async def test_a_job_is_deferred_once_per_stage_key_and_version(queue: JobQueue) -> None:
    assert await queue.defer("archive", "1", version=1)
    assert not await queue.defer("archive", "1", version=1)
    assert await queue.defer("archive", "1", version=2)  # a new pipeline version runs again
    assert await queue.defer("transcribe", "1", version=1)
    runs: Counter[tuple[str, str]] = Counter()

    def handler(stage: str) -> Handler:
        async def run(key: str) -> None:
            runs[stage, key] += 1

        return run

    handlers = {"archive": handler("archive"), "transcribe": handler("transcribe")}
    jobs = await run_until(queue, handlers, all_settled)
    assert [(j.stage, j.key, j.version, j.state) for j in jobs] == [
        ("archive", "1", 1, JobState.DONE),
        ("archive", "1", 2, JobState.DONE),
        ("transcribe", "1", 1, JobState.DONE),
    ]
    assert runs == {("archive", "1"): 2, ("transcribe", "1"): 1}
    # done is done: deferring it again changes nothing
    assert not await queue.defer("archive", "1", version=1)
    assert len(await queue.status("archive", "1")) == 2


async def test_a_transient_failure_is_retried_with_backoff(queue: JobQueue) -> None:
    calls: list[float] = []

    async def flaky(key: str) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError("the transcoder crashed")

    await queue.defer("archive", "7", version=1)
    [job] = await run_until(queue, {"archive": flaky}, all_settled)
    assert job.state is JobState.DONE and job.attempts == 3
    assert job.reason is None
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19, gaps  # 0.1 s, then 0.2 s


async def test_waiting_is_not_failing_no_attempt_is_charged_and_the_wait_backs_off(
    queue: JobQueue,
) -> None:
    """A stage whose input is not there, whose disk is full or whose database is away runs
    again after a growing, capped wait, far more often than max_attempts, and is done."""
    calls: list[float] = []
    away: list[BaseException] = [
        Waiting("录音文件尚未就绪"),
        OSError(errno.ENOSPC, "No space left on device"),
        ConnectionRefusedError("database down"),
        sa_exc.TimeoutError("QueuePool limit reached"),
        Waiting("still not there"),
    ]

    async def waits(key: str) -> None:
        calls.append(time.monotonic())
        if len(calls) <= len(away):
            raise away[len(calls) - 1]

    await queue.defer("archive", "17", version=1)
    [job] = await run_until(queue, {"archive": waits}, all_settled)
    assert job.state is JobState.DONE and job.attempts == 1, job  # 5 waits, no attempt
    assert job.reason is None and job.waiting_since is None
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) >= 0.09, gaps  # each look after the wait backoff
    # the waits 0.1, 0.1, 0.2, 0.4, 0.8 s are capped at 0.3 s: the last one shows it (the
    # first ones are too short to tell a slow poll on a loaded machine from a long wait)
    assert gaps[-1] < 0.6, gaps


async def test_a_job_that_waits_past_the_limit_is_parked_with_the_reason(
    backend: tuple[str, str, Any],
) -> None:
    kind, url, engine = backend
    short = RetryPolicy(
        max_attempts=2, wait_backoff_s=0.1, wait_max_backoff_s=0.1, wait_limit_s=1.0
    )
    queue: JobQueue
    if kind == "procrastinate":
        queue = ProcrastinateJobQueue(url, retry=short, heartbeat_s=0.2, stall_s=1.0, poll_s=0.1)
    else:
        queue = SqlJobQueue(db.session_factory(engine), retry=short, lease_s=1.0, poll_s=0.05)
    runs = 0

    async def never_ready(key: str) -> None:
        nonlocal runs
        runs += 1
        raise Waiting("交换机录音目录不可用")

    try:
        await queue.defer("archive", "18", version=1)
        [job] = await run_until(queue, {"archive": never_ready}, all_settled)
    finally:
        await queue.close()
    assert job.state is JobState.FAILED
    assert runs > 2  # more looks than attempts: waiting charged none
    assert job.reason is not None and "交换机录音目录不可用" in job.reason
    assert "等待超过" in job.reason


def test_what_counts_as_waiting() -> None:
    assert is_waiting(Waiting("not there"))
    assert is_waiting(OSError(errno.ENOSPC, "No space left on device"))
    assert is_waiting(ConnectionResetError("peer reset"))
    assert is_waiting(sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"))
    lost = sa_exc.DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
    assert is_waiting(lost)
    wrapped = RuntimeError("while saving")
    wrapped.__cause__ = ConnectionRefusedError("refused")
    assert is_waiting(wrapped)
    refused = sa_exc.OperationalError("INSERT", {}, ConnectionRefusedError("database is down"))
    assert is_waiting(refused)
    assert not is_waiting(sa_exc.OperationalError("SELECT", {}, Exception("no such table")))
    assert not is_waiting(RuntimeError("the transcoder crashed"))
    assert not is_waiting(PermanentError("corrupt audio"))
    assert not is_waiting(sa_exc.IntegrityError("INSERT", {}, Exception("duplicate")))


async def test_transient_failures_are_parked_after_max_attempts(queue: JobQueue) -> None:
    async def broken(key: str) -> None:
        raise TimeoutError("the transcoder did not answer")

    await queue.defer("archive", "8", version=1)
    [job] = await run_until(queue, {"archive": broken}, all_settled)
    assert job.state is JobState.FAILED and job.attempts == 3
    assert job.reason is not None
    assert "gave up after 3 attempts" in job.reason
    assert "the transcoder did not answer" in job.reason


async def test_a_permanent_failure_is_parked_with_its_reason_and_retried_by_hand(
    queue: JobQueue,
) -> None:
    fixed = False
    runs = 0

    async def handler(key: str) -> None:
        nonlocal runs
        runs += 1
        if not fixed:
            raise PermanentError("录音文件损坏 (the recording is truncated): re-import it")

    await queue.defer("archive", "9", version=1)
    [job] = await run_until(queue, {"archive": handler}, all_settled)
    assert job.state is JobState.FAILED and job.attempts == 1 and runs == 1
    assert job.reason == "录音文件损坏 (the recording is truncated): re-import it"

    fixed = True
    assert await queue.retry(job.id)
    assert not await queue.retry(job.id)  # pending now, not failed
    [again] = await queue.status("archive", "9")
    assert again.state is JobState.PENDING and again.id == job.id
    [job] = await run_until(queue, {"archive": handler}, all_settled)
    assert job.state is JobState.DONE and job.reason is None and runs == 2
    assert not await queue.retry(job.id)  # done: nothing to retry
    assert not await queue.retry(123456)


async def test_a_retried_job_gets_fresh_attempts(queue: JobQueue) -> None:
    runs = 0

    async def broken(key: str) -> None:
        nonlocal runs
        runs += 1
        raise OSError("NFS share not mounted")

    await queue.defer("archive", "5", version=1)
    [job] = await run_until(queue, {"archive": broken}, all_settled)
    assert runs == 3
    assert await queue.retry(job.id)
    [job] = await run_until(queue, {"archive": broken}, all_settled)
    assert job.state is JobState.FAILED and runs == 6


async def test_status_and_stats(queue: JobQueue) -> None:
    for key in ("1", "2", "3"):
        await queue.defer("archive", key, version=1)
    await queue.defer("transcribe", "1", version=1)
    later = datetime.now(UTC) + timedelta(hours=1)
    await queue.defer("transcribe", "2", version=1, run_after=later)

    stats = await queue.stats()
    assert stats["queue"]["archive"] == {"pending": 3, "running": 0, "done": 0, "failed": 0}
    assert stats["queue"]["transcribe"]["pending"] == 2
    assert stats["done_last_hour"] == {}

    async def handler(key: str) -> None:
        if key == "3":
            raise PermanentError("no such recording")

    handlers = {"archive": handler, "transcribe": handler}
    jobs = await run_until(
        queue,
        handlers,
        lambda js: sum(j.state in (JobState.DONE, JobState.FAILED) for j in js) == 4,
    )
    by_key = {(j.stage, j.key): j for j in jobs}
    assert by_key["archive", "3"].state is JobState.FAILED
    assert by_key["archive", "3"].reason == "no such recording"
    waiting = by_key["transcribe", "2"]
    assert waiting.state is JobState.PENDING and waiting.attempts == 0
    assert waiting.run_after is not None and waiting.run_after > datetime.now(UTC)
    for j in jobs:
        assert j.created_at is not None and j.updated_at is not None
    assert [j.key for j in await queue.status(stage="archive")] == ["1", "2", "3"]
    assert [j.stage for j in await queue.status(key="2")] == ["archive", "transcribe"]

    stats = await queue.stats()
    assert stats["queue"]["archive"] == {"pending": 0, "running": 0, "done": 2, "failed": 1}
    assert stats["queue"]["transcribe"] == {"pending": 1, "running": 0, "done": 1, "failed": 0}
    assert stats["done_last_hour"] == {"archive": 2, "transcribe": 1}


async def kill_a_worker_mid_job(kind: str, queue: JobQueue, engine: Any, stage: str) -> None:
    """A worker takes the job, then stops answering (no heartbeat) without finishing it."""
    if isinstance(queue, ProcrastinateJobQueue):
        manager = queue.app.job_manager
        dead = await manager.register_worker()
        job = await manager.fetch_job(queues=[stage], worker_id=dead)
        assert job is not None
        await queue._query(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' "
            "WHERE id = %(id)s RETURNING id",
            {"id": dead},
        )
        return
    assert isinstance(queue, SqlJobQueue)
    [job_row] = await queue.claim([stage], "dead-worker", 1)
    async with db.transaction(db.session_factory(engine)) as session:
        await session.execute(
            update(JobRow)
            .where(JobRow.id == job_row.id)
            .values(heartbeat_at=datetime.now(UTC) - timedelta(hours=1))
        )


async def test_a_job_of_a_killed_worker_is_done_by_another(
    backend: tuple[str, str, Any], queue: JobQueue
) -> None:
    kind, _, engine = backend
    await queue.defer("archive", "42", version=1)
    await kill_a_worker_mid_job(kind, queue, engine, "archive")
    [job] = await queue.status()
    assert job.state is JobState.RUNNING and job.attempts == 1
    runs: list[str] = []

    async def handler(key: str) -> None:
        runs.append(key)

    [job] = await run_until(queue, {"archive": handler}, all_settled)
    assert job.state is JobState.DONE and runs == ["42"]
    assert job.attempts == 2  # the lost run counts


async def test_two_workers_share_a_batch_without_duplicates(
    backend: tuple[str, str, Any], queue: JobQueue
) -> None:
    other = make_queue(*backend)
    runs: Counter[str] = Counter()

    async def handler(key: str) -> None:
        runs[key] += 1
        await asyncio.sleep(0.01)

    for i in range(30):
        await queue.defer("archive", str(i), version=1)
    stop = asyncio.Event()
    second = asyncio.create_task(other.run_worker({"archive": handler}, concurrency=3, stop=stop))
    try:
        await run_until(queue, {"archive": handler}, all_settled, concurrency=3)
    finally:
        stop.set()
        await second
        await other.close()
    assert runs == {str(i): 1 for i in range(30)}


async def test_make_job_queue_picks_the_backend(tmp_path: Path) -> None:
    sqlite = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    engine = db.make_engine(sqlite)
    try:
        assert isinstance(make_job_queue(sqlite, db.session_factory(engine)), SqlJobQueue)
        pg = make_job_queue("postgresql+asyncpg://u@h/d", db.session_factory(engine))
        assert isinstance(pg, ProcrastinateJobQueue)
    finally:
        await engine.dispose()
