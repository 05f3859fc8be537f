"""callback attempts: how far each got (stage) and the callback leg that tells it

Revision ID: callbacks2_0008_attempt_stage
Revises: web_0006_user_passwords

The integration branch chains this after 0007_web_user_passwords; on this branch the
head before it is live_0006_agent_states.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "callbacks2_0008_attempt_stage"
down_revision = "web_0006_user_passwords"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("callback_attempts") as batch:
        batch.add_column(
            sa.Column("stage", sa.String(length=24), nullable=False, server_default="originated")
        )
        batch.add_column(sa.Column("leg_call_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("leg_ended_at", sa.DateTime(timezone=True), nullable=True))
    # attempts finished before this revision: an answered Originate counted as done
    op.execute("UPDATE callback_attempts SET stage = 'customer_answered' WHERE verdict = 'done'")


def downgrade() -> None:
    with op.batch_alter_table("callback_attempts") as batch:
        batch.drop_column("leg_ended_at")
        batch.drop_column("leg_call_id")
        batch.drop_column("stage")
