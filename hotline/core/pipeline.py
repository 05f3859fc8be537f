"""The pipeline's spine: one table of stages. Rule: what runs after a stage is the table's
business, never the handler's; a stage's handler only says whether its output is there.

A row names a stage (also its job queue), the handler that runs one job of it, the stages
it feeds and the version their jobs carry. `Pipeline.handlers()` turns the table into the
job queue's handlers: when a stage's handler succeeds and returns True, each stage it
feeds is deferred with the same key. Adding a stage is one row and one handler; the
handlers live with the packages that own them (recording: archive, asr: transcribe,
quality: score, tickets: ticket) and the composition root builds the table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from hotline.core.errors import InvalidInput
from hotline.core.jobs import Handler, JobQueue, JobState, JobStatus

StageHandler = Callable[[str], Awaitable[bool]]
"""Runs one job of a stage for `key` (a recording id, as text). True: its output is there,
run the stages it feeds; False: nothing follows for this key (e.g. a recording purged
before it was archived). `PermanentError` parks the job; other errors are retried."""

RetryHook = Callable[[str, str], Awaitable[bool]]
"""`(key, actor)`: put a parked job of this stage back in the stage's own way (e.g. a failed
recording back to pending first); False to let the job queue retry the job as it is."""


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    handler: StageHandler
    feeds: tuple[str, ...] = ()
    version: int = 1  # the version its jobs are deferred with (bump: everything runs again)
    retry: RetryHook | None = None


class Pipeline:
    """The table of stages over a job queue."""

    def __init__(self, stages: Sequence[Stage], jobs: JobQueue) -> None:
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"a stage is named twice in {names}")
        unknown = [f for s in stages for f in s.feeds if f not in names]
        if unknown:
            raise ValueError(f"stages {unknown} are fed but not in the table {names}")
        self.stages: dict[str, Stage] = {s.name: s for s in stages}
        self.jobs = jobs

    async def start(self, stage: str, key: str) -> bool:
        """Queue `stage` for `key` (at the stage's version); False if that job exists."""
        return await self.jobs.defer(stage, key, version=self.stages[stage].version)

    def handlers(self, without: Iterable[str] = ()) -> dict[str, Handler]:
        """The job queue's handlers: each stage's, then the stages it feeds. `without`: stages
        this process does not run (their jobs wait for a process that does)."""
        skip = set(without)
        return {name: self._job(stage) for name, stage in self.stages.items() if name not in skip}

    def _job(self, stage: Stage) -> Handler:
        async def run(key: str) -> None:
            if await stage.handler(key):
                for name in stage.feeds:
                    await self.start(name, key)

        return run

    async def retry_job(self, job_id: int, actor: str) -> bool:
        """A parked job back in the queue with fresh attempts (through its stage's own retry
        when it has one); False when the job is not parked."""
        failed = {j.id: j for j in await self.jobs.status(state=JobState.FAILED, limit=1000)}
        job = failed.get(job_id)
        if job is None:
            return await self.jobs.retry(job_id)
        return await self._retry(job, actor)

    async def _retry(self, job: JobStatus, actor: str) -> bool:
        stage = self.stages.get(job.stage)
        if stage is not None and stage.retry is not None and await stage.retry(job.key, actor):
            return True
        return await self.jobs.retry(job.id)

    async def retry_many(
        self,
        actor: str,
        *,
        stage: str | None = None,
        state: JobState = JobState.FAILED,
        limit: int = 1000,
    ) -> int:
        """Bulk: every parked job (state failed) of `stage` (None: all stages) back in the
        queue with fresh attempts, or every waiting job (state pending) due now. Returns
        how many were put back."""
        if stage is not None and stage not in self.stages:
            raise InvalidInput(
                f"没有名为 {stage} 的环节，可选：{', '.join(self.stages)} "
                f"(unknown stage {stage!r}; choose among {', '.join(self.stages)})",
                error_id="unknown_stage",
            )
        if state not in (JobState.FAILED, JobState.PENDING):
            raise InvalidInput(
                "只能批量重试失败(failed)或等待中(pending)的作业 "
                "(only failed or pending jobs can be retried in bulk)",
                error_id="invalid_state",
            )
        n = 0
        for job in await self.jobs.status(stage, state=state, limit=limit):
            if state is JobState.FAILED:
                n += await self._retry(job, actor)
            else:
                n += await self.jobs.run_now(job.id)
        return n
