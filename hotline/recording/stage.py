"""The archive stage: a call's recording into the archive, as a job keyed by the recording
id. Rule: the job queue decides when to try again; the archiver tries once and the row
says how it went (archived: done; failed: parked with the row's reason; pending: wait).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from hotline.core.errors import Unavailable
from hotline.core.jobs import JobQueue, JobState, PermanentError, current_attempt
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
        if rec.status is Status.PENDING:
            attempt = current_attempt()
            rec = await self.archiver.process_safely(
                rec, last_try=attempt.last if attempt is not None else None
            )
        if rec.status is Status.FAILED:
            raise PermanentError(rec.reason or "录音归档失败 (the recording could not be archived)")
        if rec.status is Status.PENDING:  # file not there yet, or a transient error
            raise Unavailable(rec.reason or "录音文件尚未就绪 (the recording is not ready yet)")
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
        """At start: remove half-written files, and queue an archive job for every pending
        recording (a no-op for those that have one). Returns how many were queued."""
        await self.archiver.recover()
        queued = 0
        for rec in await self.recordings.due(datetime.max.replace(tzinfo=UTC), limit=100_000):
            queued += await self.jobs.defer(ARCHIVE, str(rec.id), version=ARCHIVE_VERSION)
        return queued

    async def retry_recording(self, recording_id: int, actor: str) -> Recording:
        """A failed recording back in the pipeline: the row to pending (audited) and its
        parked archive job back in the queue (or a new one)."""
        rec = await retention.retry(self.recordings, recording_id, actor, self._clock())
        parked = await self.jobs.status(ARCHIVE, str(recording_id), state=JobState.FAILED)
        for job in parked:
            await self.jobs.retry(job.id)
        if not parked:
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
