"""quality_scores.latest: the call's newest score row, kept on write

Lists, the review queue and reports see only each call's newest score row; finding it by
"no newer row of the same call" costs an anti-join over every score on each request. The
flag is set on the newest row here and moved by QualityStore.save_score when another pack
scores the call.

Revision ID: w17_0011_latest_score
Revises: w17_0010_big_hotline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0011_latest_score"
down_revision = "w17_0010_big_hotline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN on both (a batch copy would drop a table others refer to)
    op.add_column(
        "quality_scores",
        sa.Column("latest", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.execute(
        "UPDATE quality_scores SET latest = false WHERE EXISTS (SELECT 1 FROM quality_scores"
        " AS newer WHERE newer.call_id = quality_scores.call_id AND newer.id > quality_scores.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("quality_scores") as batch:
        batch.drop_column("latest")
