"""Checks of outcomes (003): 20 % of a quarter's closed repair records drawn by the database
into a verification queue, each result recorded once."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core.errors import Conflict, InvalidInput
from hotline.core.periods import Period
from hotline.tickets.model import Category
from tests.tickets.test_report_queries import put
from tests.tickets.test_reports import NOW, closed, local, ticket


async def test_a_share_of_the_quarters_closed_repairs_is_drawn_and_checked(
    engine: AsyncEngine,
) -> None:
    repairs = [closed(ticket(i, local(5, 10, month=10), Category.REPAIR)) for i in range(1, 201)]
    others = [
        closed(ticket(300, local(5, 10, month=10), Category.CONSULT)),
        ticket(301, local(5, 10, month=10), Category.REPAIR),  # still open
        replace(closed(ticket(302, local(5, 10, month=9), Category.REPAIR))),  # Q3
    ]
    store = await put(engine, [*repairs, *others])
    q4 = Period.parse("quarter", "2026-Q4")
    drawn = await store.draw_verification(q4, 0.2, {Category.REPAIR}, NOW)
    assert 25 <= drawn <= 55  # about 20 % of 200, by a keyed hash of the id
    queue = await store.verification_queue(limit=1000)
    assert len(queue) == drawn and not {300, 301, 302} & set(queue)
    assert await store.draw_verification(q4, 0.2, {Category.REPAIR}, NOW) == 0  # drawn once
    first = queue[0]
    with pytest.raises(InvalidInput, match="原因"):
        await store.record_verification(
            first, passed=False, note=" ", actor="boss", role="supervisor", now=NOW
        )
    await store.record_verification(
        first, passed=False, note="回访核实：客户称未上门", actor="boss", role="supervisor", now=NOW
    )
    rec = await store.require(first)
    assert (rec.verify_state, rec.verify_note) == ("failed", "回访核实：客户称未上门")
    assert (await store.history(first))[-1].action == "verify"
    with pytest.raises(Conflict):
        await store.record_verification(
            first, passed=True, note="", actor="boss", role="supervisor", now=NOW
        )
    with pytest.raises(Conflict):
        await store.record_verification(
            300, passed=True, note="", actor="boss", role="supervisor", now=NOW
        )
    assert first not in await store.verification_queue()
