"""tickets, their history and their 回访 attempts

`tickets`: one row per 工单 (hotline.tickets.tables.TicketRow); `origin_call` is unique so
a call drafts one ticket, ever. `ticket_events`: every step (who, when, action, from, to,
why). `ticket_followups`: 回访 attempts, unique per (ticket, round, attempt number).

Revision ID: 0004_tickets
Revises: 0003_jobs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_tickets"
down_revision = "0003_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("origin_call", sa.String(length=64), nullable=True),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("caller_number", sa.String(length=64), nullable=True),
        sa.Column("agent", sa.String(length=128), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("complaint_level", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=128), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=True),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("exposure", sa.Boolean(), nullable=False),
        sa.Column("extension", sa.Text(), nullable=True),
        sa.Column("dispatch_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("contact_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("done_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reply_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followup_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("overdue_steps", sa.String(length=64), nullable=False),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["tickets.id"], name=op.f("fk_tickets_parent_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("origin_call", name=op.f("uq_tickets_origin_call")),
    )
    for column in (
        "call_id",
        "recording_id",
        "caller_number",
        "agent",
        "state",
        "category",
        "unit",
        "topic",
        "created_at",
        "overdue",
        "parent_id",
    ):
        op.create_index(f"ix_tickets_{column}", "tickets", [column], unique=False)

    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_events_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_events")),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"], unique=False)

    op.create_table(
        "ticket_followups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("attempt_no", sa.Integer(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=16), nullable=True),
        sa.Column("satisfaction", sa.String(length=16), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("action_id", sa.String(length=64), nullable=True),
        sa.Column("ami_response", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_ticket_followups_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_followups")),
        sa.UniqueConstraint(
            "ticket_id", "round", "attempt_no", name=op.f("uq_ticket_followups_ticket_id")
        ),
        sa.UniqueConstraint("action_id", name=op.f("uq_ticket_followups_action_id")),
    )
    op.create_index(
        "ix_ticket_followups_ticket_id", "ticket_followups", ["ticket_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ticket_followups_ticket_id", table_name="ticket_followups")
    op.drop_table("ticket_followups")
    op.drop_index("ix_ticket_events_ticket_id", table_name="ticket_events")
    op.drop_table("ticket_events")
    for column in (
        "call_id",
        "recording_id",
        "caller_number",
        "agent",
        "state",
        "category",
        "unit",
        "topic",
        "created_at",
        "overdue",
        "parent_id",
    ):
        op.drop_index(f"ix_tickets_{column}", table_name="tickets")
    op.drop_table("tickets")
