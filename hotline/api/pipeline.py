"""The pipeline's stages after a call ends, as job handlers: archive -> transcribe ->
score and ticket. Rule: each stage is idempotent and defers the next; the handlers reach
the parts through the container, which only the composition root (app.py) builds.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hotline.asr.service import NO_MODEL_MESSAGE, TranscriptionFailed
from hotline.asr.transcript import Transcript
from hotline.asr.vosk import ModelError, check_model_dir
from hotline.core.bus import Message
from hotline.core.errors import Unavailable
from hotline.core.jobs import ARCHIVE, SCORE, TICKET, TRANSCRIBE, Handler, JobState, PermanentError
from hotline.core.settings import Settings
from hotline.quality.model import CallInput, agent_number_from
from hotline.quality.scoring import score_call
from hotline.recording import peaks, retention
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import Recording, RecordingStore
from hotline.recording.store import Status as RecordingStatus

if TYPE_CHECKING:
    from hotline.api.app import Container

log = logging.getLogger(__name__)


def stage_handlers(c: Container) -> dict[str, Handler]:
    """The pipeline's stage handlers, by stage; a job's key is the recording id as text.
    Each stage is idempotent and defers the next one: archive -> transcribe -> …"""
    version = c.settings.asr.pipeline_version

    async def archive(key: str) -> None:
        rec = await c.recordings.get(int(key)) if key.isdigit() else None
        if rec is None:
            raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
        if rec.status is RecordingStatus.PENDING:
            rec = await c.archiver.process(rec)
        if rec.status is RecordingStatus.FAILED:
            raise PermanentError(rec.reason or "录音归档失败 (the recording could not be archived)")
        if rec.status is RecordingStatus.PENDING:  # file not there yet, or a transient error
            raise Unavailable(rec.reason or "录音文件尚未就绪 (the recording is not ready yet)")
        if rec.status is RecordingStatus.ARCHIVED:
            # review branch: waveform peaks made once, right after a verified archive
            await peaks.ensure_peaks_after_archive(c.archive_root, rec)
            await c.jobs.defer(TRANSCRIBE, key, version=version)

    async def transcribe(key: str) -> None:
        if not key.isdigit():
            raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
        try:
            result = await c.transcription.transcribe_recording(int(key))
        except TranscriptionFailed as exc:
            raise PermanentError(exc.message) from exc
        if result.waiting:
            raise Unavailable(result.reason or NO_MODEL_MESSAGE)
        await c.jobs.defer(SCORE, key, version=version)
        await c.jobs.defer(TICKET, key, version=version)

    async def transcript_of(key: str) -> tuple[Recording, Transcript]:
        rec = await c.recordings.get(int(key)) if key.isdigit() else None
        if rec is None:
            raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
        found = await c.transcripts.get(rec.id)
        if found is None or found.transcript is None:
            raise PermanentError(
                f"录音 {key} 没有转写结果 (recording {key} has no transcript): "
                "retry its transcribe job first"
            )
        return rec, found.transcript

    async def score(key: str) -> None:
        rec, transcript = await transcript_of(key)
        call = await c.calls.get(rec.call_id) if rec.call_id else None
        agent = (call.agent_member or call.agent_interface) if call else rec.agent
        number = agent_number_from(
            c.settings.quality.agent_number_pattern,
            call.agent_member if call else rec.agent,
            call.agent_interface if call else None,
        )
        ring = call.ring_seconds if call else None
        # the recording starts as the call enters (before the queue): the greeting is
        # looked for after the pickup
        answered = 0.0
        if call is not None and call.answered_at is not None:
            answered = max(0.0, (call.answered_at - rec.started_at).total_seconds())
        call_id = rec.call_id or f"recording-{rec.id}"
        result = score_call(
            CallInput.from_transcript(call_id, number, ring, transcript, answered),
            c.quality_pack,
        )
        await c.quality.save_score(
            call_id=call_id,
            recording_id=rec.id,
            agent=agent,
            queue=call.queue if call else rec.queue,
            call_started_at=call.entered_at if call else rec.started_at,
            ring_seconds=ring,
            within_rule=call.within_rule if call else None,
            score=result,
            now=datetime.now(UTC),
        )
        await c.bus.publish(
            Message(
                "quality/scored",
                {
                    "call_id": call_id,
                    "recording_id": rec.id,
                    "agent": agent,
                    "score": result.score,
                    "band": result.band,
                    "hits": len(result.hits),
                    "needs_review": sum(h.needs_review for h in result.hits),
                },
            )
        )

    async def ticket(key: str) -> None:
        rec, transcript = await transcript_of(key)
        await c.tickets.on_transcript(rec.id, transcript)

    return {ARCHIVE: archive, TRANSCRIBE: transcribe, SCORE: score, TICKET: ticket}


async def retry_recording(c: Container, recording_id: int, actor: str) -> Recording:
    """A failed recording back in the pipeline: the row to pending (audited) and its parked
    archive job back in the queue (or a new one)."""
    rec = await retention.retry(c.recordings, recording_id, actor, datetime.now(UTC))
    parked = await c.jobs.status(ARCHIVE, str(recording_id), state=JobState.FAILED)
    for job in parked:
        await c.jobs.retry(job.id)
    if not parked:
        await c.jobs.defer(ARCHIVE, str(recording_id), version=1)
    return rec


async def retry_job(c: Container, job_id: int, actor: str) -> bool:
    """A parked job back in the queue with fresh attempts (an archive job's failed recording
    too); False when the job is not parked."""
    failed = {j.id: j for j in await c.jobs.status(state=JobState.FAILED, limit=1000)}
    job = failed.get(job_id)
    if job is not None and job.stage == ARCHIVE and job.key.isdigit():
        rec = await c.recordings.get(int(job.key))
        if rec is not None and rec.status is RecordingStatus.FAILED:
            await retry_recording(c, rec.id, actor)
            return True
    return await c.jobs.retry(job_id)


def active_handlers(c: Container) -> dict[str, Handler]:
    """The stages this process can run: without an ASR model, transcription jobs wait."""
    handlers = stage_handlers(c)
    try:
        model = check_model_dir(c.settings.asr.model_dir)
        log.info("ASR: Vosk model %s (loaded on first use)", model)
    except ModelError as exc:  # transcription jobs stay pending until a model is set
        log.warning("ASR: transcription waits (status no_model): %s", exc.message)
        del handlers[TRANSCRIBE]
    return handlers


IMPORTANT_CATEGORIES = frozenset({"complaint", "emergency"})


def keep_recordings_of(
    recordings: RecordingStore, settings: Settings
) -> Callable[[Message], Awaitable[None]]:
    """重要的资料长期保存: once a call's ticket is a complaint or an emergency, its recording
    is important (kept for the long period; audited as done by the system)."""
    rec_settings = settings.recording
    policy = RetentionPolicy(rec_settings.retention_days, rec_settings.important_retention_days)

    async def on_ticket(message: Message) -> None:
        p = message.payload
        if p.get("category") not in IMPORTANT_CATEGORIES or not p.get("call_id"):
            return
        rec = await recordings.by_call(str(p["call_id"]))
        if rec is not None and not rec.important and rec.status is not RecordingStatus.PURGED:
            await retention.set_important(
                recordings, rec.id, True, "system", datetime.now(UTC), policy
            )

    return on_ticket
