"""The archive stage as a job: the job queue is the one retry scheduler (its backoff, the
archive stage's max_attempts), the recording's row ends as the job does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import InvalidInput
from hotline.core.jobs import JobRow, JobState, JobStatus, RetryPolicy, SqlJobQueue, Waiting
from hotline.core.pipeline import Pipeline, Stage
from hotline.recording import peaks
from hotline.recording.audio import AudioError
from hotline.recording.stage import ARCHIVE
from hotline.recording.store import Status
from tests.recording import audio_fixtures as af
from tests.recording.test_archiver import FakeAudio, call


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> af.AudioKit:
    return af.session_kit(tmp_path_factory.getbasetemp())


async def job_when(jobs: SqlJobQueue, ready: object, timeout: float = 20.0) -> JobStatus:
    async with asyncio.timeout(timeout):
        while True:
            (job,) = await jobs.status(ARCHIVE)
            if ready(job):  # type: ignore[operator]
                return job
            await asyncio.sleep(0.02)


async def test_transient_errors_back_off_then_fail(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    now = [datetime(2026, 11, 23, 2, 1, tzinfo=UTC)]
    fake = FakeAudio(AudioError("转码进程被中断 (killed by signal 9)", transient=True))
    h = af.harness(engine, tmp_path, audio_tools=fake, max_attempts=3)
    jobs = SqlJobQueue(
        db.session_factory(engine),
        retry_by_stage={ARCHIVE: RetryPolicy(max_attempts=3, backoff_s=30)},
        poll_s=0.02,
        clock=lambda: now[0],
    )
    stage = af.stage(h, jobs)
    kit.call(h.spool / "20261123", "1790000000.1")
    rec = await stage.on_call_ended(call())
    assert rec is not None
    pipeline = Pipeline([Stage(ARCHIVE, stage.run)], jobs)
    worker = asyncio.create_task(jobs.run_worker(pipeline.handlers()))
    try:
        delays = []
        for attempts in (1, 2):
            job = await job_when(
                jobs, lambda j, n=attempts: j.attempts == n and j.state == "pending"
            )
            after = await h.store.get(rec.id)
            assert after is not None and after.status == Status.PENDING
            assert after.attempts == attempts and "中断" in (after.reason or "")
            delays.append((job.run_after - now[0]).total_seconds())  # type: ignore[operator]
            now[0] = job.run_after  # type: ignore[assignment]
        assert delays[0] == pytest.approx(30, abs=2) and delays[1] == pytest.approx(60, abs=2)
        job = await job_when(jobs, lambda j: j.state == JobState.FAILED)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert job.attempts == 3 and "中断" in (job.reason or "")
    rec = await h.store.get(rec.id)  # type: ignore[assignment]
    assert rec is not None
    assert rec.status == Status.FAILED and rec.attempts == 3
    assert rec.reason is not None and "中断" in rec.reason
    assert h.topics() == ["recording/failed"]


async def test_a_parked_archive_job_is_retried_with_its_recording(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    jobs = SqlJobQueue(db.session_factory(engine), poll_s=0.02)
    stage = af.stage(h, jobs)
    day = h.spool / "20261123"
    day.mkdir(parents=True)
    (day / "1790000000.1.wav").write_bytes(b"not audio" * 100)
    rec = await stage.on_call_ended(call())
    assert rec is not None
    fed: list[str] = []

    async def transcribe(key: str) -> bool:
        fed.append(key)
        return True

    pipeline = Pipeline(
        [
            Stage(ARCHIVE, stage.run, feeds=("transcribe",), retry=stage.retry_parked),
            Stage("transcribe", transcribe, version=7),
        ],
        jobs,
    )
    worker = asyncio.create_task(jobs.run_worker(pipeline.handlers()))
    try:
        job = await job_when(jobs, lambda j: j.state == JobState.FAILED)
        assert "不是音频文件" in (job.reason or "")
        assert (await h.store.get(rec.id)).status == Status.FAILED  # type: ignore[union-attr]
        kit.call(day, "1790000000.1", legs=False)
        assert await pipeline.retry_job(job.id, "chen")
        job = await job_when(jobs, lambda j: j.state == JobState.DONE)
        async with asyncio.timeout(10):
            while not fed:
                await asyncio.sleep(0.02)
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
    assert (await h.store.get(rec.id)).status == Status.ARCHIVED  # type: ignore[union-attr]
    assert fed == [str(rec.id)]
    (t,) = await jobs.status("transcribe")
    assert t.version == 7  # the fed stage's own version
    assert not await pipeline.retry_job(job.id, "chen")  # not parked any more


async def test_an_archived_recording_has_its_peaks_at_once(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    stage = af.stage(h, SqlJobQueue(db.session_factory(engine), poll_s=0.02))
    kit.call(h.spool / "20261123", "1790000000.1")
    rec = await stage.on_call_ended(call())
    assert rec is not None
    assert await stage.run(str(rec.id))
    after = await h.store.get(rec.id)
    assert after is not None and after.status == Status.ARCHIVED and after.path
    assert peaks.peaks_path(h.root / after.path).is_file()


async def test_a_missing_recording_folder_is_waited_for_without_attempts(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    """The switch's recording folder (an NFS mount) is gone for a while: the recording waits,
    however long, charging no attempt, and is archived once the folder is back."""
    h = af.harness(engine, tmp_path, wait_for_file_s=0)  # a missing *file* would fail at once
    stage = af.stage(h, SqlJobQueue(db.session_factory(engine), poll_s=0.02))
    rec = await stage.on_call_ended(call())
    assert rec is not None
    for _ in range(3):
        with pytest.raises(Waiting, match="录音目录"):
            await stage.run(str(rec.id))
    waiting = await h.store.get(rec.id)
    assert waiting is not None and waiting.status == Status.PENDING and waiting.attempts == 0
    kit.call(h.spool / "20261123", "1790000000.1")  # the mount is back
    assert await stage.run(str(rec.id))
    done = await h.store.get(rec.id)
    assert done is not None and done.status == Status.ARCHIVED


async def test_the_sweep_requeues_pending_recordings_that_have_no_live_job(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    h = af.harness(engine, tmp_path)
    jobs = SqlJobQueue(db.session_factory(engine), poll_s=0.02)
    stage = af.stage(h, jobs)
    parked = await stage.on_call_ended(call("1790000000.1"))
    orphan = await h.service.on_call_ended(call("1790000000.2"))  # its job was never queued
    live = await stage.on_call_ended(call("1790000000.3"))
    assert parked is not None and orphan is not None and live is not None
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(
            update(JobRow)
            .where(JobRow.key == str(parked.id))
            .values(status=JobState.FAILED.value, attempts=5, reason="gave up after 5 attempts")
        )
    assert await stage.sweep() == 2
    by_key = {j.key: j for j in await jobs.status(ARCHIVE)}
    assert by_key[str(parked.id)].state == JobState.PENDING
    assert by_key[str(parked.id)].attempts == 0
    assert by_key[str(orphan.id)].state == JobState.PENDING
    assert by_key[str(live.id)].state == JobState.PENDING
    assert len(by_key) == 3
    assert await stage.sweep() == 0  # every pending recording has its live job now


async def test_retry_accepts_a_pending_recording_and_bulk_retry_takes_a_stage(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    h = af.harness(engine, tmp_path)
    now = [datetime(2026, 11, 23, 2, 1, tzinfo=UTC)]
    jobs = SqlJobQueue(db.session_factory(engine), poll_s=0.02, clock=lambda: now[0])
    stage = af.stage(h, jobs)
    pipeline = Pipeline([Stage(ARCHIVE, stage.run, retry=stage.retry_parked)], jobs)
    waiting = await stage.on_call_ended(call("1790000000.1"))
    assert waiting is not None
    later = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(update(JobRow).values(run_after=later, waiting_since=now[0]))
    rec = await stage.retry_recording(waiting.id, "chen")  # a pending recording: accepted
    assert rec.status == Status.PENDING and rec.attempts == 0
    (job,) = await jobs.status(ARCHIVE)
    assert job.run_after == now[0]  # woken: due now
    # bulk: two parked jobs of the stage back at once
    other = await stage.on_call_ended(call("1790000000.2"))
    assert other is not None
    async with db.session_factory(engine)() as session, session.begin():
        await session.execute(update(JobRow).values(status=JobState.FAILED.value, attempts=5))
    assert await pipeline.retry_many("chen", stage=ARCHIVE, state=JobState.FAILED) == 2
    assert {j.state for j in await jobs.status(ARCHIVE)} == {JobState.PENDING}
    assert await pipeline.retry_many("chen", stage=ARCHIVE, state=JobState.FAILED) == 0
    with pytest.raises(InvalidInput):
        await pipeline.retry_many("chen", stage="nonsense")
