"""The review queue computed by the database is the pure rule's queue (hotline.quality.review:
needs-review first, then lowest score; 抽查 by a keyed hash per agent), on a generated month."""

from __future__ import annotations

from datetime import timedelta

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.quality import review
from hotline.quality.store import QualityStore


async def test_the_sql_queue_is_the_pure_rules_queue(db_url: str) -> None:
    loaded = await load_url(db_url, 3_000, 30.0, progress=lambda _: None)
    engine = db.make_engine(db_url)
    try:
        store = QualityStore(db.session_factory(engine))
        since, until = loaded.first_at, loaded.last_at - timedelta(days=3)
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
            assert any(review.QueueReason.SAMPLE in r for _, _, r in got) == (percent > 0)
        top = await store.review_queue(
            since, until, period_key="2026-11", percent=5.0, low_below=90.0, limit=7
        )
        assert len(top) == 7
    finally:
        await engine.dispose()
