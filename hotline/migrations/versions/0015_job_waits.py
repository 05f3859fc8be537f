"""jobs wait without charging attempts: when a job started waiting (for its input, a disk
or the database), so the wait can be bounded in hours

Revision ID: w13ops_0010_job_waits
Revises: w14_0010_ticket_policy
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w13ops_0010_job_waits"
down_revision = "w14_0010_ticket_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "job_refs", sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column("job_refs", "waiting_since")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("waiting_since")
