"""Which calls keep their personal data past the anonymisation cutoff, and recording rows
past it. Rule: a call is held while its recording is under legal hold or still kept
(retain_until in the future); a recording row past the cutoff keeps everything but its
caller's number, which is masked.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import pii
from hotline.recording.store import RecordingRow


async def held_calls(sessions: async_sessionmaker[AsyncSession], now: datetime) -> set[str]:
    """Call ids whose data must stay whole: legal hold, or a recording not yet due."""
    async with sessions() as session:
        ids = await session.scalars(
            select(RecordingRow.call_id).where(
                RecordingRow.call_id.is_not(None),
                or_(RecordingRow.legal_hold.is_(True), RecordingRow.retain_until > now),
            )
        )
        return {i for i in ids if i}


async def anonymise_recordings(
    sessions: async_sessionmaker[AsyncSession], before: datetime, held: set[str]
) -> int:
    changed = 0
    async with sessions() as session, session.begin():
        rows = await session.scalars(
            select(RecordingRow).where(
                RecordingRow.started_at < before, RecordingRow.caller_number.is_not(None)
            )
        )
        for r in rows:
            if r.call_id in held or r.legal_hold or r.caller_number is None:
                continue
            masked = pii.mask_phone(r.caller_number)
            if masked != r.caller_number:
                r.caller_number = masked
                changed += 1
    return changed
