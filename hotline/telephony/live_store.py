"""Agent state history in the database. Rule: a new stretch closes the agent's open row
and opens the next in one transaction, so an agent has at most one open row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.telephony.live import Activity, AgentChanged
from hotline.telephony.live_tables import AgentStateRow


@dataclass(frozen=True, slots=True)
class StateRow:
    """One stored stretch; `ended_at` None while it lasts."""

    interface: str
    member: str
    activity: Activity
    pause_reason: str | None
    started_at: datetime
    ended_at: datetime | None
    answered: int = 0
    missed: int = 0


def _row(r: AgentStateRow) -> StateRow:
    return StateRow(
        r.interface,
        r.member,
        Activity(r.state),
        r.pause_reason,
        r.started_at,
        r.ended_at,
        r.answered,
        r.missed,
    )


class LiveStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def close_open(self, at: datetime) -> int:
        """Close what was open when Hotline last stopped: from here on it is unknown."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                update(AgentStateRow).where(AgentStateRow.ended_at.is_(None)).values(ended_at=at)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    async def record(self, changes: Sequence[AgentChanged]) -> None:
        """Store the stretches these changes start (and close the ones they end)."""
        if not changes:
            return
        async with self._sessions() as session, session.begin():
            for c in changes:
                a, closed = c.agent, c.closed
                values: dict[str, object] = {"ended_at": c.at}
                if closed is not None:
                    values.update(answered=closed.answered, missed=closed.missed)
                await session.execute(
                    update(AgentStateRow)
                    .where(AgentStateRow.interface == a.interface)
                    .where(AgentStateRow.ended_at.is_(None))
                    .values(**values)
                )
                if a.activity is not Activity.LOGGED_OUT:
                    session.add(
                        AgentStateRow(
                            interface=a.interface,
                            member=a.member,
                            state=a.activity.value,
                            pause_reason=a.pause_reason if a.activity is Activity.PAUSED else None,
                            started_at=a.since,
                            ended_at=None,
                            answered=0,
                            missed=0,
                        )
                    )

    async def rows(self, since: datetime, until: datetime) -> list[StateRow]:
        """Every stretch that overlaps [since, until), open ones included."""
        async with self._sessions() as session:
            result = await session.scalars(
                select(AgentStateRow)
                .where(AgentStateRow.started_at < until)
                .where(or_(AgentStateRow.ended_at.is_(None), AgentStateRow.ended_at > since))
                .order_by(AgentStateRow.started_at, AgentStateRow.id)
            )
            return [_row(r) for r in result]
