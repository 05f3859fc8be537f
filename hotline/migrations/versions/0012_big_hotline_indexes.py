"""indexes every list filter needs at a million calls (issue 17)

The calls list is ordered newest first, so each filter is indexed together with the call's
start (an ordered index scan reads only the page); the calls still in progress (read at
every start) have a partial index; each call's newest score is found by (call_id, id); on
PostgreSQL, caller numbers are found by a part (LIKE '%…%') with pg_trgm when the database
has it (a trusted extension: the database owner may create it). The service-level report
reads a covering index of the calls' start and the columns it groups and sums (PostgreSQL:
INCLUDE; SQLite: a composite index), not the wide rows with their JSON.

Revision ID: w17_0010_big_hotline
Revises: w13sec_0010_security
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0010_big_hotline"
down_revision = "w13sec_0010_security"
branch_labels = None
depends_on = None

BTREE = (  # name, table, columns
    ("ix_calls_entered_at_call_id", "calls", ("entered_at", "call_id")),
    ("ix_calls_within_rule_entered_at", "calls", ("within_rule", "entered_at")),
    ("ix_calls_agent_member_entered_at", "calls", ("agent_member", "entered_at")),
    ("ix_calls_agent_interface_entered_at", "calls", ("agent_interface", "entered_at")),
    ("ix_calls_queue_entered_at", "calls", ("queue", "entered_at")),
    ("ix_calls_outcome_entered_at", "calls", ("outcome", "entered_at")),
    ("ix_recordings_started_at_id", "recordings", ("started_at", "id")),
    ("ix_recordings_agent_started_at", "recordings", ("agent", "started_at")),
    ("ix_quality_scores_call_id_id", "quality_scores", ("call_id", "id")),
    ("ix_quality_scores_call_started_at_id", "quality_scores", ("call_started_at", "id")),
    ("ix_quality_scores_agent_started_at", "quality_scores", ("agent", "call_started_at")),
    ("ix_quality_scores_band_started_at", "quality_scores", ("band", "call_started_at")),
)
# the service-level report (GROUP BY queue or agent over a month) reads only this index
STATS_INDEX = "ix_calls_service_level"
STATS_COLUMNS = ("direction", "queue", "agent_member", "outcome", "within_rule", "wait_seconds")
TRIGRAM = (  # name, table, column: LIKE '%part%' on PostgreSQL with pg_trgm
    ("ix_calls_caller_number_trgm", "calls", "caller_number"),
    ("ix_recordings_caller_number_trgm", "recordings", "caller_number"),
)


def _has_trgm(bind: sa.engine.Connection) -> bool:
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).scalar()
    if not available:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False  # not allowed here: the number search stays a scan
    return True


def upgrade() -> None:
    bind = op.get_bind()
    for name, table, columns in BTREE:
        op.create_index(name, table, list(columns))
    op.create_index(
        "ix_calls_open",
        "calls",
        ["call_id"],
        postgresql_where=sa.text("ended_at IS NULL"),
        sqlite_where=sa.text("ended_at IS NULL"),
    )
    if bind.dialect.name == "postgresql":  # a covering index: the key, then the columns
        op.create_index(
            STATS_INDEX,
            "calls",
            ["entered_at"],
            postgresql_include=[*STATS_COLUMNS, "call_id"],
        )
    else:  # SQLite has no INCLUDE: a composite index covers as well
        op.create_index(STATS_INDEX, "calls", ["entered_at", *STATS_COLUMNS, "call_id"])
    if bind.dialect.name == "postgresql" and _has_trgm(bind):
        for name, table, column in TRIGRAM:
            op.execute(f"CREATE INDEX {name} ON {table} USING gin ({column} gin_trgm_ops)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for name, _table, _column in TRIGRAM:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    op.drop_index(STATS_INDEX, "calls")
    op.drop_index("ix_calls_open", "calls")
    for name, table, _columns in reversed(BTREE):
        op.drop_index(name, table)
