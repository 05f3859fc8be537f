"""the service level's daily roll-up (issue 17): counters per local day, queue and agent,
trusted while the change generations of the day's UTC hours are those it was built at

Nothing is filled here: a day is built the first time a report asks for it, so the
migration is instant on an already filled database.

Revision ID: w17_0018_call_rollup
Revises: w16_0016_customer_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0018_call_rollup"
down_revision = "w16_0016_customer_desk"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_changes",
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gen", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", name=op.f("pk_call_changes")),
    )
    op.create_table(
        "call_day_built",
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("gens", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", name=op.f("pk_call_day_built")),
    )
    op.create_table(
        "call_day_rollup",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("zone", sa.String(64), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("queue", sa.String(128)),
        sa.Column("agent_member", sa.String(128)),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("within_rule", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("answer_seconds_sum", sa.Float(), nullable=False),
        sa.Column("callbacks_done", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_day_rollup")),
    )
    op.create_index("ix_call_day_rollup_zone_day", "call_day_rollup", ["zone", "day"])


def downgrade() -> None:
    op.drop_index("ix_call_day_rollup_zone_day", "call_day_rollup")
    op.drop_table("call_day_rollup")
    op.drop_table("call_day_built")
    op.drop_table("call_changes")
