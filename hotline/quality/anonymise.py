"""Quality evidence past its retention loses its personal data. Rule: the hits and
comments of calls that started before the cutoff keep their rule, time and verdict, but
the words quoted as evidence and the comments have their numbers masked, unless the call
is held (legal hold, or a recording still kept).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core import pii
from hotline.quality.tables import CommentRow, HitRow, ScoreRow


async def anonymise_evidence(
    sessions: async_sessionmaker[AsyncSession], before: datetime, held: Collection[str]
) -> int:
    """Mask the evidence and comments of calls started before `before`; how many changed."""
    changed = 0
    async with sessions() as session, session.begin():
        scores = {
            r.id: r.call_id
            for r in await session.scalars(
                select(ScoreRow).where(ScoreRow.call_started_at < before)
            )
            if r.call_id not in held
        }
        if not scores:
            return 0
        for hit in await session.scalars(select(HitRow).where(HitRow.score_id.in_(scores))):
            masked = pii.mask_text(hit.evidence)
            comment = pii.mask_text(hit.verdict_comment) if hit.verdict_comment else None
            if masked != hit.evidence or comment != hit.verdict_comment:
                hit.evidence, hit.verdict_comment = masked, comment
                changed += 1
        for c in await session.scalars(select(CommentRow).where(CommentRow.score_id.in_(scores))):
            masked = pii.mask_text(c.text)
            if masked != c.text:
                c.text = masked
                changed += 1
    return changed
