"""the service level's daily roll-up (issue 17): counters per local day, queue and agent,
trusted while the change generations of the day's UTC hours are those it was built at

Nothing is filled here: a day is built the first time a report asks for it. And the lists'
indexes hold the direction (every calls list filters it, inbound by default) and the call
id after the filter column, so a page's keys and its capped total come from an index alone
(a deferred join); they replace migration 0012's (filter, entered_at) ones. Tickets get
(created_at, id) for their newest-first order and (urgent, created_at, id), recordings
(queue|agent|call_id, started_at, id); on PostgreSQL with pg_trgm, a ticket's caller is
found by a part of the number with a trigram index (as 0012 does for calls, recordings).

Revision ID: w17_0018_call_rollup
Revises: w17_0019_quality_scale
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0018_call_rollup"
down_revision = "w17_0019_quality_scale"
branch_labels = None
depends_on = None


TICKET_TRGM = "ix_tickets_caller_number_trgm"
RECORDINGS = (  # a queue's, and an agent's own by the row or by the call, from indexes alone
    ("ix_recordings_queue_started_at_id", ["queue", "started_at", "id"]),
    ("ix_recordings_agent_started_at_id", ["agent", "started_at", "id"]),
    ("ix_recordings_call_id_started_at_id", ["call_id", "started_at", "id"]),
)
OLD = ("within_rule", "agent_member", "agent_interface", "queue", "outcome")
LISTS = ("direction", *OLD)


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
        return False  # not allowed here: the caller search stays a scan
    return True


def _list_index(column: str) -> tuple[str, list[str]]:
    if column == "direction":
        return "ix_calls_direction_entered_at_call_id", ["direction", "entered_at", "call_id"]
    return f"ix_calls_{column}_direction", [column, "direction", "entered_at", "call_id"]


def upgrade() -> None:
    for column in LISTS:
        name, columns = _list_index(column)
        op.create_index(name, "calls", columns)
    for column in OLD:
        op.drop_index(f"ix_calls_{column}_entered_at", "calls")
    op.create_index("ix_tickets_created_at_id", "tickets", ["created_at", "id"])
    op.create_index("ix_tickets_urgent_created_at_id", "tickets", ["urgent", "created_at", "id"])
    for name, columns in RECORDINGS:
        op.create_index(name, "recordings", columns)
    op.drop_index("ix_recordings_agent_started_at", "recordings")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and _has_trgm(bind):
        op.create_index(
            TICKET_TRGM,
            "tickets",
            ["caller_number"],
            postgresql_using="gin",
            postgresql_ops={"caller_number": "gin_trgm_ops"},
        )
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
    op.create_index(  # a partial day's callbacks done, looked up per call
        "ix_callbacks_done_call_id",
        "callbacks",
        ["call_id"],
        postgresql_where=sa.text("status = 'done'"),
        sqlite_where=sa.text("status = 'done'"),
    )


def downgrade() -> None:
    op.drop_index("ix_callbacks_done_call_id", "callbacks")
    op.execute(f"DROP INDEX IF EXISTS {TICKET_TRGM}")
    op.create_index("ix_recordings_agent_started_at", "recordings", ["agent", "started_at"])
    for name, _ in RECORDINGS:
        op.drop_index(name, "recordings")
    op.drop_index("ix_tickets_urgent_created_at_id", "tickets")
    op.drop_index("ix_tickets_created_at_id", "tickets")
    for column in OLD:
        op.create_index(f"ix_calls_{column}_entered_at", "calls", [column, "entered_at"])
    for column in LISTS:
        op.drop_index(_list_index(column)[0], "calls")
    op.drop_index("ix_call_day_rollup_zone_day", "call_day_rollup")
    op.drop_table("call_day_rollup")
    op.drop_table("call_day_built")
    op.drop_table("call_changes")
