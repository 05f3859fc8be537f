"""The job queue on procrastinate (PostgreSQL). Rule: only this module imports procrastinate.

One procrastinate task per stage ("hotline.<stage>", queue <stage>), lock and queueing lock
"<stage>:<key>:<version>". A job is deferred in one transaction with its row in our
`job_refs` table (unique (stage, key, version)), so the same job is never deferred twice,
whatever its state. procrastinate runs, retries (our `_Backoff` retry strategy) and parks
it; `job_refs` keeps the reason a person reads, which procrastinate does not store.

Stalled jobs: procrastinate workers renew a heartbeat (procrastinate_workers); every
worker here also runs `retry_stalled`, which takes `JobManager.get_stalled_jobs` (jobs
"doing" on a worker whose heartbeat is older than `stall_s`) and hands them back with
`JobManager.retry_job`, one worker at a time (an advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from procrastinate import App, JobContext, PsycopgConnector, RetryDecision
from procrastinate import exceptions as pexc
from procrastinate import jobs as pjobs
from procrastinate.retry import BaseRetryStrategy
from psycopg.rows import dict_row

from hotline.core.errors import Unavailable
from hotline.core.jobs import (
    MAX_REASON,
    Attempt,
    Handler,
    JobState,
    JobStatus,
    PermanentError,
    RetryPolicy,
    Stage,
    describe,
    empty_stats,
    is_waiting,
    run_handler,
    waited_out,
    worker_lost,
    worker_name,
)

log = logging.getLogger(__name__)

TASK_PREFIX = "hotline."
_STALL_LOCK = 0x686F746C696E65  # pg advisory lock id: one stalled-job sweep at a time
_SCHEMA_LOCK = _STALL_LOCK + 1
_STATES = {
    "todo": JobState.PENDING,
    "doing": JobState.RUNNING,
    "aborting": JobState.RUNNING,
    "succeeded": JobState.DONE,
    "failed": JobState.FAILED,
    "cancelled": JobState.FAILED,
    "aborted": JobState.FAILED,
}


def libpq_dsn(url: str) -> str:
    """postgresql+asyncpg://… (SQLAlchemy) → postgresql://… (libpq)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}" if sep else url


class _Parked(Exception):
    """Raised by a stage task to make procrastinate park the job (no retry)."""


class _Retry(Exception):
    def __init__(self, attempt: int) -> None:
        super().__init__(attempt)
        self.attempt = attempt


class _Wait(Exception):
    """Raised by a stage task that waits: run again after `delay_s`, no attempt charged."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(delay_s)
        self.delay_s = delay_s


class _Backoff(BaseRetryStrategy):
    """procrastinate's retry strategy for our tasks: exponential, parked on `_Parked`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def get_retry_decision(
        self, *, exception: BaseException, job: pjobs.Job
    ) -> RetryDecision | None:
        if isinstance(exception, _Parked):
            return None
        if isinstance(exception, _Wait):
            return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=exception.delay_s))
        attempt = exception.attempt if isinstance(exception, _Retry) else job.attempts + 1
        delay = self.policy.delay_s(attempt)
        return RetryDecision(retry_at=datetime.now(UTC) + timedelta(seconds=delay))


