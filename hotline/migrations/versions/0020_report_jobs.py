"""report jobs (issue 17): a report over a large range is made by a job, its progress and
its file's place under the archive root in a row; an index for a report's escalated
complaints

Revision ID: w17_0020_report_jobs
Revises: w17_0018_call_rollup
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0020_report_jobs"
down_revision = "w17_0018_call_rollup"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(300)),
        sa.Column("error", sa.Text()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_jobs")),
    )
    op.create_index("ix_report_jobs_owner_kind", "report_jobs", ["owner", "kind"])
    op.create_index("ix_report_jobs_created_at", "report_jobs", ["created_at"])
    # a report's 投诉升级 list: the period's level-1/2 complaints without reading the period
    op.create_index(
        "ix_tickets_complaint_level_created_at", "tickets", ["complaint_level", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_complaint_level_created_at", table_name="tickets")
    op.drop_table("report_jobs")
