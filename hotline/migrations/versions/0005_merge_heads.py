"""one history again: the jobs/tickets and transcripts/quality branches merged

Revision ID: 0005_merge
Revises: 0004_quality, 0004_tickets
"""

from __future__ import annotations

revision = "0005_merge"
down_revision = ("0004_quality", "0004_tickets")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
