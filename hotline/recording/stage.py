"""The archive stage: a call's recording into the archive, as a job keyed by the recording
id. Rule: the job queue decides when to try again; the archiver tries once and the row
says how it went (archived: done; failed: parked with the row's reason; pending with one
more attempt on the row: a transient error, retried; pending with none: waiting, for the
switch's file, the archive disk or the database, which charges no attempt).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from hotline.core.errors import Unavailable
from hotline.core.jobs import JobQueue, JobState, PermanentError, Waiting, current_attempt
from hotline.recording import peaks, retention
from hotline.recording.archiver import ArchiveService
from hotline.recording.store import Recording, RecordingStore, Status
from hotline.telephony.model import CallRecord

log = logging.getLogger(__name__)

ARCHIVE = "archive"
ARCHIVE_VERSION = 1  # archiving has no versions: a recording is archived once


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ArchiveStage:
    def __init__(
        self,
        recordings: RecordingStore,
        archiver: ArchiveService,
        jobs: JobQueue,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.recordings = recordings
        self.archiver = archiver
        self.jobs = jobs
        self._clock = clock

    async def run(self, key: str) -> bool:
        """One archive job: True once the recording is archived (transcription follows)."""
        rec = await self.recordings.get(int(key)) if key.isdigit() else None
        if rec is None:
            raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
        tried = rec.attempts
        if rec.status is Status.PENDING:
            attempt = current_attempt()
            rec = await self.archiver.process_safely(
                rec, last_try=attempt.last if attempt is not None else None
            )
        if rec.status is Status.FAILED:
            raise PermanentError(rec.reason or "录音归档失败 (the recording could not be archived)")
        if rec.status is Status.PENDING and rec.attempts > tried:  # a transient error
            raise Unavailable(rec.reason or "录音归档暂时失败 (archiving failed for now)")
        if rec.status is Status.PENDING:  # the file, the disk or the database is not there
            raise Waiting(rec.reason or "录音文件尚未就绪 (the recording is not ready yet)")
        if rec.status is not Status.ARCHIVED:
            return False
        # waveform peaks made once, right after a verified archive (never fails the job)
        await peaks.ensure_peaks_after_archive(self.archiver.root, rec)
        return True

    async def on_call_ended(self, record: CallRecord) -> Recording | None:
        """After a call: a pending recording for its MixMonitor files and its archive job."""
        rec = await self.archiver.on_call_ended(record)
        if rec is not None:
            await self.jobs.defer(ARCHIVE, str(rec.id), version=ARCHIVE_VERSION)
        return rec

    async def resume(self) -> int:
        """At start: remove this instance's half-written files, and re-queue every pending
        recording with no live job (`sweep`). Returns how many were queued."""
        await self.archiver.recover()
        return await self.sweep()

    async def sweep(self) -> int:
        """Every pending recording without a live (pending or running) archive job gets one:
        a new job, or its parked one back with fresh attempts. Run at start and now and
        then, so that no pending recording is ever stuck. Returns how many were queued."""
        queued = 0
        for rec in await self.recordings.due(datetime.max.replace(tzinfo=UTC), limit=100_000):
            key = str(rec.id)
            if await self.jobs.defer(ARCHIVE, key, version=ARCHIVE_VERSION):
                queued += 1
                continue
            jobs = await self.jobs.status(ARCHIVE, key)
            if any(j.state in (JobState.PENDING, JobState.RUNNING) for j in jobs):
                continue
            for job in jobs:
                if job.state is JobState.FAILED and await self.jobs.retry(job.id):
                    queued += 1
        if queued:
            log.warning("archive: %d pending recording(s) had no live job; queued again", queued)
        return queued

    async def retry_recording(self, recording_id: int, actor: str) -> Recording:
        """A failed or pending recording back in the pipeline: the row to pending with fresh
        attempts (audited) and its archive job due now: the parked one back in the queue,
        a waiting one woken, or a new one."""
        rec = await retention.retry(self.recordings, recording_id, actor, self._clock())
        jobs = await self.jobs.status(ARCHIVE, str(recording_id))
        for job in jobs:
            if job.state is JobState.FAILED:
                await self.jobs.retry(job.id)
            elif job.state is JobState.PENDING:
                await self.jobs.run_now(job.id)
        if not jobs:
            await self.jobs.defer(ARCHIVE, str(recording_id), version=ARCHIVE_VERSION)
        return rec

    async def retry_parked(self, key: str, actor: str) -> bool:
        """The stage's own retry of a parked archive job: a failed recording goes back to
        pending first (`retry_recording`); False when there is none (the queue retries)."""
        rec = await self.recordings.get(int(key)) if key.isdigit() else None
        if rec is None or rec.status is not Status.FAILED:
            return False
        await self.retry_recording(rec.id, actor)
        return True
