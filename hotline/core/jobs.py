"""Durable pipeline jobs. Rule: a job is (stage, key, version) and exists once; a worker
only finishes a job it still holds, so a job is never lost and never done twice in effect.

A stage handler is `async def handler(key: str) -> None`. It raises `PermanentError(reason)`
when retrying cannot help (the job is parked as failed with that reason, a person can
`retry` it); any other exception is transient (retried with exponential backoff up to
`max_attempts`, then parked as failed with the last error). Waiting is not failing: a
handler that raises `Waiting` (its input is not there yet, its disk is full) or loses the
database (`is_waiting`) is run again after a backoff in minutes, charging no attempt, until
the wait has lasted the policy's `wait_limit_s` (then it is parked with the reason). The
retry policy can differ by
stage (`retry_by_stage`); while a handler runs, `current_attempt()` says which run of its
job this is, so a stage can leave its own records consistent on the last one.

Which stages exist and what follows which is not this module's business: see
hotline.core.pipeline.

Two backends share the `JobQueue` protocol: `SqlJobQueue` (here: a `jobs` table claimed by
compare-and-set, for the embedded SQLite and workers inside `serve`) and
`ProcrastinateJobQueue` (hotline.core.jobs_procrastinate: PostgreSQL, worker processes on
any number of hosts). `make_job_queue` picks one from the database URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import (
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    func,
    select,
    update,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime
from hotline.core.errors import HotlineError, Unavailable

log = logging.getLogger(__name__)

Stage = str
"""A pipeline stage's name; also the name of its queue (the names live with their stages)."""

Handler = Callable[[str], Awaitable[None]]
"""Runs one job of a stage for `key` (e.g. a recording id, as text)."""

MAX_REASON = 2000


class JobState(StrEnum):
    PENDING = "pending"  # waiting to run (first time, or after a transient error)
    RUNNING = "running"  # a worker holds it
    DONE = "done"
    FAILED = "failed"  # parked: see `reason`; `retry` puts it back


@dataclass(frozen=True, slots=True)
class JobStatus:
    id: int
    stage: Stage
    key: str
    version: int
    state: JobState
    reason: str | None  # the last error (also on a pending job that will be retried)
    attempts: int  # runs started so far
    created_at: datetime | None
    updated_at: datetime | None
    run_after: datetime | None  # a pending job does not start before this
    waiting_since: datetime | None = None  # waiting (no attempt charged) since then


class PermanentError(HotlineError):
    """Retrying will not help: park the job as failed with `reason` (for people)."""

    error_id = "job_failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Waiting(Unavailable):
    """Not failing, waiting: the job's input is not there yet, or its disk or database is
    away. The job runs again after a backoff and no attempt is charged."""

    error_id = "waiting"


_DB_AWAY = (
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,  # the connection pool had nothing to give
    sa_exc.DisconnectionError,
    ConnectionError,
)


def is_waiting(exc: BaseException) -> bool:
    """Whether an error means "wait" rather than "failed": `Waiting`, the database away (a
    lost connection, a refused one, a pool timeout) or a full disk."""
    if isinstance(exc, (Waiting, *_DB_AWAY)):
        return True
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        if exc.connection_invalidated or (
            isinstance(orig, BaseException) and orig is not exc and is_waiting(orig)
        ):
            return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    kind = type(exc)
    if kind.__module__.startswith(("asyncpg", "psycopg")) and (
        "Connect" in kind.__name__ or kind.__name__ == "OperationalError"
    ):
        return True
    cause = exc.__cause__
    return cause is not None and cause is not exc and is_waiting(cause)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: backoff_s, 2*backoff_s, 4*backoff_s, ... capped at max_backoff_s.
    Waiting: wait_backoff_s, then as long again as waited so far, capped at
    wait_max_backoff_s; parked once the job has waited wait_limit_s."""

    max_attempts: int = 5
    backoff_s: float = 2.0
    max_backoff_s: float = 600.0
    wait_backoff_s: float = 60.0
    wait_max_backoff_s: float = 900.0
    wait_limit_s: float = 72 * 3600.0

    def delay_s(self, attempts: int) -> float:
        """Wait after the `attempts`-th failed run (1-based)."""
        return float(min(self.max_backoff_s, self.backoff_s * 2 ** max(0, attempts - 1)))

    def wait_delay_s(self, waited_s: float) -> float:
        """When to look again after a job has waited `waited_s` (doubling, capped)."""
        return float(min(self.wait_max_backoff_s, max(self.wait_backoff_s, waited_s)))

    def waited_too_long(self, waited_s: float) -> bool:
        return waited_s >= self.wait_limit_s


def waited_out(reason: str, limit_s: float) -> str:
    """The reason of a job parked after waiting too long."""
    return (
        f"等待超过 {limit_s / 3600:g} 小时仍未就绪，请排除原因后重试 "
        f"(waited more than {limit_s / 3600:g} h: {reason})"
    )[:MAX_REASON]


@dataclass(frozen=True, slots=True)
class Attempt:
    """Which run of its job a handler is in (1-based) out of the stage's `max_attempts`."""

    number: int
    max_attempts: int

    @property
    def last(self) -> bool:
        """A transient error now parks the job."""
        return self.number >= self.max_attempts


