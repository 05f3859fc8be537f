"""tickets: the indexed time the 回访 part of the deadline watch next looks at a ticket

`followup_due`: when the next 回访 attempt of a replied ticket is due (NULL when there is
nothing to dial); the watch reads `WHERE followup_due <= now` instead of every replied
ticket. Backfilled in one statement with a lower bound the policy cannot beat, the reply
(or the last attempt's start): the watch's first look at such a ticket writes the exact
time the policy gives, or NULL.

Revision ID: w17_0021_followup_due
Revises: w16_0016_customer_desk
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w17_0021_followup_due"
down_revision = "w16_0016_customer_desk"
branch_labels = None
depends_on = None

_BACKFILL = """
UPDATE tickets SET followup_due = COALESCE(
    (SELECT MAX(f.started_at) FROM ticket_followups f
     WHERE f.ticket_id = tickets.id AND f.round = tickets.reopened),
    replied_at)
WHERE state IN ('replied', 'follow_up')
  AND replied_at IS NOT NULL
  AND followup_declined = :no
  AND NOT EXISTS (
    SELECT 1 FROM ticket_followups f
    WHERE f.ticket_id = tickets.id AND f.round = tickets.reopened AND f.result IS NULL)
"""


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("followup_due", sa.DateTime(timezone=True)))
    op.create_index(op.f("ix_tickets_followup_due"), "tickets", ["followup_due"])
    op.get_bind().execute(sa.text(_BACKFILL), {"no": False})


def downgrade() -> None:
    op.drop_index(op.f("ix_tickets_followup_due"), table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("followup_due")
