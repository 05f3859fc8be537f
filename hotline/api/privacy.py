"""Anonymising old personal data across the packages. Rule: once a record is older than
security.anonymise_after_years, its phone numbers, 户号, ID numbers and addresses are
masked in place (tickets, call rows, recording rows, quality evidence), except where the
call is held (a legal hold, or a recording still kept), exactly as recordings are purged.

Each package masks its own tables (its `anonymise` module); this one only finds the cutoff
and the held calls, calls them in turn and repeats on the purge interval.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.quality.anonymise import anonymise_evidence
from hotline.recording.anonymise import anonymise_recordings, held_calls
from hotline.telephony.anonymise import anonymise_calls
from hotline.tickets.anonymise import anonymise_tickets

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Anonymised:
    before: datetime
    held: int
    calls: int
    recordings: int
    tickets: int
    evidence: int


def cutoff(now: datetime, years: float) -> datetime:
    return now - timedelta(days=365.25 * years)


async def anonymise(
    sessions: async_sessionmaker[AsyncSession], years: float, now: datetime | None = None
) -> Anonymised:
    """One pass: everything older than `years` masked, held calls excepted."""
    now = now or datetime.now(UTC)
    before = cutoff(now, years)
    held = await held_calls(sessions, now)
    return Anonymised(
        before=before,
        held=len(held),
        calls=await anonymise_calls(sessions, before, held),
        recordings=await anonymise_recordings(sessions, before, held),
        tickets=await anonymise_tickets(sessions, before, held),
        evidence=await anonymise_evidence(sessions, before, held),
    )


async def anonymise_forever(
    sessions: async_sessionmaker[AsyncSession], years: float, interval_s: float
) -> None:
    """The scheduled pass (with the retention purge's interval); errors are logged and
    the next pass tries again."""
    while True:
        try:
            done = await anonymise(sessions, years)
            log.info("anonymised before %s: %s", done.before.date(), done)
        except Exception:
            log.exception("anonymising old personal data failed; trying again next interval")
        await asyncio.sleep(interval_s)
