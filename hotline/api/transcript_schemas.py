"""Response shapes of the transcript API. Rule: utterances are shown normalized, in time
order, with the channel that said them; Vosk's own shape rides along for tools."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline.api.schemas import Out, UtteranceOut
from hotline.asr.store import SearchHit, TranscriptRecord


class TranscriptOut(Out):
    recording_id: int
    call_id: str | None
    status: str  # pending, done, failed, no_model
    reason: str | None
    pipeline_version: str
    model_id: str | None
    vosk_version: str | None
    duration_s: float | None
    created_at: datetime
    updated_at: datetime
    utterances: list[UtteranceOut]  # both channels in time order, for reading
    transcript: dict[str, Any] | None  # Vosk's result shape per utterance, per channel

    @classmethod
    def of(cls, t: TranscriptRecord) -> TranscriptOut:
        return cls(
            recording_id=t.recording_id,
            call_id=t.call_id,
            status=t.status.value,
            reason=t.reason,
            pipeline_version=t.pipeline_version,
            model_id=t.model_id,
            vosk_version=t.vosk_version,
            duration_s=t.duration_s,
            created_at=t.created_at,
            updated_at=t.updated_at,
            utterances=UtteranceOut.all_of(t.transcript),
            transcript=t.transcript.to_dict() if t.transcript else None,
        )


class MatchOut(Out):
    channel: str
    start: float
    end: float
    text: str


class SearchHitOut(Out):
    recording_id: int
    call_id: str | None
    started_at: datetime
    caller_number: str | None
    agent: str | None
    queue: str | None
    matches: list[MatchOut]

    @classmethod
    def of(cls, h: SearchHit) -> SearchHitOut:
        return cls(
            recording_id=h.recording_id,
            call_id=h.call_id,
            started_at=h.started_at,
            caller_number=h.caller_number,
            agent=h.agent,
            queue=h.queue,
            matches=[
                MatchOut(channel=m.channel, start=m.start_s, end=m.end_s, text=m.text)
                for m in h.matches
            ],
        )


class SearchOut(Out):
    query: str
    searched: str  # the query as searched: simplified, without spaces
    items: list[SearchHitOut]  # newest call first
    offset: int
    limit: int
    next_cursor: str | None = None  # pass as cursor= for the next page; None on the last
