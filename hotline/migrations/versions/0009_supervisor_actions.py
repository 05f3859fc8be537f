"""supervisor actions log, and each user's own phone (the endpoint a spy call rings)

Revision ID: supervision_0006_actions
Revises: callbacks2_0008_attempt_stage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "supervision_0006_actions"
# chained after the live branch's revision (merged here): one head, so `upgrade head` works
down_revision = "callbacks2_0008_attempt_stage"
branch_labels = None
depends_on = None

COLUMNS = ("at", "actor", "action", "agent")  # indexed


def upgrade() -> None:
    op.create_table(
        "supervisor_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_role", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128)),
        sa.Column("reason", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisor_actions")),
    )
    for column in COLUMNS:
        op.create_index(op.f(f"ix_supervisor_actions_{column}"), "supervisor_actions", [column])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phone", sa.String(128)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("phone")
    for column in COLUMNS:
        op.drop_index(op.f(f"ix_supervisor_actions_{column}"), table_name="supervisor_actions")
    op.drop_table("supervisor_actions")
