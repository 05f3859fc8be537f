"""The benchmark's generator (benchmarks/million_calls.py) at a small size, on SQLite and
PostgreSQL: its rows keep matching the schema, and the product's own stores read them back."""

from __future__ import annotations

from collections import Counter

from benchmarks.million_calls import load_url
from hotline.asr.store import TranscriptStore
from hotline.core import db
from hotline.core.settings import Settings
from hotline.quality.store import QualityStore
from hotline.recording.store import RecordingFilter, RecordingStore
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.store import CallFilter, CallStore
from hotline.tickets.store import TicketStore


async def test_a_small_hotline_loads_and_reads_back(db_url: str) -> None:
    loaded = await load_url(db_url, 2_000, 30.0, progress=lambda _: None)

    assert loaded.counts["calls"] == 2_000
    for table in ("callbacks", "recordings", "transcripts", "scores", "hits", "tickets"):
        assert loaded.counts[table] > 0, table
    engine = db.make_engine(db_url)
    try:
        sessions = db.session_factory(engine)
        calls = CallStore(sessions)
        page, total = await calls.search(CallFilter(), limit=20)
        assert total == 2_000 and len(page) == 20
        assert page[0].entered_at >= page[-1].entered_at
        by_queue = await calls.stats(CallFilter(), "queue")
        assert sum(r.calls for r in by_queue) == 2_000
        assert sum(r.callbacks_done for r in by_queue) > 0

        callback = await CallbackStore(sessions).get(1)
        assert callback is not None

        recordings, _ = await RecordingStore(sessions).search(RecordingFilter(), limit=5)
        assert len(recordings) == 5

        score = await QualityStore(sessions).get(loaded.sample_call)
        assert score is not None and score.call.call_id == loaded.sample_call

        tickets = TicketStore(sessions)
        ticket = await tickets.by_call(loaded.sample_call)
        assert ticket is not None
        history = await tickets.history(ticket.ticket.id)
        assert [e.action for e in history][:2] == ["draft", "refine"]
        states = Counter(t.ticket.state for t in await tickets.open_tickets())
        assert len(states) >= 5  # tickets in every open state

        # the transcripts carry their search index entry: the search finds what was said
        transcripts = TranscriptStore(sessions, str(Settings().asr.pipeline_version))
        meters = await transcripts.search("燃氣表", limit=5)  # traditional, as typed
        assert len(meters.items) == 5 and meters.next_cursor is not None
        assert all("燃气表" in m.text for h in meters.items for m in h.matches)
        leaks = await transcripts.search("燃气泄漏", limit=200)
        assert 0 < len(leaks.items) < loaded.counts["transcripts"] / 5
        assert (await transcripts.search("地铁卡")).items == []
    finally:
        await engine.dispose()
