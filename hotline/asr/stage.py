"""The transcribe stage, and how the stages after it read a recording's transcript. Rule:
no model is waiting, not failing: the job stays pending until a model is configured.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from hotline.asr.service import NO_MODEL_MESSAGE, TranscriptionFailed, TranscriptionService
from hotline.asr.store import TranscriptRecord
from hotline.asr.transcript import Transcript
from hotline.asr.vosk import ModelError, check_model_dir
from hotline.core.jobs import PermanentError, Waiting
from hotline.recording.store import Recording

log = logging.getLogger(__name__)

TRANSCRIBE = "transcribe"


class TranscribeStage:
    def __init__(self, transcription: TranscriptionService) -> None:
        self.transcription = transcription

    async def run(self, key: str) -> bool:
        """One transcribe job: True once the transcript is there (scoring and the ticket
        follow)."""
        if not key.isdigit():
            raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
        try:
            result = await self.transcription.transcribe_recording(int(key))
        except TranscriptionFailed as exc:
            raise PermanentError(exc.message) from exc
        if result.waiting:
            raise Waiting(result.reason or NO_MODEL_MESSAGE)
        return True


def model_ready(model_dir: Path | None) -> bool:
    """Whether this process can transcribe (says so in the log); without a model the
    transcribe jobs wait (status no_model) for a process that has one."""
    try:
        model = check_model_dir(model_dir)
    except ModelError as exc:
        log.warning("ASR: transcription waits (status no_model): %s", exc.message)
        return False
    log.info("ASR: Vosk model %s (loaded on first use)", model)
    return True


class RecordingReads(Protocol):
    async def get(self, recording_id: int) -> Recording | None: ...


class TranscriptReads(Protocol):
    async def get(self, recording_id: int) -> TranscriptRecord | None: ...


async def transcript_of(
    recordings: RecordingReads, transcripts: TranscriptReads, key: str
) -> tuple[Recording, Transcript]:
    """The recording of a job's key and its transcript; PermanentError when either is
    missing (the transcribe job has to run again first)."""
    rec = await recordings.get(int(key)) if key.isdigit() else None
    if rec is None:
        raise PermanentError(f"录音 {key} 不存在 (no recording with id {key!r})")
    found = await transcripts.get(rec.id)
    if found is None or found.transcript is None:
        raise PermanentError(
            f"录音 {key} 没有转写结果 (recording {key} has no transcript): "
            "retry its transcribe job first"
        )
    return rec, found.transcript
