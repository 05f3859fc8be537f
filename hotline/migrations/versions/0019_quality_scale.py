"""quality_scores.pending_review: the call's pending needs-review hits, kept on write

The review queue ranked each period's scores after counting the pending needs-review hits
of every score in the database; the count is now kept on the score row by
hotline.quality.txn.rescore (every change of a hit ends there) and filled here once, by one
grouped pass over the hits.

Two indexes for reports, over each call's newest score only (`WHERE latest`): the period's
scores with every column a report sums (read without the table), and the worst calls'
order (the effective score, then the start), so "the 10 worst of the month" reads 10 rows.

Revision ID: w17_0019_quality_scale
Revises: w17_0017_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0019_quality_scale"
down_revision = "w17_0017_search"
branch_labels = None
depends_on = None

_PENDING = "verdict = 'pending' AND needs_review"
# hotline.quality.tables.EFFECTIVE_SCORE: the final score once finalised
EFFECTIVE = (
    "(CASE WHEN status = 'finalised' AND final_score IS NOT NULL THEN final_score ELSE score END)"
)
INDEXES: dict[str, list[str | sa.TextClause]] = {
    "ix_quality_scores_period_totals": [
        *("call_started_at", "agent", "queue", "status", "score", "final_score", "within_rule")
    ],
    "ix_quality_scores_worst": [sa.text(EFFECTIVE), "call_started_at"],
}


def upgrade() -> None:
    # a plain ADD COLUMN on both (a batch copy would drop a table others refer to)
    op.add_column(
        "quality_scores",
        sa.Column("pending_review", sa.Integer(), nullable=False, server_default="0"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE quality_scores AS s SET pending_review = p.n FROM (SELECT score_id, count(*)"
            f" AS n FROM quality_hits WHERE {_PENDING} GROUP BY score_id) AS p"
            " WHERE p.score_id = s.id"
        )
    else:
        op.execute(
            "UPDATE quality_scores SET pending_review = (SELECT count(*) FROM quality_hits AS h"
            f" WHERE h.score_id = quality_scores.id AND {_PENDING})"
            f" WHERE id IN (SELECT score_id FROM quality_hits WHERE {_PENDING})"
        )
    for name, columns in INDEXES.items():
        op.create_index(
            name,
            "quality_scores",
            columns,
            postgresql_where=sa.text("latest"),
            sqlite_where=sa.text("latest"),
        )


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, "quality_scores")
    op.drop_column("quality_scores", "pending_review")  # SQLite 3.35+ drops it in place