_ATTEMPT: ContextVar[Attempt | None] = ContextVar("hotline_job_attempt", default=None)


def current_attempt() -> Attempt | None:
    """The run of the job the calling handler serves; None outside a job."""
    return _ATTEMPT.get()


async def run_handler(handler: Handler, key: str, attempt: Attempt) -> None:
    """Run `handler(key)` with `current_attempt()` set to `attempt` (both backends)."""
    token = _ATTEMPT.set(attempt)
    try:
        await handler(key)
    finally:
        _ATTEMPT.reset(token)


def describe(exc: BaseException) -> str:
    """The reason a person reads for a failed run."""
    if isinstance(exc, PermanentError):
        text = exc.reason
    elif isinstance(exc, HotlineError):
        text = exc.message
    else:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:MAX_REASON]


def worker_lost(after_s: float) -> str:
    return f"工作进程中断 (the worker stopped answering for more than {after_s:g} s)"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class JobQueue(Protocol):
    async def defer(
        self, stage: Stage, key: str, *, version: int, run_after: datetime | None = None
    ) -> bool:
        """Queue (stage, key, version); False if that job already exists (in any state)."""
        ...

    async def status(
        self,
        stage: Stage | None = None,
        key: str | None = None,
        *,
        state: JobState | None = None,
        limit: int = 500,
    ) -> list[JobStatus]:
        """The newest `limit` jobs matching the filters, oldest first."""
        ...

    async def stats(self) -> dict[str, Any]:
        """{"queue": {stage: {state: count}}, "done_last_hour": {stage: count}}."""
        ...

    async def retry(self, job_id: int) -> bool:
        """Put a failed (parked) job back to pending with fresh attempts; False if not failed."""
        ...

    async def run_now(self, job_id: int) -> bool:
        """A pending (e.g. waiting) job due now; False if it is not pending."""
        ...

    async def run_worker(
        self,
        handlers: Mapping[Stage, Handler],
        *,
        concurrency: int = 1,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Run jobs of these stages until `stop` is set (then finish running jobs) or cancelled."""
        ...

    async def close(self) -> None: ...


def empty_stats(
    rows: Sequence[tuple[str, JobState, int]], done: Mapping[str, int]
) -> dict[str, Any]:
    queue: dict[str, dict[str, int]] = {}
    for stage, state, count in rows:
        per = queue.setdefault(stage, {s.value: 0 for s in JobState})
        per[state.value] += count
    return {"queue": queue, "done_last_hour": dict(done)}


# ---------------------------------------------------------------- embedded backend (SQL)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("stage", "key", "version", name="uq_jobs_stage_key_version"),
        Index("ix_jobs_status_run_after", "status", "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stage: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    waiting_since: Mapped[datetime | None] = mapped_column(UtcDateTime)


def _now() -> datetime:
    return datetime.now(UTC)


class SqlJobQueue:
    """Jobs in the `jobs` table. Several workers (tasks or processes) share it: a claim is a
    compare-and-set update, a running job's heartbeat is renewed every `heartbeat_s`, and a
    job whose heartbeat is older than `lease_s` (its worker died) goes back to pending."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        retry: RetryPolicy | None = None,
        retry_by_stage: Mapping[Stage, RetryPolicy] | None = None,
        lease_s: float = 60.0,
        heartbeat_s: float | None = None,
        poll_s: float = 1.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._sessions = sessions
        self.retry_policy = retry or RetryPolicy()
        self.retry_by_stage = dict(retry_by_stage or {})
        self.lease_s = lease_s
        self.heartbeat_s = heartbeat_s if heartbeat_s is not None else max(0.05, lease_s / 4)
        self.poll_s = poll_s
        self._clock = clock
        self._wake = asyncio.Event()

    def policy_for(self, stage: Stage) -> RetryPolicy:
        return self.retry_by_stage.get(stage, self.retry_policy)

    async def close(self) -> None:
        return None

    async def defer(
        self, stage: Stage, key: str, *, version: int, run_after: datetime | None = None
    ) -> bool:
        now = self._clock()
        try:
            async with self._sessions() as session, session.begin():
                session.add(
                    JobRow(
                        stage=stage,
                        key=key,
                        version=version,
                        status=JobState.PENDING.value,
                        attempts=0,
                        run_after=run_after or now,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            return False
        self._wake.set()
        return True

    async def status(
        self,
        stage: Stage | None = None,
        key: str | None = None,
        *,
        state: JobState | None = None,
        limit: int = 500,
    ) -> list[JobStatus]:
        query = select(JobRow).order_by(JobRow.id.desc()).limit(limit)
        if state is not None:
            query = query.where(JobRow.status == state.value)
        if stage is not None:
            query = query.where(JobRow.stage == stage)
        if key is not None:
            query = query.where(JobRow.key == key)
        async with self._sessions() as session:
            rows = list(reversed((await session.scalars(query)).all()))
        return [
            JobStatus(
                id=r.id,
                stage=r.stage,
                key=r.key,
                version=r.version,
                state=JobState(r.status),
                reason=r.reason,
                attempts=r.attempts,
                created_at=r.created_at,
                updated_at=r.updated_at,
                run_after=r.run_after,
                waiting_since=r.waiting_since,
            )
            for r in rows
        ]

    async def stats(self) -> dict[str, Any]:
        since = self._clock() - timedelta(hours=1)
        async with self._sessions() as session:
            depth = (
                await session.execute(
                    select(JobRow.stage, JobRow.status, func.count()).group_by(
                        JobRow.stage, JobRow.status
                    )
                )
            ).all()
            done = (
                await session.execute(
                    select(JobRow.stage, func.count())
                    .where(JobRow.status == JobState.DONE.value, JobRow.finished_at >= since)
                    .group_by(JobRow.stage)
                )
            ).all()
        return empty_stats(
            [(stage, JobState(status), n) for stage, status, n in depth],
            {stage: n for stage, n in done},
        )

    async def retry(self, job_id: int) -> bool:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobState.FAILED.value)
                .values(
                    status=JobState.PENDING.value,
                    attempts=0,
                    run_after=now,
                    locked_by=None,
                    heartbeat_at=None,
                    finished_at=None,
                    waiting_since=None,
                    updated_at=now,
                )
            )
        done = bool(getattr(result, "rowcount", 0))
        if done:
            self._wake.set()
        return done

    async def run_now(self, job_id: int) -> bool:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobState.PENDING.value)
                .values(run_after=now, updated_at=now)
            )
        done = bool(getattr(result, "rowcount", 0))
        if done:
            self._wake.set()
        return done

    async def recover_stalled(self, mine: str | None = None) -> int:
        """Jobs whose worker stopped renewing the heartbeat: back to pending (the run counts
        as an attempt), or failed when that was the last attempt. `mine`: the calling
        worker, whose own jobs are alive even if the database was away for a while."""
        now = self._clock()
        cutoff = now - timedelta(seconds=self.lease_s)
        stale = and_(JobRow.status == JobState.RUNNING.value, JobRow.heartbeat_at < cutoff)
        if mine is not None:
            stale = and_(stale, JobRow.locked_by != mine)
        lost = worker_lost(self.lease_s)
        special = self.retry_by_stage
        limits = [(JobRow.stage == stage, policy.max_attempts) for stage, policy in special.items()]
        limits.append((JobRow.stage.not_in(list(special)), self.retry_policy.max_attempts))
        async with self._sessions() as session, session.begin():
            parked = 0
            for of_stage, max_attempts in limits:
                result = await session.execute(
                    update(JobRow)
                    .where(stale, of_stage, JobRow.attempts >= max_attempts)
                    .values(
                        status=JobState.FAILED.value,
                        locked_by=None,
                        reason=f"gave up after {max_attempts} attempts: {lost}",
                        finished_at=now,
                        updated_at=now,
                    )
                )
                parked += int(getattr(result, "rowcount", 0))
            back = await session.execute(
                update(JobRow)
                .where(stale)
                .values(
                    status=JobState.PENDING.value,
                    locked_by=None,
                    run_after=now,
                    reason=lost,
                    updated_at=now,
                )
            )
        n = parked + int(getattr(back, "rowcount", 0))
        if n:
            log.warning("jobs: %d job(s) of a stopped worker taken back", n)
            self._wake.set()
        return n

    async def claim(self, stages: Sequence[Stage], worker: str, limit: int) -> list[JobRow]:
        """Take up to `limit` due jobs of these stages for `worker` (compare-and-set)."""
        now = self._clock()
        async with self._sessions() as session:
            candidates = (
                await session.scalars(
                    select(JobRow.id)
                    .where(
                        JobRow.status == JobState.PENDING.value,
                        JobRow.run_after <= now,
                        JobRow.stage.in_(list(stages)),
                    )
                    .order_by(JobRow.run_after, JobRow.id)
                    .limit(limit * 2)
                )
            ).all()
        claimed: list[JobRow] = []
        for job_id in candidates:
            if len(claimed) >= limit:
                break
            async with self._sessions() as session, session.begin():
                result = await session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == JobState.PENDING.value)
                    .values(
                        status=JobState.RUNNING.value,
                        locked_by=worker,
                        heartbeat_at=now,
                        attempts=JobRow.attempts + 1,
                        updated_at=now,
                    )
                )
                if getattr(result, "rowcount", 0) == 1:
                    row = await session.get(JobRow, job_id)
                    assert row is not None
                    claimed.append(row)
        return claimed

    async def _finish(self, job: JobRow, worker: str, **values: Any) -> None:
        """Record how a run ended; while the database is away, keep trying (the job stays
        ours: its heartbeat resumes with the database)."""
        pause = 0.2
        while True:
            try:
                result = await self._write_finish(job, worker, values)
                break
            except Exception as exc:
                if not is_waiting(exc):
                    raise
                log.warning("jobs: cannot record %s %s (%s); retrying", job.stage, job.key, exc)
                await asyncio.sleep(pause)
                pause = min(5.0, pause * 2)
        if not result:
            log.warning(
                "jobs: %s %s finished on %s after its lease was lost; the other run counts",
                job.stage,
                job.key,
                worker,
            )

    async def _write_finish(self, job: JobRow, worker: str, values: Mapping[str, Any]) -> bool:
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job.id,
                    JobRow.status == JobState.RUNNING.value,
                    JobRow.locked_by == worker,
                )
                .values(locked_by=None, updated_at=self._clock(), **values)
            )
        return bool(getattr(result, "rowcount", 0))

    async def _run_one(self, job: JobRow, handler: Handler, worker: str) -> None:
        policy = self.policy_for(job.stage)
        try:
            await run_handler(handler, job.key, Attempt(job.attempts, policy.max_attempts))
        except Exception as exc:
            if is_waiting(exc):
                await self._wait(job, worker, policy, describe(exc))
            else:
                await self._failed(job, worker, policy, exc)
        else:
            await self._finish(
                job,
                worker,
                status=JobState.DONE.value,
                reason=None,
                waiting_since=None,
                finished_at=self._clock(),
            )

    async def _wait(self, job: JobRow, worker: str, policy: RetryPolicy, reason: str) -> None:
        """Not failed, waiting: the same job again after the wait backoff, no attempt."""
        now = self._clock()
        since = job.waiting_since or now
        waited = (now - since).total_seconds()
        if policy.waited_too_long(waited):
            log.warning("jobs: %s %s waited %.0f s, parked: %s", job.stage, job.key, waited, reason)
            await self._finish(
                job,
                worker,
                status=JobState.FAILED.value,
                reason=waited_out(reason, policy.wait_limit_s),
                finished_at=now,
            )
            return
        delay = policy.wait_delay_s(waited)
        log.info("jobs: %s %s waits (%s); again in %.0f s", job.stage, job.key, reason, delay)
        await self._finish(
            job,
            worker,
            status=JobState.PENDING.value,
            attempts=JobRow.attempts - 1,
            reason=reason,
            waiting_since=since,
            run_after=now + timedelta(seconds=delay),
        )

    async def _failed(self, job: JobRow, worker: str, policy: RetryPolicy, exc: Exception) -> None:
        if isinstance(exc, PermanentError):
            log.warning("jobs: %s %s failed: %s", job.stage, job.key, exc.reason)
            parked = describe(exc)
        elif job.attempts >= policy.max_attempts:
            log.warning("jobs: %s %s gave up: %s", job.stage, job.key, describe(exc))
            parked = f"gave up after {job.attempts} attempts: {describe(exc)}"[:MAX_REASON]
        else:
            delay = policy.delay_s(job.attempts)
            log.info(
                "jobs: %s %s attempt %d failed (%s); retry in %.1f s",
                job.stage,
                job.key,
                job.attempts,
                describe(exc),
                delay,
            )
            await self._finish(
                job,
                worker,
                status=JobState.PENDING.value,
                reason=describe(exc),
                run_after=self._clock() + timedelta(seconds=delay),
                waiting_since=None,
            )
            return
        await self._finish(
            job,
            worker,
            status=JobState.FAILED.value,
            reason=parked,
            waiting_since=None,
            finished_at=self._clock(),
        )

    async def _release(self, jobs: Sequence[JobRow], worker: str) -> None:
        """A worker cancelled mid-job gives its jobs back (the run does not count)."""
        if not jobs:
            return
        now = self._clock()
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(JobRow)
                .where(
                    JobRow.id.in_([j.id for j in jobs]),
                    JobRow.status == JobState.RUNNING.value,
                    JobRow.locked_by == worker,
                )
                .values(
                    status=JobState.PENDING.value,
                    locked_by=None,
                    attempts=JobRow.attempts - 1,
                    run_after=now,
                    updated_at=now,
                )
            )

    async def _heartbeat(self, running: Mapping[asyncio.Task[None], JobRow], worker: str) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            ids = [j.id for j in running.values()]
            if not ids:
                continue
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(
                        update(JobRow)
                        .where(JobRow.id.in_(ids), JobRow.locked_by == worker)
                        .values(heartbeat_at=self._clock())
                    )
            except Exception:
                log.exception("jobs: heartbeat failed; retrying")

    async def run_worker(
        self,
        handlers: Mapping[Stage, Handler],
        *,
        concurrency: int = 1,
        stop: asyncio.Event | None = None,
        name: str | None = None,
    ) -> None:
        stop = stop or asyncio.Event()
        me = name or worker_name()
        stages = list(handlers)
        running: dict[asyncio.Task[None], JobRow] = {}
        beat = asyncio.create_task(self._heartbeat(running, me), name=f"jobs-heartbeat-{me}")
        next_recovery = 0.0
        loop = asyncio.get_running_loop()

        def _done(task: asyncio.Task[None]) -> None:
            running.pop(task, None)
            self._wake.set()

        log.info("jobs: worker %s on %s, %d at a time", me, ",".join(stages), concurrency)
        try:
            while not stop.is_set():
                self._wake.clear()  # a defer or a finished job from here on wakes us
                claimed: list[JobRow] = []
                try:
                    if loop.time() >= next_recovery:
                        next_recovery = loop.time() + self.heartbeat_s
                        await self.recover_stalled(me)
                    free = concurrency - len(running)
                    if free > 0:
                        claimed = await self.claim(stages, me, free)
                except Exception:
                    log.exception("jobs: cannot reach the job table; retrying")
                for job in claimed:
                    task = asyncio.create_task(
                        self._run_one(job, handlers[job.stage], me), name=f"job-{job.id}"
                    )
                    running[task] = job
                    task.add_done_callback(_done)
                if claimed and len(running) < concurrency:
                    continue
                waiters = [
                    asyncio.ensure_future(stop.wait()),
                    asyncio.ensure_future(self._wake.wait()),
                ]
                await asyncio.wait(
                    waiters, timeout=self.poll_s, return_when=asyncio.FIRST_COMPLETED
                )
                for w in waiters:
                    w.cancel()
            if running:
                await asyncio.wait(list(running))
        except asyncio.CancelledError:
            jobs = list(running.values())
            for task in list(running):
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(jobs, me))
            raise
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat


def make_job_queue(
    db_url: str, sessions: async_sessionmaker[AsyncSession], **options: Any
) -> JobQueue:
    """PostgreSQL: procrastinate (worker processes on any host); otherwise the `jobs` table."""
    lease_s = options.pop("lease_s", None)
    if db_url.startswith(("postgresql", "postgres")):
        from hotline.core.jobs_procrastinate import ProcrastinateJobQueue

        if lease_s is not None:
            options.update(stall_s=lease_s, heartbeat_s=max(0.5, lease_s / 3))
        return ProcrastinateJobQueue(db_url, **options)
    if lease_s is not None:
        options["lease_s"] = lease_s
    return SqlJobQueue(sessions, **options)
