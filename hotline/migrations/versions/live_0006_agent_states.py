"""agent state history: one row per stretch of one activity of one agent

Revision ID: live_0006_agent_states
Revises: 0005_merge
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "live_0006_agent_states"
down_revision = "0005_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("member", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("pause_reason", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_states")),
    )
    for column in ("interface", "member", "started_at", "ended_at"):
        op.create_index(op.f(f"ix_agent_states_{column}"), "agent_states", [column])


def downgrade() -> None:
    for column in ("interface", "member", "started_at", "ended_at"):
        op.drop_index(op.f(f"ix_agent_states_{column}"), table_name="agent_states")
    op.drop_table("agent_states")
