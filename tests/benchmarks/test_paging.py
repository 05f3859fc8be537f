"""Lists page by cursor: walking every page of a list (calls, recordings, quality scores, tickets)
with its next cursor gives each row once, in the same order as one long page, and the
total is counted only up to a cap."""

from __future__ import annotations

import pytest

from benchmarks.million_calls import iface, load_url
from hotline.core import db, paging
from hotline.core.errors import InvalidInput
from hotline.quality.store import QualityStore
from hotline.recording.store import RecordingFilter, RecordingStore
from hotline.telephony.store import CallFilter, CallStore
from hotline.tickets.records import TicketFilter
from hotline.tickets.store import TicketStore


async def test_walking_the_calls_and_recordings_by_cursor_sees_each_row_once(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    loaded = await load_url(db_url, 400, 5.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    try:
        sessions = db.session_factory(engine)
        calls = CallStore(sessions)
        everything = (await calls.page(CallFilter(), limit=500)).items
        walked, cursor, pages = [], None, 0
        while True:
            page = await calls.page(CallFilter(), limit=37, cursor=cursor)
            walked += page.items
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [c.call_id for c in walked] == [c.call_id for c in everything]
        assert len(walked) == 400 and pages == 11

        store = RecordingStore(sessions)
        all_recordings = (await store.page(RecordingFilter(), limit=500)).items
        seen, cursor = [], None
        while True:
            rpage = await store.page(RecordingFilter(), limit=29, cursor=cursor)
            seen += [r.id for r in rpage.items]
            if rpage.next_cursor is None:
                break
            cursor = rpage.next_cursor
        assert seen == [r.id for r in all_recordings] and len(seen) > 29 * 3

        agent = iface(loaded.sample_agent)
        mine = (await store.page(RecordingFilter(only_agent=agent), limit=500)).items
        theirs = [r.id for r in all_recordings if r.agent == agent]
        assert [r.id for r in mine] == theirs and theirs

        quality = QualityStore(sessions)
        scores = await quality.list_scores(limit=500)
        walked_scores, cursor = [], None
        while True:
            page_of_scores = await quality.list_scores(limit=13, cursor=cursor)
            walked_scores += [c.id for c in page_of_scores]
            if len(page_of_scores) < 13:
                break
            cursor = quality.next_cursor(page_of_scores[-1])
        assert walked_scores == [c.id for c in scores] and len(scores) > 13 * 3

        tickets = TicketStore(sessions)
        all_tickets = (await tickets.page(TicketFilter(), limit=500)).items
        seen, cursor = [], None
        while True:
            tpage = await tickets.page(TicketFilter(), limit=7, cursor=cursor)
            assert tpage.total == len(all_tickets)  # by cursor the total still counts from the top
            seen += [t.id for t in tpage.items]
            if tpage.next_cursor is None:
                break
            cursor = tpage.next_cursor
        assert seen == [t.id for t in all_tickets] and len(seen) > 7 * 3

        monkeypatch.setattr(paging, "COUNT_CAP", 100)
        capped = await calls.page(CallFilter(), limit=10)
        assert (capped.total, capped.total_capped) == (100, True)
        exact = await calls.page(CallFilter(queue="热线01"), limit=10)
        assert exact.total_capped is False and exact.total < 100

        with pytest.raises(InvalidInput, match="翻页游标无效"):
            await calls.page(CallFilter(), cursor="not-a-cursor")
    finally:
        await engine.dispose()
