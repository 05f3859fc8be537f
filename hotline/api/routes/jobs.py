"""The pipeline's jobs: what waits, runs, is done or parked, and putting a parked one back."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from hotline.api.auth import Supervisor
from hotline.api.stages import retry_job
from hotline.core.errors import Conflict
from hotline.core.jobs import JobState

router = APIRouter(prefix="/api", tags=["jobs"])


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    stage: str
    key: str
    version: int
    state: JobState
    reason: str | None
    attempts: int
    created_at: datetime | None
    updated_at: datetime | None
    run_after: datetime | None


@router.get("/jobs/stats")
async def job_stats(request: Request, user: Supervisor) -> dict[str, Any]:
    """Queue depth per stage and state, and jobs done in the last hour (throughput)."""
    stats: dict[str, Any] = await request.app.state.container.jobs.stats()
    return stats


@router.get("/jobs", response_model=list[JobOut])
async def list_jobs(
    request: Request,
    user: Supervisor,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    key: Annotated[str | None, Query(max_length=64, description="e.g. a recording id")] = None,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobOut]:
    jobs = await request.app.state.container.jobs.status(stage, key, state=state, limit=limit)
    return [JobOut.model_validate(j) for j in jobs]


@router.get("/recordings/{recording_id}/jobs", response_model=list[JobOut])
async def recording_jobs(request: Request, user: Supervisor, recording_id: int) -> list[JobOut]:
    """Where one recording stands in the pipeline: archive, transcribe, …"""
    jobs = await request.app.state.container.jobs.status(key=str(recording_id))
    return [JobOut.model_validate(j) for j in jobs]


@router.post("/jobs/{job_id}/retry")
async def post_job_retry(request: Request, user: Supervisor, job_id: int) -> dict[str, Any]:
    """A parked (failed) job back to pending, with a fresh set of attempts; for an archive
    job, its failed recording goes back to pending too."""

    if not await retry_job(request.app.state.container, job_id, user.name):
        raise Conflict(
            f"作业 {job_id} 不是失败状态，无需重试 (job {job_id} is not failed; "
            "only parked jobs can be retried: GET /api/jobs?state=failed)"
        )
    return {"id": job_id, "state": JobState.PENDING.value}
