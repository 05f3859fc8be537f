"""security (issue 13): token expiry; a version on quality reviews for compare-and-set
decisions (no lost updates; tickets have had one since 0004)

Revision ID: w13sec_0010_security
Revises: w15survey_0010_call_surveys
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "w13sec_0010_security"
down_revision = "w15survey_0010_call_surveys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("quality_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("quality_scores", schema=None) as batch_op:
        batch_op.drop_column("version")
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
