"""The pipeline's table: which stages run after a call ends and what feeds what. Rule: the
api package only wires; each handler belongs to the package that owns the stage.

    archive (recording) -> transcribe (asr) -> score (quality)
                                            -> ticket (tickets)

Adding a stage is one row here and one handler in its package.
"""

from __future__ import annotations

import logging
from typing import Protocol

from hotline.asr.stage import TRANSCRIBE, TranscribeStage, model_ready
from hotline.core.jobs import Handler, JobState
from hotline.core.pipeline import Pipeline, Stage
from hotline.core.report_jobs import REPORT, REPORT_VERSION, ReportJobs
from hotline.core.settings import Settings
from hotline.quality.stage import SCORE, ScoreStage
from hotline.recording.stage import ARCHIVE, ARCHIVE_VERSION, ArchiveStage
from hotline.recording.store import Recording
from hotline.tickets.stage import TICKET, TicketStage

log = logging.getLogger(__name__)


def stage_table(
    *,
    archive: ArchiveStage,
    transcribe: TranscribeStage,
    score: ScoreStage,
    ticket: TicketStage,
    reports: ReportJobs,
    version: int,
) -> list[Stage]:
    """The stages; `version` (the ASR pipeline version) is what transcripts and all that
    is made from them are kept per. Beside the call's stages, `report`: a report over a
    large range, made by the same workers instead of inside a request."""
    return [
        Stage(
            ARCHIVE,
            archive.run,
            feeds=(TRANSCRIBE,),
            version=ARCHIVE_VERSION,
            retry=archive.retry_parked,
        ),
        Stage(TRANSCRIBE, transcribe.run, feeds=(SCORE, TICKET), version=version),
        Stage(SCORE, score.run, version=version),
        Stage(TICKET, ticket.run, version=version),
        Stage(REPORT, reports.run, version=REPORT_VERSION),
    ]


class Wired(Protocol):
    """The parts of the container the pipeline's entry points use."""

    @property
    def settings(self) -> Settings: ...

    @property
    def pipeline(self) -> Pipeline: ...

    @property
    def archive(self) -> ArchiveStage: ...


def active_handlers(c: Wired) -> dict[str, Handler]:
    """The stages this process can run: without an ASR model, transcription jobs wait."""
    without = () if model_ready(c.settings.asr.model_dir) else (TRANSCRIBE,)
    return c.pipeline.handlers(without=without)


async def retry_recording(c: Wired, recording_id: int, actor: str) -> Recording:
    """A failed recording back in the pipeline (see ArchiveStage.retry_recording)."""
    return await c.archive.retry_recording(recording_id, actor)


async def retry_job(c: Wired, job_id: int, actor: str) -> bool:
    """A parked job back in the queue with fresh attempts (an archive job's failed
    recording too); False when the job is not parked."""
    return await c.pipeline.retry_job(job_id, actor)


async def retry_jobs(
    c: Wired, actor: str, *, stage: str | None, state: JobState, limit: int = 1000
) -> int:
    """Bulk retry by stage and state (see Pipeline.retry_many)."""
    return await c.pipeline.retry_many(actor, stage=stage, state=state, limit=limit)
