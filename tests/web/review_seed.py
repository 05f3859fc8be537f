"""A scored call for the 质检 review page, put in through the real stores: the call record,
a two-channel recording transcoded and archived as the archiver does it (customer left,
agent right), its transcript, and a score from the real scorer with the shipped rule pack.

Used by the browser test and by benchmarks/review_page.py (a 10-minute call).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.asr.store import TranscriptStore
from hotline.asr.transcript import Channel, ChannelTranscript, Transcript, Utterance, Word
from hotline.core.settings import Settings
from hotline.quality.model import CallInput, agent_number_from
from hotline.quality.pack import load_pack
from hotline.quality.review import rules_from_pack
from hotline.quality.scoring import score_call
from hotline.quality.store import QualityStore
from hotline.recording import audio, peaks
from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import Layout, RecordingStore, Status
from hotline.telephony.model import RingRule
from hotline.telephony.store import CallStore
from tests.factories import answered_call


def said(text: str, start: float, channel: Channel, low: frozenset[str] = frozenset()) -> Utterance:
    """An utterance as Vosk gives Chinese (words separated by spaces), 0.3 s a word; the
    words in `low` heard with confidence 0.4."""
    words = tuple(
        Word(
            w, round(start + i * 0.3, 3), round(start + (i + 1) * 0.3, 3), 0.4 if w in low else 0.95
        )
        for i, w in enumerate(text.split())
    )
    return Utterance(text, words, "".join(text.split()), words[0].start, words[-1].end, channel)


def two_channel_transcript(
    customer: list[Utterance], agent: list[Utterance], duration_s: float
) -> Transcript:
    return Transcript(
        channels=(
            ChannelTranscript(Channel.CUSTOMER, tuple(customer)),
            ChannelTranscript(Channel.AGENT, tuple(agent)),
        ),
        model_id="vosk-model-small-cn-0.22",
        vosk_version="0.3.45",
        duration_s=duration_s,
    )


def long_legs(work: Path, seconds: float) -> tuple[Path, Path]:
    """Two 8 kHz mono legs of `seconds`, as MixMonitor writes them: tones whose loudness
    swells and fades every 5 s, standing in for a long conversation."""
    work.mkdir(parents=True, exist_ok=True)
    out = []
    for name, freq in (("leg-in.wav", 300), ("leg-out.wav", 500)):
        dest = work / name
        subprocess.run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                "-b",
                "16",
                str(dest),
                "synth",
                f"{seconds}",
                "sine",
                str(freq),
                "tremolo",
                "0.2",
                "90",
                "vol",
                "0.5",
            ],
            check=True,
            capture_output=True,
        )
        out.append(dest)
    return out[0], out[1]


@dataclass(frozen=True, slots=True)
class Seeded:
    call_id: str
    recording_id: int
    duration_s: float


async def seed_scored_call(
    sessions: Any,
    settings: Settings,
    *,
    call_id: str,
    agent: str,
    number: str,
    at: datetime,
    customer_leg: Path,
    agent_leg: Path,
    transcript: Transcript,
    make_peaks: bool = False,
) -> Seeded:
    calls = CallStore(sessions)
    record = answered_call(call_id, number=number, agent=agent, at=at)
    await calls.save([record])
    store = RecordingStore(sessions)
    rec = await store.add(
        call_id=call_id,
        sources={"customer": str(customer_leg), "agent": str(agent_leg)},
        started_at=at,
        caller_number=number,
        agent=agent,
        queue="hotline",
        retain_until=RetentionPolicy().retain_until(at, False),
        now=at,
    )
    assert rec is not None
    rel = f"{at:%Y/%m/%d}/{call_id}-0123abcd.ogg"
    dest = settings.archive_root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    await audio.transcode(
        {"customer": customer_leg, "agent": agent_leg}, dest, codec="opus", bitrate_kbps=16
    )
    info = await audio.probe(dest)
    await store.update(
        rec.id,
        status=Status.ARCHIVED,
        layout=Layout.STEREO,
        path=rel,
        codec="opus",
        sample_rate=info.sample_rate,
        channels=info.channels,
        duration_s=round(info.duration_s, 3),
        size_bytes=dest.stat().st_size,
        sha256=f"{rec.id:064x}",
        archived_at=at,
    )
    if make_peaks:  # as the archive stage does; otherwise the page makes them on first view
        archived = await store.get(rec.id)
        assert archived is not None
        await peaks.ensure_peaks(settings.archive_root, archived)
    await TranscriptStore(sessions, settings.asr.pipeline_version).save(
        rec.id, call_id, transcript, at
    )
    # scored as the pipeline's score stage does it
    pack = load_pack(settings.quality.pack)
    call = await calls.get(call_id)
    assert call is not None
    answered = (call.answered_at - at).total_seconds() if call.answered_at else 0.0
    result = score_call(
        CallInput.from_transcript(
            call_id,
            agent_number_from(settings.quality.agent_number_pattern, call.agent_member, agent),
            call.ring_seconds,
            transcript,
            answered,
        ),
        pack,
        ring=RingRule(settings.rules.ring_period_s, settings.rules.max_rings),
    )
    await QualityStore(sessions, rules_from_pack(pack)).save_score(
        call_id=call_id,
        recording_id=rec.id,
        agent=agent,
        queue=call.queue,
        call_started_at=call.entered_at,
        ring_seconds=call.ring_seconds,
        within_rule=call.within_rule,
        score=result,
        now=datetime.now(UTC),
    )
    return Seeded(call_id, rec.id, info.duration_s)
