"""The supervisor actions log. Rule: every action a person asked of the switch (pause,
unpause, log out, listen, whisper, barge) leaves one row saying who, when, on whom and
what the switch answered, whether it obeyed or refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class SupervisorActionRow(Base):
    __tablename__ = "supervisor_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # the user's name
    actor_role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16), index=True)  # supervision.Kind
    agent: Mapped[str] = mapped_column(String(128), index=True)  # the member's interface
    queue: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(64))  # the pause reason
    outcome: Mapped[str] = mapped_column(String(16))  # supervision.Outcome
    detail: Mapped[str | None] = mapped_column(Text)  # the switch's answer, the spy channel


@dataclass(frozen=True, slots=True)
class ActionEntry:
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    agent: str
    queue: str | None
    reason: str | None
    outcome: str
    detail: str | None


def _entry(r: SupervisorActionRow) -> ActionEntry:
    return ActionEntry(
        r.id, r.at, r.actor, r.actor_role, r.action, r.agent, r.queue, r.reason, r.outcome, r.detail
    )


class SupervisionStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(
        self,
        *,
        at: datetime,
        actor: str,
        actor_role: str,
        action: str,
        agent: str,
        queue: str | None,
        reason: str | None,
        outcome: str,
        detail: str | None,
    ) -> ActionEntry:
        row = SupervisorActionRow(
            at=at,
            actor=actor,
            actor_role=actor_role,
            action=action,
            agent=agent,
            queue=queue,
            reason=reason,
            outcome=outcome,
            detail=detail,
        )
        async with self._sessions() as session, session.begin():
            session.add(row)
        return _entry(row)

    async def find(
        self,
        *,
        agent: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[ActionEntry]:
        stmt = select(SupervisorActionRow).order_by(SupervisorActionRow.id.desc()).limit(limit)
        if agent:
            stmt = stmt.where(SupervisorActionRow.agent == agent)
        if actor:
            stmt = stmt.where(SupervisorActionRow.actor == actor)
        if since:
            stmt = stmt.where(SupervisorActionRow.at >= since)
        async with self._sessions() as session:
            return [_entry(r) for r in await session.scalars(stmt)]
