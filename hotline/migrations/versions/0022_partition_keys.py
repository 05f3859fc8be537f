"""calls: a unique index on (call_id, entered_at), the key a monthly-partitioned `calls`
can also have, so the store's upsert names it on both layouts (deploy/partitioning.md)

Revision ID: w17_0022_partition_keys
Revises: w17_0020_report_jobs
"""

from __future__ import annotations

from alembic import op

revision = "w17_0022_partition_keys"
down_revision = "w17_0020_report_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ux_calls_call_id_entered_at", "calls", ["call_id", "entered_at"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_calls_call_id_entered_at", table_name="calls")
