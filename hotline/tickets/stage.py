"""The ticket stage: the call's draft 工单 refined from what the customer said. Rule: the
draft is the ticket service's; this stage only hands it the transcript."""

from __future__ import annotations

from typing import Protocol

from hotline.asr.stage import RecordingReads, TranscriptReads, transcript_of
from hotline.asr.transcript import Transcript

TICKET = "ticket"


class Drafts(Protocol):
    """The ticket service's side the stage uses (TicketService.on_transcript)."""

    async def on_transcript(self, recording_id: int, transcript: Transcript) -> object: ...


class TicketStage:
    def __init__(
        self, recordings: RecordingReads, transcripts: TranscriptReads, drafts: Drafts
    ) -> None:
        self.recordings = recordings
        self.transcripts = transcripts
        self.drafts = drafts

    async def run(self, key: str) -> bool:
        """One ticket job: the draft of this recording's call refined (when there is one
        an agent has not confirmed or edited yet)."""
        rec, transcript = await transcript_of(self.recordings, self.transcripts, key)
        await self.drafts.on_transcript(rec.id, transcript)
        return True