class ProcrastinateJobQueue:
    def __init__(
        self,
        dsn: str,
        *,
        retry: RetryPolicy | None = None,
        retry_by_stage: Mapping[Stage, RetryPolicy] | None = None,
        heartbeat_s: float = 10.0,
        stall_s: float = 30.0,
        poll_s: float = 5.0,
        pool_size: int = 4,
    ) -> None:
        self.retry_policy = retry or RetryPolicy()
        self.retry_by_stage = dict(retry_by_stage or {})
        self.heartbeat_s = heartbeat_s
        self.stall_s = stall_s
        self.poll_s = poll_s
        self._app = App(
            connector=PsycopgConnector(conninfo=libpq_dsn(dsn), min_size=1, max_size=pool_size)
        )
        self._handlers: dict[Stage, Handler] = {}
        self._open = False
        self._opening = asyncio.Lock()

    def policy_for(self, stage: Stage) -> RetryPolicy:
        return self.retry_by_stage.get(stage, self.retry_policy)

    @property
    def app(self) -> App:
        return self._app

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Open the pool and apply procrastinate's schema if it is not there yet."""
        async with self._opening:
            if self._open:
                return
            try:
                await self._app.open_async()
                await self._ensure_schema()
            except (psycopg.Error, pexc.ConnectorException) as exc:
                raise Unavailable(
                    f"the job queue's database cannot be used ({exc}); check "
                    "HOTLINE_DATABASE_URL and that PostgreSQL is running"
                ) from exc
            self._open = True

    async def close(self) -> None:
        if self._open:
            await self._app.close_async()
            self._open = False

    async def _ensure_schema(self) -> None:
        async with self._conn() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
            cur = await conn.execute(
                "SELECT to_regclass('procrastinate_jobs') IS NOT NULL, "
                "to_regproc('procrastinate_retry_job_v2') IS NOT NULL, "
                "to_regclass('job_refs') IS NOT NULL"
            )
            row = await cur.fetchone()
            assert row is not None
            applied, current, refs = row
            if not refs:
                raise Unavailable(
                    "the job_refs table is missing; run `hotline migrate` first",
                    error_id="jobs_not_migrated",
                )
            if not applied:
                log.info("jobs: applying procrastinate's schema")
                await conn.execute(self._app.schema_manager.get_schema())
            elif not current:
                raise Unavailable(
                    "procrastinate's schema in this database is older than the installed "
                    "procrastinate; apply its migrations (procrastinate schema --migrate, "
                    "see procrastinate's docs 'Migrations')",
                    error_id="jobs_schema_outdated",
                )

    def _conn(self) -> contextlib.AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        connector = self._app.connector
        assert isinstance(connector, PsycopgConnector)
        return connector.pool.connection()

    async def _query(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        await self.open()
        async with self._conn() as conn, conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(sql, params)
            return await cur.fetchall()

    # ------------------------------------------------------------------ protocol

    async def defer(
        self, stage: Stage, key: str, *, version: int, run_after: datetime | None = None
    ) -> bool:
        await self.open()
        lock = f"{stage}:{key}:{version}"
        try:
            async with self._conn() as conn, conn.transaction():
                job_id = await self._app.configure_task(
                    TASK_PREFIX + stage,
                    queue=stage,
                    lock=lock,
                    queueing_lock=lock,
                    schedule_at=run_after,
                    connection=conn,
                ).defer_async(key=key, version=version)
                cur = await conn.execute(
                    "INSERT INTO job_refs (job_id, stage, key, version) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (stage, key, version) DO NOTHING RETURNING job_id",
                    [job_id, stage, key, version],
                )
                if await cur.fetchone() is None:
                    raise _Exists
        except (_Exists, pexc.AlreadyEnqueued):
            return False
        return True

    async def status(
        self,
        stage: Stage | None = None,
        key: str | None = None,
        *,
        state: JobState | None = None,
        limit: int = 500,
    ) -> list[JobStatus]:
        wanted = [k for k, v in _STATES.items() if v is state] if state is not None else None
        rows = await self._query(
            """
            SELECT j.id, r.stage, r.key, r.version, j.status::text AS status, j.attempts,
                   j.scheduled_at, r.reason, r.waiting_since, r.attempts_base,
                   (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS created,
                   (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS updated
              FROM job_refs r JOIN procrastinate_jobs j ON j.id = r.job_id
             WHERE (%(stage)s::text IS NULL OR r.stage = %(stage)s::text)
               AND (%(key)s::text IS NULL OR r.key = %(key)s::text)
               AND (%(states)s::text[] IS NULL OR j.status::text = ANY(%(states)s::text[]))
             ORDER BY j.id DESC
             LIMIT %(limit)s
            """,
            {"stage": stage, "key": key, "states": wanted, "limit": limit},
        )
        rows = list(reversed(rows))
        return [
            JobStatus(
                id=r["id"],
                stage=r["stage"],
                key=r["key"],
                version=r["version"],
                state=_STATES.get(r["status"], JobState.FAILED),
                reason=r["reason"],
                # procrastinate counts a run when it ends (finished or retried); runs
                # before a retry by hand and waits are in attempts_base
                attempts=max(0, r["attempts"] - r["attempts_base"])
                + (1 if r["status"] == "doing" else 0),
                created_at=r["created"],
                updated_at=r["updated"],
                run_after=r["scheduled_at"] or r["created"],
                waiting_since=r["waiting_since"],
            )
            for r in rows
        ]

    async def stats(self) -> dict[str, Any]:
        depth = await self._query(
            "SELECT r.stage, j.status::text AS status, count(*) AS n FROM job_refs r "
            "JOIN procrastinate_jobs j ON j.id = r.job_id GROUP BY r.stage, j.status",
            {},
        )
        done = await self._query(
            "SELECT r.stage, count(DISTINCT e.job_id) AS n FROM procrastinate_events e "
            "JOIN job_refs r ON r.job_id = e.job_id "
            "WHERE e.type = 'succeeded' AND e.at >= now() - interval '1 hour' GROUP BY r.stage",
            {},
        )
        return empty_stats(
            [(r["stage"], _STATES.get(r["status"], JobState.FAILED), r["n"]) for r in depth],
            {r["stage"]: r["n"] for r in done},
        )

    async def retry(self, job_id: int) -> bool:
        await self.open()
        async with self._conn() as conn:
            # fresh attempts: count from the attempts procrastinate's retry will leave
            cur = await conn.execute(
                "UPDATE job_refs r SET attempts_base = j.attempts + 1, waiting_since = NULL "
                "FROM procrastinate_jobs j "
                "WHERE r.job_id = j.id AND j.id = %s AND j.status = 'failed' RETURNING r.job_id",
                [job_id],
            )
            if await cur.fetchone() is None:
                return False
        try:
            await self._app.job_manager.retry_job_by_id_async(job_id, retry_at=datetime.now(UTC))
        except pexc.ConnectorException:
            return False
        return True

    async def run_now(self, job_id: int) -> bool:
        rows = await self._query(
            "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = %(id)s "
            "AND status = 'todo' AND id IN (SELECT job_id FROM job_refs) RETURNING id",
            {"id": job_id},
        )
        return bool(rows)

    async def _wait(self, job_id: int, policy: RetryPolicy, reason: str) -> float | None:
        """Note a wait (no attempt: the retry procrastinate counts is taken off again);
        the delay until the next run, or None when the job has waited too long."""
        rows = await self._query(
            "UPDATE job_refs SET waiting_since = coalesce(waiting_since, now()), "
            "reason = %(reason)s WHERE job_id = %(id)s "
            "RETURNING extract(epoch FROM now() - waiting_since) AS waited",
            {"id": job_id, "reason": reason[:MAX_REASON]},
        )
        waited = float(rows[0]["waited"]) if rows else 0.0
        if policy.waited_too_long(waited):
            return None
        await self._query(
            "UPDATE job_refs SET attempts_base = attempts_base + 1 WHERE job_id = %(id)s "
            "RETURNING job_id",
            {"id": job_id},
        )
        return policy.wait_delay_s(waited)

    async def retry_stalled(self) -> int:
        """Hand back the jobs of workers whose heartbeat stopped (procrastinate's
        `get_stalled_jobs` + `retry_job`); park those that used their last attempt."""
        await self.open()
        manager = self._app.job_manager
        n = 0
        async with self._conn() as conn, conn.transaction():
            cur = await conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS mine", [_STALL_LOCK])
            row = await cur.fetchone()
            if row is None or not row[0]:
                return 0
            stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=self.stall_s)
            for job in stalled:
                if not job.task_name.startswith(TASK_PREFIX) or job.id is None:
                    continue
                base = await self._attempts_base(job.id)
                lost = worker_lost(self.stall_s)
                runs = job.attempts - base + 1
                policy = self.policy_for(job.task_name.removeprefix(TASK_PREFIX))
                if runs >= policy.max_attempts:
                    await self._note(job.id, f"gave up after {runs} attempts: {lost}")
                    await manager.finish_job(job, pjobs.Status.FAILED, delete_job=False)
                else:
                    await self._note(job.id, lost)
                    await manager.retry_job(job)
                n += 1
        if n:
            log.warning("jobs: %d job(s) of a stopped worker taken back", n)
        return n

    async def _attempts_base(self, job_id: int) -> int:
        rows = await self._query(
            "SELECT attempts_base FROM job_refs WHERE job_id = %(id)s", {"id": job_id}
        )
        return int(rows[0]["attempts_base"]) if rows else 0

    async def _note(self, job_id: int, reason: str | None) -> None:
        await self._query(
            "UPDATE job_refs SET reason = %(reason)s WHERE job_id = %(id)s RETURNING job_id",
            {"id": job_id, "reason": reason[:MAX_REASON] if reason else None},
        )

    def _register(self, stage: Stage) -> None:
        name = TASK_PREFIX + stage
        if name in self._app.tasks:
            return

        async def run_waiting(
            job: pjobs.Job, key: str, version: int, attempt: int, policy: RetryPolicy
        ) -> None:
            assert job.id is not None
            try:
                await run_handler(self._handlers[stage], key, Attempt(attempt, policy.max_attempts))
            except Exception as exc:
                if not is_waiting(exc):
                    raise
                reason = describe(exc)
                delay = await self._wait(job.id, policy, reason)
                if delay is None:
                    parked = waited_out(reason, policy.wait_limit_s)
                    log.warning("jobs: %s %s v%d %s", stage, key, version, parked)
                    await self._note(job.id, parked)
                    raise _Parked(parked) from exc
                log.info("jobs: %s %s waits (%s); again in %.0f s", stage, key, reason, delay)
                raise _Wait(delay) from exc

        async def run(context: JobContext, key: str, version: int) -> None:
            job = context.job
            assert job.id is not None
            attempt = job.attempts - await self._attempts_base(job.id) + 1
            policy = self.policy_for(stage)
            try:
                await run_waiting(job, key, version, attempt, policy)
            except (_Wait, _Parked):
                raise
            except PermanentError as exc:
                log.warning("jobs: %s %s v%d failed: %s", stage, key, version, exc.reason)
                await self._note(job.id, describe(exc))
                raise _Parked(exc.reason) from exc
            except Exception as exc:
                if attempt >= policy.max_attempts:
                    reason = f"gave up after {attempt} attempts: {describe(exc)}"
                    log.warning("jobs: %s %s v%d %s", stage, key, version, reason)
                    await self._note(job.id, reason)
                    raise _Parked(reason) from exc
                await self._note(job.id, describe(exc))
                raise _Retry(attempt) from exc
            await self._query(
                "UPDATE job_refs SET reason = NULL, waiting_since = NULL WHERE job_id = %(id)s "
                "RETURNING job_id",
                {"id": job.id},
            )

        self._app.task(
            name=name, queue=stage, pass_context=True, retry=_Backoff(self.policy_for(stage))
        )(run)

    async def _sweep_stalled(self) -> None:
        while True:
            await asyncio.sleep(max(0.2, self.stall_s / 2))
            try:
                await self.retry_stalled()
            except Exception:
                log.exception("jobs: stalled-job sweep failed; retrying")

    async def run_worker(
        self,
        handlers: Mapping[Stage, Handler],
        *,
        concurrency: int = 1,
        stop: asyncio.Event | None = None,
        name: str | None = None,
    ) -> None:
        await self.open()
        for stage, handler in handlers.items():
            self._handlers[stage] = handler
            self._register(stage)
        worker = asyncio.create_task(
            self._app.run_worker_async(
                queues=list(handlers),
                concurrency=concurrency,
                name=name or worker_name(),
                install_signal_handlers=False,
                update_heartbeat_interval=self.heartbeat_s,
                stalled_worker_timeout=self.stall_s,
                fetch_job_polling_interval=self.poll_s,
            ),
            name="procrastinate-worker",
        )
        sweep = asyncio.create_task(self._sweep_stalled(), name="procrastinate-stalled")
        waiters: set[asyncio.Future[Any]] = {worker}
        if stop is not None:
            waiters.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sweep.cancel()
            for w in waiters:
                if w is not worker:
                    w.cancel()
            if not worker.done():
                worker.cancel()  # procrastinate stops gracefully: running jobs finish
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            with contextlib.suppress(asyncio.CancelledError):
                await sweep


class _Exists(Exception):
    pass
