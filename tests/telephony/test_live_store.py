"""The agent state history written a batch at a time (SQLite and PostgreSQL): the same rows
as storing the changes one by one (close the agent's open row, open the next)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.telephony.live import Activity, AgentChanged, AgentView, DeviceState, Segment
from hotline.telephony.live_store import LiveStore, StateRow

BASE = datetime(2026, 9, 25, 2, 0, tzinfo=UTC)
ACTIVITIES = list(Activity)


@dataclass
class Ref:
    """One by one, as the store did before batching: the reference."""

    rows: list[StateRow]

    def apply(self, c: AgentChanged) -> None:
        for i, r in enumerate(self.rows):
            if r.interface == c.agent.interface and r.ended_at is None:
                answered, missed = r.answered, r.missed
                if c.closed is not None:
                    answered, missed = c.closed.answered, c.closed.missed
                self.rows[i] = StateRow(
                    r.interface, r.member, r.activity, r.pause_reason, r.started_at, c.at,
                    answered, missed,
                )  # fmt: skip
        a = c.agent
        if a.activity is not Activity.LOGGED_OUT:
            reason = a.pause_reason if a.activity is Activity.PAUSED else None
            self.rows.append(StateRow(a.interface, a.member, a.activity, reason, a.since, None))


def change(rng: random.Random, n: int) -> AgentChanged:
    i = rng.randrange(4)
    at = BASE + timedelta(seconds=n)
    activity = rng.choice(ACTIVITIES)
    agent = AgentView(
        interface=f"PJSIP/{1000 + i}",
        member=f"客服{1000 + i}",
        state_interface=None,
        activity=activity,
        since=at,
        paused=activity is Activity.PAUSED,
        pause_reason=rng.choice(["小休", "用餐", None]),
        device=DeviceState.NOT_INUSE,
        queues=(),
    )
    closed = None
    if rng.random() < 0.5:
        closed = Segment(
            agent.interface,
            agent.member,
            activity,
            None,
            at,
            at,
            rng.randrange(3),
            rng.randrange(3),
        )
    return AgentChanged(at, agent, closed)


async def test_a_batch_stores_the_same_rows_as_one_change_at_a_time(engine: AsyncEngine) -> None:
    store = LiveStore(db.session_factory(engine))
    rng = random.Random(12)
    ref = Ref([])
    n = 0
    for size in [1, 5, 1, 30, 2, 0, 12, 40, 3]:  # the same agent several times in a batch
        batch = [change(rng, n + k) for k in range(size)]
        n += size
        await store.record(batch)
        for c in batch:
            ref.apply(c)
    stored = await store.rows(BASE - timedelta(days=1), BASE + timedelta(days=1))
    assert len(stored) > 50
    key = lambda r: (r.started_at, r.interface)  # noqa: E731
    assert sorted(stored, key=key) == sorted(ref.rows, key=key)
    assert stored == sorted(stored, key=lambda r: r.started_at)
    # at most one open row per agent, as the store's rule says
    open_ = [r.interface for r in stored if r.ended_at is None]
    assert len(open_) == len(set(open_))
