"""The transcription stage: an archived recording in, a stored transcript and a
`transcript/ready` event out. Rule: at most once in effect per (recording, pipeline
version): a recording already done is a no-op. What this returns or raises tells a job
runner what to do:

- `TranscriptResult` with status `done`: finished (`written` False: it already was);
- status `no_model`: no usable ASR model; nothing is wrong with the recording. Park or
  delay the job and try again once a model is configured (`waiting` is True);
- `RecordingNotReady` (a `Waiting`): not archived yet, archive storage not mounted: the
  job waits with a backoff, charging no attempt;
- `TranscriptionFailed`: permanent for this recording (corrupt audio, failed or purged
  recording): park it with its `reason`; a person may retry it.

Vosk runs on a long-lived pool of `workers` threads (one recognizer each, kept from
recording to recording); the model is loaded once per process, on first use.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

from hotline.asr.audio_input import AudioDecodeError
from hotline.asr.store import TranscriptRecord, TranscriptStatus, TranscriptStore
from hotline.asr.transcribe import transcribe_file
from hotline.asr.transcript import Transcript
from hotline.asr.vosk import ModelError, NoModelConfigured, RecognizerError, VoskEngine
from hotline.core.bus import Bus, Message
from hotline.core.errors import HotlineError, InvalidInput
from hotline.core.jobs import Waiting
from hotline.recording.policy import inside
from hotline.recording.store import Recording, RecordingStore, Status

log = logging.getLogger(__name__)

NO_MODEL_MESSAGE = "未配置语音识别模型 (no ASR model configured: set HOTLINE_ASR__MODEL_DIR)"


class TranscriptionFailed(HotlineError):
    """Permanent: this recording cannot be transcribed as it is. `reason` says why."""

    error_id = "transcription_failed"

    def __init__(self, recording_id: int, reason: str) -> None:
        super().__init__(
            f"录音 {recording_id} 转写失败：{reason} (transcribing recording {recording_id} "
            "failed; fix the cause, then retry it)"
        )
        self.recording_id = recording_id
        self.reason = reason


class RecordingNotReady(Waiting):
    """Waiting: the recording is not (yet) readable from the archive; run again later
    (no attempt charged)."""

    error_id = "recording_not_ready"


@dataclass(frozen=True, slots=True)
class TranscriptResult:
    recording_id: int
    call_id: str | None
    status: TranscriptStatus
    reason: str | None = None
    transcript: Transcript | None = None
    written: bool = False  # False: nothing changed (already done, or waiting for a model)

    @property
    def waiting(self) -> bool:
        """No usable model: the job should wait and be retried when one is configured."""
        return self.status is TranscriptStatus.NO_MODEL


EngineFactory = Callable[[], VoskEngine]


class TranscriptionService:
    def __init__(
        self,
        store: TranscriptStore,
        recordings: RecordingStore,
        engine_factory: EngineFactory,
        bus: Bus | None = None,
        *,
        archive_root: Path,
        pipeline_version: str,
        workers: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.recordings = recordings
        self.bus = bus or Bus()
        self.archive_root = archive_root
        self.pipeline_version = pipeline_version
        self.workers = workers or os.cpu_count() or 1
        self._engine_factory = engine_factory
        self._engine: VoskEngine | None = None
        self._engine_lock = asyncio.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._clock = clock

    # --- the engine and its threads --------------------------------------------------------

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="asr")
        return self._pool

    async def engine(self) -> VoskEngine:
        """The loaded engine; raises NoModelConfigured or ModelError. A failure is not
        remembered: the next call checks the model directory again."""
        async with self._engine_lock:
            if self._engine is None:
                engine = self._engine_factory()
                await asyncio.get_running_loop().run_in_executor(self.pool, engine.load)
                self._engine = engine
            return self._engine

    def close(self, *, wait: bool = True) -> None:
        """Stop the worker threads; queued transcriptions are cancelled, those in progress
        finish (waited for if `wait`; otherwise their results are dropped and the job is
        retried by whoever runs it)."""
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    # --- the stage -------------------------------------------------------------------------

    async def transcribe_recording(self, recording_id: int) -> TranscriptResult:
        """Transcribe one archived recording for this pipeline version (see the module)."""
        existing = await self.store.get(recording_id, self.pipeline_version)
        if existing is not None and existing.status is TranscriptStatus.DONE:
            return _result(existing, written=False)
        rec = await self.recordings.get(recording_id)
        if rec is None:
            raise TranscriptionFailed(recording_id, "没有这条录音 (no such recording)")
        path = await self._archived_file(rec)
        try:
            engine = await self.engine()
        except ModelError as exc:
            reason = NO_MODEL_MESSAGE if isinstance(exc, NoModelConfigured) else exc.message
            return await self._no_model(rec, reason)
        loop = asyncio.get_running_loop()
        try:
            transcript = await loop.run_in_executor(self.pool, transcribe_file, engine, path)
        except FileNotFoundError as exc:  # between the check and the decode
            raise RecordingNotReady(
                f"归档文件暂时不可读 (archived file unreadable: {exc})"
            ) from exc
        except AudioDecodeError as exc:
            if not path.is_file():  # unmounted while decoding: not the file's fault
                raise RecordingNotReady(exc.message) from exc
            await self._fail(rec, f"音频无法解码 (cannot decode the audio: {exc.reason})")
        except (RecognizerError, ValueError) as exc:
            await self._fail(rec, f"语音识别出错 (the recognizer failed: {exc})")
        record, written = await self.store.save(
            rec.id, rec.call_id, transcript, self._clock(), version=self.pipeline_version
        )
        if written:
            await self.bus.publish(Message("transcript/ready", _payload(record)))
        return _result(record, written=written)

    async def _archived_file(self, rec: Recording) -> Path:
        if rec.status is Status.PENDING:
            raise RecordingNotReady(
                f"录音 {rec.id} 尚未归档，稍后重试 (recording {rec.id} is not archived yet; "
                "transcription is retried once it is)",
                error_id="recording_not_archived",
            )
        if rec.status is Status.FAILED:
            await self._fail(rec, f"录音归档失败 (archiving failed: {rec.reason or '原因未知'})")
        if rec.status is Status.PURGED:
            await self._fail(rec, "录音已按保存期限清除 (the recording was purged by retention)")
        try:
            path = inside(self.archive_root, rec.path or "")
        except InvalidInput:
            await self._fail(rec, f"存储路径不在归档目录内 (stored path {rec.path!r} refused)")
        if not path.is_file():
            raise RecordingNotReady(
                f"归档文件不存在，归档存储可能未挂载 (the archived file of recording {rec.id} is "
                f"missing at {path}; the archive storage may not be mounted)",
                error_id="archive_file_missing",
            )
        return path

    async def _no_model(self, rec: Recording, reason: str) -> TranscriptResult:
        record = await self.store.mark(
            rec.id,
            rec.call_id,
            TranscriptStatus.NO_MODEL,
            self._clock(),
            reason=reason,
            version=self.pipeline_version,
        )
        if record.status is TranscriptStatus.NO_MODEL:
            log.warning("recording %d waits for an ASR model: %s", rec.id, reason)
        return _result(record, written=False)

    async def _fail(self, rec: Recording, reason: str) -> NoReturn:
        """Record the permanent failure, tell the bus, raise TranscriptionFailed."""
        record = await self.store.mark(
            rec.id,
            rec.call_id,
            TranscriptStatus.FAILED,
            self._clock(),
            reason=reason,
            version=self.pipeline_version,
        )
        if record.status is TranscriptStatus.DONE:  # another worker finished it meanwhile
            raise RecordingNotReady(
                f"录音 {rec.id} 已由其他进程转写完成 (recording {rec.id} was transcribed by "
                "another worker meanwhile; run again: it is a no-op)"
            )
        log.warning("transcription of recording %d failed: %s", rec.id, reason)
        await self.bus.publish(
            Message(
                "transcript/failed",
                {
                    "recording_id": rec.id,
                    "call_id": rec.call_id,
                    "pipeline_version": self.pipeline_version,
                    "reason": reason,
                },
            )
        )
        raise TranscriptionFailed(rec.id, reason)


def _result(record: TranscriptRecord, *, written: bool) -> TranscriptResult:
    return TranscriptResult(
        recording_id=record.recording_id,
        call_id=record.call_id,
        status=record.status,
        reason=record.reason,
        transcript=record.transcript,
        written=written,
    )


def _payload(record: TranscriptRecord) -> dict[str, object]:
    t = record.transcript
    return {
        "recording_id": record.recording_id,
        "call_id": record.call_id,
        "pipeline_version": record.pipeline_version,
        "status": record.status.value,
        "model_id": record.model_id,
        "vosk_version": record.vosk_version,
        "duration_s": record.duration_s,
        "channels": [c.channel.value for c in t.channels] if t else [],
        "utterances": len(t.utterances) if t else 0,
    }
