"""pipeline jobs

`jobs`: the embedded job queue (hotline.core.jobs.SqlJobQueue).
`job_refs` (PostgreSQL only): one row per (stage, key, version) deferred to procrastinate,
with the procrastinate job id, the last error a person reads and the attempt count at the
last manual retry (hotline.core.jobs_procrastinate). procrastinate's own tables are
applied by procrastinate's schema manager, not here.

Revision ID: 0003_jobs
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_jobs"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stage", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
        sa.UniqueConstraint("stage", "key", "version", name="uq_jobs_stage_key_version"),
    )
    op.create_index("ix_jobs_status_run_after", "jobs", ["status", "run_after"])
    if op.get_bind().dialect.name == "postgresql":
        op.create_table(
            "job_refs",
            sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("stage", sa.String(length=32), nullable=False),
            sa.Column("key", sa.String(length=128), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.Column("reason", sa.Text(), nullable=True),
            sa.Column("attempts_base", sa.Integer(), server_default="0", nullable=False),
            sa.PrimaryKeyConstraint("job_id", name=op.f("pk_job_refs")),
            sa.UniqueConstraint("stage", "key", "version", name="uq_job_refs_stage_key_version"),
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("job_refs")
    op.drop_index("ix_jobs_status_run_after", table_name="jobs")
    op.drop_table("jobs")
