"""post-call survey results (来电满意度评价)

Revision ID: w15survey_0010_call_surveys
Revises: supervision_0006_actions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w15survey_0010_call_surveys"
down_revision = "supervision_0006_actions"
branch_labels = None
depends_on = None

COLUMNS = ("offered_at", "result", "queue", "agent_member")  # indexed


def upgrade() -> None:
    op.create_table(
        "call_surveys",
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("queue", sa.String(128)),
        sa.Column("agent_member", sa.String(128)),
        sa.Column("agent_interface", sa.String(128)),
        sa.Column("caller_number", sa.String(64)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("call_id", name=op.f("pk_call_surveys")),
    )
    for column in COLUMNS:
        op.create_index(op.f(f"ix_call_surveys_{column}"), "call_surveys", [column])


def downgrade() -> None:
    for column in COLUMNS:
        op.drop_index(op.f(f"ix_call_surveys_{column}"), table_name="call_surveys")
    op.drop_table("call_surveys")
