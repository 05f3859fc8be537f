"""Migration 0019 on a database that already holds a month: it fills each score row's count of
pending needs-review hits from the hits themselves (the count save_score keeps from then on),
and goes back down and up again on both databases."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from benchmarks.million_calls import load_url
from hotline.core import db
from hotline.core.db import MIGRATIONS

COUNTS = "SELECT id, pending_review FROM quality_scores ORDER BY id"
FROM_HITS = (
    "SELECT s.id, (SELECT count(*) FROM quality_hits AS h WHERE h.score_id = s.id"
    " AND h.verdict = 'pending' AND h.needs_review) FROM quality_scores AS s ORDER BY s.id"
)


async def test_the_migration_counts_the_pending_hits_of_every_stored_score(db_url: str) -> None:
    await load_url(db_url, 2_000, 20.0, progress=lambda _: None)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    before = ScriptDirectory.from_config(cfg).get_revision("w17_0019_quality_scale").down_revision
    engine = db.make_engine(db_url)
    try:
        async with engine.begin() as conn:  # back to before it, the counts gone
            await conn.run_sync(lambda c: command.downgrade(db._alembic_config(c), str(before)))
        await db.migrate(engine)
        async with engine.connect() as conn:
            counts = (await conn.execute(text(COUNTS))).all()
            expected = (await conn.execute(text(FROM_HITS))).all()
        assert [tuple(r) for r in counts] == [tuple(r) for r in expected]
        assert sum(n for _, n in counts) > 0
    finally:
        await engine.dispose()
