"""Call rows past their retention lose their personal data. Rule: a call that entered
before the cutoff keeps its times, queue, agent and outcome, but its caller's number is
masked and their name dropped (in the columns and in the stored record), unless it is
held (legal hold, or a recording still kept).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import pii
from hotline.telephony.tables import CallRow


async def anonymise_calls(
    sessions: async_sessionmaker[AsyncSession], before: datetime, held: Collection[str]
) -> int:
    """Mask the calls that entered before `before` (not in `held`); how many changed."""
    changed = 0
    async with sessions() as session, session.begin():
        rows = await session.scalars(select(CallRow).where(CallRow.entered_at < before))
        for row in rows:
            if row.call_id in held:
                continue
            number = pii.mask_phone(row.caller_number) if row.caller_number else None
            if number == row.caller_number and row.caller_name is None:
                continue
            row.caller_number, row.caller_name = number, None
            row.detail = pii.mask_json_text(row.detail) or row.detail
            changed += 1
    return changed
