"""The score stage: a transcribed call scored against the rule pack, stored and announced.
Rule: what is scored is built here from the call's plain read data (telephony's call
record, the recording row, the transcript); the scoring itself stays pure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hotline.asr.stage import RecordingReads, TranscriptReads, transcript_of
from hotline.asr.transcript import Transcript
from hotline.core.bus import Bus, Message
from hotline.quality.model import CallInput, agent_number_from
from hotline.quality.pack import Pack
from hotline.quality.scoring import score_call
from hotline.quality.store import QualityStore
from hotline.recording.store import Recording
from hotline.telephony.model import CallRecord, RingRule

SCORE = "score"


class CallReads(Protocol):
    async def get(self, call_id: str) -> CallRecord | None: ...


@dataclass(frozen=True, slots=True)
class ScoredFacts:
    """What scoring knows of a call besides its transcript."""

    call_id: str  # the call's id, or "recording-<id>" for a recording without a call
    recording_id: int
    agent: str | None
    agent_number: str | None
    queue: str | None
    started_at: datetime
    ring_seconds: float | None
    within_rule: bool | None
    answered_s: float  # seconds into the recording the agent picked up

    def call_input(self, transcript: Transcript) -> CallInput:
        return CallInput.from_transcript(
            self.call_id, self.agent_number, self.ring_seconds, transcript, self.answered_s
        )


def facts_of(rec: Recording, call: CallRecord | None, number_pattern: str) -> ScoredFacts:
    """The call's facts from its records; the recording's own when there is no call."""
    # the recording starts as the call enters (before the queue): the greeting is looked
    # for after the pickup
    answered = 0.0
    if call is not None and call.answered_at is not None:
        answered = max(0.0, (call.answered_at - rec.started_at).total_seconds())
    return ScoredFacts(
        call_id=rec.call_id or f"recording-{rec.id}",
        recording_id=rec.id,
        agent=(call.agent_member or call.agent_interface) if call else rec.agent,
        agent_number=agent_number_from(
            number_pattern,
            call.agent_member if call else rec.agent,
            call.agent_interface if call else None,
        ),
        queue=call.queue if call else rec.queue,
        started_at=call.entered_at if call else rec.started_at,
        ring_seconds=call.ring_seconds if call else None,
        within_rule=call.within_rule if call else None,
        answered_s=answered,
    )


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ScoreStage:
    def __init__(
        self,
        recordings: RecordingReads,
        transcripts: TranscriptReads,
        calls: CallReads,
        quality: QualityStore,
        pack: Pack,
        bus: Bus,
        *,
        ring: RingRule,
        agent_number_pattern: str,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.recordings = recordings
        self.transcripts = transcripts
        self.calls = calls
        self.quality = quality
        self.pack = pack
        self.ring = ring  # the deployment's ring limit (settings), the one answer_late uses
        self.bus = bus
        self.agent_number_pattern = agent_number_pattern
        self._clock = clock

    async def run(self, key: str) -> bool:
        """One score job: the score stored (idempotent per call and pack) and announced."""
        rec, transcript = await transcript_of(self.recordings, self.transcripts, key)
        call = await self.calls.get(rec.call_id) if rec.call_id else None
        facts = facts_of(rec, call, self.agent_number_pattern)
        result = score_call(facts.call_input(transcript), self.pack, ring=self.ring)
        await self.quality.save_score(
            call_id=facts.call_id,
            recording_id=rec.id,
            agent=facts.agent,
            queue=facts.queue,
            call_started_at=facts.started_at,
            ring_seconds=facts.ring_seconds,
            within_rule=facts.within_rule,
            score=result,
            now=self._clock(),
        )
        await self.bus.publish(
            Message(
                "quality/scored",
                {
                    "call_id": facts.call_id,
                    "recording_id": rec.id,
                    "agent": facts.agent,
                    "score": result.score,
                    "band": result.band,
                    "hits": len(result.hits),
                    "needs_review": sum(h.needs_review for h in result.hits),
                },
            )
        )
        return True
