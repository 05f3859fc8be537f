"""Agent state history in the database. Rule: a new stretch closes the agent's open row
and opens the next in one transaction, so an agent has at most one open row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Table, bindparam, insert, or_, select, update
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


_TABLE: Table = AgentStateRow.__table__  # type: ignore[assignment]
_OPEN_OF = (_TABLE.c.interface == bindparam("b_interface")) & _TABLE.c.ended_at.is_(None)
_CLOSE = update(_TABLE).where(_OPEN_OF).values(ended_at=bindparam("b_ended_at"))
_CLOSE_COUNTED = (
    update(_TABLE)
    .where(_OPEN_OF)
    .values(
        ended_at=bindparam("b_ended_at"),
        answered=bindparam("b_answered"),
        missed=bindparam("b_missed"),
    )
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
        """Store the stretches these changes start (and close the ones they end), in one
        transaction of two set-based statements: the stored open rows the batch ends are
        closed by one UPDATE per kind of end, then the batch's stretches are inserted at
        once, those a later change in the batch ended already closed."""
        if not changes:
            return
        ends: dict[str, dict[str, object]] = {}  # interface -> how its stored open row ends
        opened: dict[str, dict[str, object]] = {}  # interface -> the batch's row still open
        rows: list[dict[str, object]] = []
        for c in changes:
            a, closed = c.agent, c.closed
            end: dict[str, object] = {"ended_at": c.at}
            if closed is not None:
                end.update(answered=closed.answered, missed=closed.missed)
            mine = opened.pop(a.interface, None)
            if mine is not None:  # the batch opened it: it ends here
                mine.update(end)
            elif a.interface not in ends:  # the first change of this agent in the batch
                ends[a.interface] = end
            if a.activity is not Activity.LOGGED_OUT:
                row: dict[str, object] = {
                    "interface": a.interface,
                    "member": a.member,
                    "state": a.activity.value,
                    "pause_reason": a.pause_reason if a.activity is Activity.PAUSED else None,
                    "started_at": a.since,
                    "ended_at": None,
                    "answered": 0,
                    "missed": 0,
                }
                rows.append(row)
                opened[a.interface] = row
        plain = [
            {"b_interface": i, "b_ended_at": e["ended_at"]}
            for i, e in ends.items()
            if "answered" not in e
        ]
        counted = [
            {
                "b_interface": i,
                "b_ended_at": e["ended_at"],
                "b_answered": e["answered"],
                "b_missed": e["missed"],
            }
            for i, e in ends.items()
            if "answered" in e
        ]
        async with self._sessions() as session, session.begin():
            if plain:
                await session.execute(_CLOSE, plain)
            if counted:
                await session.execute(_CLOSE_COUNTED, counted)
            if rows:
                await session.execute(insert(_TABLE), rows)

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
