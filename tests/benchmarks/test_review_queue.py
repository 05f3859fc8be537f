"""The review queue computed by the database is the pure rule's queue (hotline.quality.review:
needs-review first, then lowest score; 抽查 by a keyed hash per agent), on a generated month,
before and after inspectors decide hits, finalise calls and the pipeline scores a call again
(the queue reads the pending needs-review count kept on each score row; the pure rule's
candidates count the hits themselves)."""

from __future__ import annotations

from datetime import datetime, timedelta

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.quality import review
from hotline.quality.model import Hit, Score
from hotline.quality.review import Verdict
from hotline.quality.store import QualityStore

UNSURE = Hit("forbidden_phrase", "agent", 95.0, 96.2, "我不知道", 0.42, 0.0, True)


async def _same_queue(store: QualityStore, since: datetime, until: datetime) -> None:
    candidates = [c for c, _ in await store.candidates(since, until)]
    assert len(candidates) > 300
    for percent, low in ((5.0, 90.0), (30.0, 60.0), (0.0, 80.0)):
        expected = review.review_queue(
            candidates, review.sample(candidates, "2026-11", percent), low_below=low
        )
        got = await store.review_queue(
            since, until, period_key="2026-11", percent=percent, low_below=low, limit=10_000
        )
        assert [(c.call_id, reasons) for c, _, reasons in got] == [
            (e.call_id, e.reasons) for e in expected
        ]
        pending = {c.call_id: c.pending_review for c in candidates}
        assert all(n == pending[c.call_id] for c, n, _ in got)
        for limit in (7, 60):  # the calls that need review or scored low fill these
            top = await store.review_queue(
                since, until, period_key="2026-11", percent=percent, low_below=low, limit=limit
            )
            assert [(c.call_id, reasons) for c, _, reasons in top] == [
                (e.call_id, e.reasons) for e in expected[:limit]
            ]
        assert any(review.QueueReason.SAMPLE in r for _, _, r in got) == (percent > 0)


async def test_the_sql_queue_is_the_pure_rules_queue(db_url: str) -> None:
    loaded = await load_url(db_url, 3_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    try:
        store = QualityStore(db.session_factory(engine))
        since, until = loaded.first_at, loaded.last_at - timedelta(days=3)
        await _same_queue(store, since, until)
        top = await store.review_queue(
            since, until, period_key="2026-11", percent=5.0, low_below=90.0, limit=7
        )
        assert len(top) == 7

        # inspectors work the queue off: confirm one unsure hit, overturn every unsure hit of
        # the next call and finalise it; the pipeline scores a clean call again, now unsure
        at = loaded.last_at
        unsure = [c for c, n, _ in top if n > 0][:2]
        assert len(unsure) == 2
        for k, call in enumerate(unsure):
            detail = await store.get(call.call_id)
            assert detail is not None
            hits = [h for h in detail.hits if h.needs_review and h.verdict is Verdict.PENDING]
            for h in hits[: 1 if k == 0 else None]:
                verdict = Verdict.CONFIRMED if k == 0 else Verdict.OVERTURNED
                await store.set_verdict(call.call_id, h.id, verdict, actor="zhao", now=at)
            if k == 1:
                await store.finalise(call.call_id, actor="zhao", now=at)
        clean = next(
            c for c, _ in await store.candidates(since, until)
            if c.pending_review == 0 and not c.finalised
        )  # fmt: skip
        again = await store.get(clean.call_id)
        assert again is not None
        await store.save_score(
            call_id=clean.call_id,
            recording_id=again.call.recording_id,
            agent=again.call.agent,
            queue=again.call.queue,
            call_started_at=again.call.call_started_at,
            ring_seconds=again.call.ring_seconds,
            within_rule=again.call.within_rule,
            score=Score(clean.call_id, 100.0, "优秀", (UNSURE,), pack=again.call.pack),
            now=at,
        )
        await _same_queue(store, since, until)
        moved = {c.call_id: n for c, n, _ in await store.review_queue(
            since, until, period_key="2026-11", percent=0.0, low_below=0.0, limit=10_000
        )}  # fmt: skip
        assert moved[clean.call_id] == 1 and unsure[1].call_id not in moved
    finally:
        await engine.dispose()
