"""The pipeline's jobs: what waits, runs, is done or parked, and putting a parked one back."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hotline.api.deps import Jobs, Supervisor, Wiring
from hotline.api.schemas import JobOut
from hotline.api.stages import retry_job, retry_jobs
from hotline.core.errors import Conflict
from hotline.core.jobs import JobState

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs/stats")
async def job_stats(user: Supervisor, jobs: Jobs) -> dict[str, Any]:
    """Queue depth per stage and state, and jobs done in the last hour (throughput)."""
    stats: dict[str, Any] = await jobs.stats()
    return stats


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(
    user: Supervisor,
    queue: Jobs,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    key: Annotated[str | None, Query(max_length=64, description="e.g. a recording id")] = None,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobOut]:
    found = await queue.status(stage, key, state=state, limit=limit)
    return [JobOut.model_validate(j) for j in found]


@router.get("/recordings/{recording_id}/jobs", response_model=list[JobOut])
async def recording_jobs(user: Supervisor, jobs: Jobs, recording_id: int) -> list[JobOut]:
    """Where one recording stands in the pipeline: archive, transcribe, …"""
    return [JobOut.model_validate(j) for j in await jobs.status(key=str(recording_id))]


@router.post("/jobs/retry")
async def post_jobs_retry(
    user: Supervisor,
    wiring: Wiring,
    stage: Annotated[str | None, Query(max_length=32, description="all stages if unset")] = None,
    state: JobState = JobState.FAILED,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    """Bulk retry: every parked (failed) job of a stage back to pending with fresh attempts,
    or every waiting (pending) job due now, e.g. after an outage was fixed."""
    n = await retry_jobs(wiring, user.name, stage=stage, state=state, limit=limit)
    return {"stage": stage, "state": state.value, "retried": n}


@router.post("/jobs/{job_id}/retry")
async def post_job_retry(user: Supervisor, wiring: Wiring, job_id: int) -> dict[str, Any]:
    """A parked (failed) job back to pending, with a fresh set of attempts; for an archive
    job, its failed recording goes back to pending too."""

    if not await retry_job(wiring, job_id, user.name):
        raise Conflict(
            f"作业 {job_id} 不是失败状态，无需重试 (job {job_id} is not failed; "
            "only parked jobs can be retried: GET /api/jobs?state=failed)"
        )
    return {"id": job_id, "state": JobState.PENDING.value}
