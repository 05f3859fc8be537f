"""The deadline watch: the loop that marks overdue tickets and places due 回访 calls.

Rule: a step is marked overdue once (compare-and-set in the store) and only the steps
newly past their deadline are published as "alert/ticket_overdue"; a failed round is
logged and the loop goes on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from hotline.core.bus import Bus, Message
from hotline.tickets import sla
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
        """Mark every ticket with a step newly past its deadline; alert on each."""
        now = self.clock()
        newly: list[TicketRecord] = []
        for record in await self.store.open_tickets():
            steps = sla.overdue(record.ticket.deadlines, record.reached(), now)
            if steps and await self.store.mark_overdue(record.id, steps, now):
                late = [s for s in steps if s not in record.overdue_steps]
                marked = await self.store.require(record.id)
                newly.append(marked)
                due = {s: getattr(record.ticket.deadlines, f"{s}_by") for s in late}
                await self.bus.publish(Message(OVERDUE_TOPIC, payload(marked, steps=late, due=due)))
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
