"""tickets: the indexed next deadline the watch queries, source and its reference, 即时办结,
the customer's 回访 wishes, a complaint's judgement, the verification of outcomes, the
unit's contact with the customer; users of role unit name their units

`next_deadline`: the earliest due time of a step neither reached nor marked overdue (NULL
when nothing is left to watch); the deadline watch reads `WHERE next_deadline <= now`.

Revision ID: w14_0010_ticket_policy
Revises: w17_0011_latest_score
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "w14_0010_ticket_policy"
down_revision = "w17_0011_latest_score"
branch_labels = None
depends_on = None

_STEPS = (
    ("dispatch_by", "dispatched_at"),
    ("contact_by", "started_at"),
    ("done_by", "replied_at"),
    ("reply_by", "followup_at"),
)


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("next_deadline", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("source", sa.String(16), nullable=False, server_default="phone"))
        batch.add_column(sa.Column("source_ref", sa.String(64)))
        batch.add_column(
            sa.Column("on_spot", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("followup_declined", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("followup_booked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("complaint_validity", sa.String(16)))
        batch.add_column(sa.Column("complaint_reason", sa.Text()))
        batch.add_column(sa.Column("complained_unit", sa.String(128)))
        batch.add_column(sa.Column("complained_agent", sa.String(128)))
        batch.add_column(sa.Column("opinion_by", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("verify_state", sa.String(16)))
        batch.add_column(sa.Column("verify_note", sa.Text()))
        batch.add_column(sa.Column("verified_by", sa.String(64)))
        batch.add_column(sa.Column("verified_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("contacted_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("units", sa.String(512)))
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_attachments_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
    )
    op.create_index(op.f("ix_ticket_attachments_ticket_id"), "ticket_attachments", ["ticket_id"])
    op.create_index(op.f("ix_tickets_verify_state"), "tickets", ["verify_state"])
    op.create_index(op.f("ix_tickets_next_deadline"), "tickets", ["next_deadline"])
    op.create_index(op.f("ix_tickets_source"), "tickets", ["source"])
    _backfill()


def _aware(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _backfill() -> None:
    """Open tickets get the next deadline the watch would have found by scanning them."""
    conn = op.get_bind()
    cols = ", ".join(c for pair in _STEPS for c in pair)
    rows = conn.execute(
        sa.text(f"SELECT id, closed_at, overdue_steps, {cols} FROM tickets WHERE state != 'closed'")
    ).mappings()
    for row in list(rows):
        marked = set((row["overdue_steps"] or "").split(","))
        reached_reply = row["followup_at"] or row["closed_at"]
        pending = []
        for due_col, at_col in _STEPS:
            step = due_col.removesuffix("_by")
            reached = reached_reply if step == "reply" else row[at_col]
            due = _aware(row[due_col])
            if due is not None and reached is None and step not in marked:
                pending.append(due)
        if pending:
            conn.execute(
                sa.text("UPDATE tickets SET next_deadline = :d WHERE id = :i"),
                {"d": min(pending), "i": row["id"]},
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_ticket_attachments_ticket_id"), table_name="ticket_attachments")
    op.drop_table("ticket_attachments")
    op.drop_index(op.f("ix_tickets_verify_state"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_source"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_next_deadline"), table_name="tickets")
    with op.batch_alter_table("users") as users:
        users.drop_column("units")
    with op.batch_alter_table("tickets") as batch:
        for column in (
            "contacted_at",
            "verified_at",
            "verified_by",
            "verify_note",
            "verify_state",
            "opinion_by",
            "complained_agent",
            "complained_unit",
            "complaint_reason",
            "complaint_validity",
            "followup_booked_at",
            "followup_declined",
            "on_spot",
            "source_ref",
            "source",
            "next_deadline",
        ):
            batch.drop_column(column)
