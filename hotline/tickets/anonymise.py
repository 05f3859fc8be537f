"""Tickets past their retention lose their personal data. Rule: a ticket created before the
cutoff keeps its category, unit, dates, state and satisfaction, but the caller's number,
the fields the customer gave (phone, 户号, address) and the numbers in its texts are
masked, unless its call is held (legal hold, or a recording still kept).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import pii
from hotline.tickets.tables import TicketRow


async def anonymise_tickets(
    sessions: async_sessionmaker[AsyncSession], before: datetime, held: Collection[str]
) -> int:
    """Mask the tickets created before `before` (their call not in `held`); how many
    changed. The version is not moved: this is bookkeeping, not an edit."""
    changed = 0
    async with sessions() as session, session.begin():
        for t in await session.scalars(select(TicketRow).where(TicketRow.created_at < before)):
            if t.call_id is not None and t.call_id in held:
                continue
            new = {
                "caller_number": pii.mask_phone(t.caller_number) if t.caller_number else None,
                "summary": pii.mask_text(t.summary or ""),
                "fields": pii.mask_json_text(t.fields) or t.fields,
                "evidence": pii.mask_json_text(t.evidence) or t.evidence,
                "reply": pii.mask_text(t.reply) if t.reply else None,
                "close_reason": pii.mask_text(t.close_reason) if t.close_reason else None,
            }
            if all(getattr(t, k) == v for k, v in new.items()):
                continue
            for k, v in new.items():
                setattr(t, k, v)
            changed += 1
    return changed
