"""one history again on the agentws branch: the web and live revisions merged (the
integrator re-chains the branches' revisions and may drop this one)

Revision ID: agentws_0007_merge
Revises: web_0006_user_passwords, live_0006_agent_states
"""

from __future__ import annotations

revision = "agentws_0007_merge"
down_revision = ("web_0006_user_passwords", "live_0006_agent_states")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
