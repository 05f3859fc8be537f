"""quality scores, hits, verdicts, comments, appeals and their history

Revision ID: 0004_quality
Revises: 0003_transcripts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_quality"
down_revision = "0003_transcripts"
branch_labels = None
depends_on = None

INDEXES = {
    "quality_scores": ["call_id", "agent", "queue", "call_started_at", "score", "band", "status"],
    "quality_hits": ["score_id", "rule"],
    "quality_comments": ["score_id"],
    "quality_appeals": ["score_id", "hit_id", "state"],
    "quality_history": ["score_id"],
}


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "quality_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("pack", sa.String(length=128), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("queue", sa.String(length=128), nullable=True),
        sa.Column("call_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("within_rule", sa.Boolean(), nullable=True),
        sa.Column("auto_score", sa.Float(), nullable=False),
        sa.Column("auto_band", sa.String(length=32), nullable=False),
        sa.Column("instant_fail", sa.Boolean(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("final_score", sa.Float(), nullable=True),
        sa.Column("finalised_by", sa.String(length=64), nullable=True),
        sa.Column("finalised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_scores")),
        sa.UniqueConstraint("call_id", "pack", name=op.f("uq_quality_scores_call_id")),
    )
    op.create_table(
        "quality_hits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("conf", sa.Float(), nullable=False),
        sa.Column("deduction", sa.Float(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("instant_fail", sa.Boolean(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("verdict_by", sa.String(length=64), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict_comment", sa.Text(), nullable=True),
        _fk("quality_hits", "score_id", "quality_scores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_hits")),
    )
    op.create_table(
        "quality_comments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _fk("quality_comments", "score_id", "quality_scores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_comments")),
    )
    op.create_table(
        "quality_appeals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_by", sa.String(length=64), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        _fk("quality_appeals", "score_id", "quality_scores"),
        _fk("quality_appeals", "hit_id", "quality_hits"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_appeals")),
    )
    op.create_table(
        "quality_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("score_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=True),
        sa.Column("appeal_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        _fk("quality_history", "score_id", "quality_scores"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quality_history")),
    )
    for table, columns in INDEXES.items():
        for column in columns:
            op.create_index(op.f(f"ix_{table}_{column}"), table, [column], unique=False)


def downgrade() -> None:
    for table, columns in reversed(INDEXES.items()):
        for column in columns:
            op.drop_index(op.f(f"ix_{table}_{column}"), table_name=table)
    for table in ("quality_history", "quality_appeals", "quality_comments", "quality_hits"):
        op.drop_table(table)
    op.drop_table("quality_scores")
