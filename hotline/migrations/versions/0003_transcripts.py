"""transcripts and their bigram search index

Revision ID: 0003_transcripts
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_transcripts"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("pipeline_version", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("model_id", sa.String(length=255), nullable=True),
        sa.Column("vosk_version", sa.String(length=32), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"], ["recordings.id"], name=op.f("fk_transcripts_recording_id_recordings")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
        sa.UniqueConstraint(
            "recording_id", "pipeline_version", name=op.f("uq_transcripts_recording_id")
        ),
    )
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcripts_call_id"), ["call_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_transcripts_recording_id"), ["recording_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transcripts_status"), ["status"], unique=False)

    op.create_table(
        "transcript_utterances",
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("utterance_no", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("compact", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_utterances_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "transcript_id", "utterance_no", name=op.f("pk_transcript_utterances")
        ),
    )
    op.create_table(
        "transcript_grams",
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("utterance_no", sa.Integer(), nullable=False),
        sa.Column("gram", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_grams_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "transcript_id", "utterance_no", "gram", name=op.f("pk_transcript_grams")
        ),
    )
    op.create_index(
        "ix_transcript_grams_gram",
        "transcript_grams",
        ["gram", "transcript_id", "utterance_no"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_transcript_grams_gram", table_name="transcript_grams")
    op.drop_table("transcript_grams")
    op.drop_table("transcript_utterances")
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcripts_status"))
        batch_op.drop_index(batch_op.f("ix_transcripts_recording_id"))
        batch_op.drop_index(batch_op.f("ix_transcripts_call_id"))
    op.drop_table("transcripts")
