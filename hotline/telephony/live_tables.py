"""The agent state history table. Rule: one row per stretch of one activity of one agent;
a row is open (no end) while the stretch lasts, and is closed exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class AgentStateRow(Base):
    __tablename__ = "agent_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interface: Mapped[str] = mapped_column(String(128), index=True)  # the queue member
    member: Mapped[str] = mapped_column(String(128), index=True)  # its member name
    state: Mapped[str] = mapped_column(String(16))  # live.Activity
    pause_reason: Mapped[str | None] = mapped_column(String(64))  # when paused
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    answered: Mapped[int] = mapped_column(Integer, default=0)  # calls connected in it
    missed: Mapped[int] = mapped_column(Integer, default=0)  # rings not answered in it
