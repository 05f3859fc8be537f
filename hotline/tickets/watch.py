"""The deadline watch: the loop that marks overdue tickets and places due 回访 calls.

Rule: a step is marked overdue once (compare-and-set in the store) and only the steps
newly past their deadline are published as "alert/ticket_overdue"; a tick reads only the
tickets whose indexed `next_deadline` has come and, for 回访, those whose indexed
`followup_due` has come, never every open or replied ticket; the per-ticket CPU work runs
in a worker thread; a failed round is logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from hotline.core.bus import Bus, Message
from hotline.tickets.drafting import OVERDUE_TOPIC, payload
from hotline.tickets.followups import Followups
from hotline.tickets.records import TicketRecord
from hotline.tickets.store import TicketStore

log = logging.getLogger(__name__)


class Watch:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        followups: Followups,
        *,
        interval_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.bus = bus
        self.followups = followups
        self.interval_s = interval_s
        self.clock = clock

    async def check_overdue(self) -> list[TicketRecord]:
        """Mark every ticket with a step newly past its deadline; alert on each. Only the
        tickets whose indexed next deadline has come are read, in one session."""
        now = self.clock()
        newly: list[TicketRecord] = []
        for found in await self.store.mark_due(now):
            t = found.record.ticket
            due = {s: getattr(t.deadlines, f"{s}_by") for s in found.steps}
            newly.append(found.record)
            await self.bus.publish(
                Message(OVERDUE_TOPIC, payload(found.record, steps=list(found.steps), due=due))
            )
        return newly

    async def tick(self) -> None:
        await self.check_overdue()
        await self.followups.dial_due()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("ticket deadline check failed; retrying")
            await asyncio.sleep(self.interval_s)
