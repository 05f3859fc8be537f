"""the transcript search's index the database searches (issue 17): one narrow row per done
transcript (`transcript_search`: recording, version, the recording's start, walked newest
first) with its character bigrams, a GIN-indexed text[] on PostgreSQL and the FTS5 table
`transcript_fts` on SQLite, backfilled from the utterances; the per-utterance bigram rows
(`transcript_grams`) are dropped.

PostgreSQL backfills in one SQL statement (about a minute at a million calls); SQLite
reads the utterances once, in transcript order, and writes with executemany.

Revision ID: w17_0017_search
Revises: w17_0021_followup_due
"""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "w17_0017_search"
down_revision = "w17_0021_followup_due"
branch_labels = None
depends_on = None

_BIGRAMS = (
    "SELECT u.transcript_id, substr(u.compact, i, 2) AS gram"
    " FROM transcript_utterances u, generate_series(1, char_length(u.compact) - 1) AS i"
)


def _sqlite_entries(conn: sa.Connection) -> Iterator[tuple[int, str]]:
    """(transcript id, its bigrams of two letters or digits, space separated)."""
    rows = conn.exec_driver_sql(
        "SELECT transcript_id, compact FROM transcript_utterances ORDER BY transcript_id"
    )
    current, grams = None, set[str]()
    for tid, compact in rows:
        if tid != current:
            if current is not None and grams:
                yield current, " ".join(sorted(grams))
            current, grams = tid, set()
        grams |= {g for i in range(len(compact) - 1) if (g := compact[i : i + 2]).isalnum()}
    if current is not None and grams:
        yield current, " ".join(sorted(grams))


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    op.create_table(
        "transcript_search",
        sa.Column("transcript_id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_version", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grams", ARRAY(sa.Text()) if postgres else sa.JSON()),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_search_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transcript_id", name=op.f("pk_transcript_search")),
    )
    entries = (
        "INSERT INTO transcript_search"
        " (transcript_id, recording_id, pipeline_version, started_at, grams)"
        " SELECT t.id, t.recording_id, t.pipeline_version, r.started_at, {grams}"
        " FROM transcripts t JOIN recordings r ON r.id = t.recording_id {more}"
        " WHERE t.status = 'done'"
    )
    if postgres:
        op.execute(
            entries.format(
                grams="coalesce(g.grams, '{}')",
                more="LEFT JOIN (SELECT transcript_id,"
                " array_agg(DISTINCT gram ORDER BY gram) AS grams"
                f" FROM ({_BIGRAMS}) b GROUP BY transcript_id) g ON g.transcript_id = t.id",
            )
        )
        op.execute("CREATE INDEX ix_transcript_search_grams ON transcript_search USING gin (grams)")
    else:
        op.execute(entries.format(grams="NULL", more=""))
        op.execute(
            "CREATE VIRTUAL TABLE transcript_fts USING fts5("
            "grams, tokenize = 'unicode61 remove_diacritics 0')"
        )
        insert = "INSERT INTO transcript_fts (rowid, grams) VALUES (?, ?)"
        batch: list[tuple[int, str]] = []
        for entry in _sqlite_entries(conn):
            batch.append(entry)
            if len(batch) >= 5000:
                conn.exec_driver_sql(insert, batch)
                batch = []
        if batch:
            conn.exec_driver_sql(insert, batch)
    op.create_index(
        "ix_transcript_search_walk",
        "transcript_search",
        ["pipeline_version", "started_at", "recording_id"],
    )
    op.create_index("ix_transcript_search_recording_id", "transcript_search", ["recording_id"])
    # the planners choose between the newest-first walk and an agent's recordings by these
    op.execute("ANALYZE transcript_search")
    op.drop_index("ix_transcript_grams_gram", table_name="transcript_grams")
    op.drop_table("transcript_grams")


def downgrade() -> None:
    conn = op.get_bind()
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
        "ix_transcript_grams_gram", "transcript_grams", ["gram", "transcript_id", "utterance_no"]
    )
    if conn.dialect.name == "postgresql":
        op.execute(
            "INSERT INTO transcript_grams (transcript_id, utterance_no, gram)"
            " SELECT DISTINCT u.transcript_id, u.utterance_no, substr(u.compact, i, 2)"
            " FROM transcript_utterances u,"
            " generate_series(1, char_length(u.compact) - 1) AS i"
        )
    else:
        rows = conn.exec_driver_sql(
            "SELECT transcript_id, utterance_no, compact FROM transcript_utterances"
        ).all()
        conn.exec_driver_sql(
            "INSERT INTO transcript_grams (transcript_id, utterance_no, gram) VALUES (?, ?, ?)",
            [
                (tid, no, g)
                for tid, no, c in rows
                for g in sorted({c[i : i + 2] for i in range(len(c) - 1)})
            ],
        )
        op.execute("DROP TABLE transcript_fts")
    op.drop_table("transcript_search")
