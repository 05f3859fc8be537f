"""The live service: feeds the pure live state from the call consumer, stores each agent's
stretches and publishes every change. Rule: it is fed only by the one ordered AMI consumer
(and its own clock tick), and a change is stored before it is published. On start, today's
queue counters are seeded from the stored calls, so a restart does not zero them.

Topics: `agent/state`, `queue/changed`, `queue/caller_joined`, `queue/caller_left` and
`live/link` (the AMI link as the live state sees it); MQTT mirrors the bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.exc import DBAPIError

from hotline.core.bus import Bus, Message
from hotline.telephony.events import AmiEvent
from hotline.telephony.live import (
    ACTIVITY_ZH,
    Activity,
    AgentChanged,
    AgentView,
    CallerJoined,
    CallerLeft,
    DayCounters,
    LiveChange,
    LiveSnapshot,
    LiveState,
    Offer,
    QueueChanged,
    QueueView,
    WaitingCaller,
)
from hotline.telephony.live_store import LiveStore

log = logging.getLogger(__name__)

AGENT_STATE = "agent/state"
QUEUE_CHANGED = "queue/changed"
CALLER_JOINED = "queue/caller_joined"
CALLER_LEFT = "queue/caller_left"
LINK = "live/link"


class TodaysCalls(Protocol):
    """Today's counters per queue from the stored calls (`CallStore`)."""

    async def queue_day_counts(self, day: date, zone: ZoneInfo) -> dict[str, DayCounters]: ...


def _offer(o: Offer) -> dict[str, Any]:
    return {
        "queue": o.queue,
        "call_id": o.call_id or None,
        "caller_number": o.caller_num,
        "since": o.since,
    }


def agent_payload(a: AgentView) -> dict[str, Any]:
    return {
        "interface": a.interface,
        "member": a.member,
        "state_interface": a.state_interface,
        "activity": a.activity.value,
        "activity_label": ACTIVITY_ZH[a.activity],
        "since": a.since,
        "paused": a.paused,
        "pause_reason": a.pause_reason,
        "device": a.device.value,
        "queues": [
            {"queue": m.queue, "paused": m.paused, "reason": m.reason, "penalty": m.penalty}
            for m in a.queues
        ],
        "ringing": [_offer(o) for o in a.ringing],
        "calls": [_offer(o) for o in a.calls],
        "wrapup_until": a.wrapup_until,
    }


def caller_payload(queue: str, c: WaitingCaller) -> dict[str, Any]:
    return {
        "queue": queue,
        "uniqueid": c.uniqueid,
        "call_id": c.call_id,
        "caller_number": c.caller_num,
        "caller_name": c.caller_name,
        "position": c.position,
        "joined_at": c.joined_at,
        "callback": c.callback,
    }


def queue_payload(q: QueueView, now: datetime | None = None) -> dict[str, Any]:
    t = q.today
    out: dict[str, Any] = {
        "queue": q.queue,
        "waiting": [caller_payload(q.queue, c) for c in q.waiting],
        "waiting_count": len(q.waiting),
        "longest_waiting_since": q.longest_waiting_since,
        "agents_logged_in": q.agents_logged_in,
        "agents_available": q.agents_available,
        "agents_paused": q.agents_paused,
        "agents_talking": q.agents_talking,
        "today": {
            "day": t.day.isoformat(),
            "offered": t.offered,
            "answered": t.answered,
            "answered_within_rule": t.answered_within,
            "abandoned": t.abandoned,
            "timed_out": t.timed_out,
            "callbacks": t.callbacks,
        },
    }
    if now is not None:
        out["longest_wait_seconds"] = round(q.longest_wait_s(now), 1)
    return out


def message(change: LiveChange) -> Message:
    """The bus message of one change."""
    if isinstance(change, AgentChanged):
        return Message(AGENT_STATE, agent_payload(change.agent), change.at)
    if isinstance(change, QueueChanged):
        return Message(QUEUE_CHANGED, queue_payload(change.queue), change.at)
    if isinstance(change, CallerJoined):
        return Message(CALLER_JOINED, caller_payload(change.queue, change.caller), change.at)
    if isinstance(change, CallerLeft):
        payload = {**caller_payload(change.queue, change.caller), "outcome": change.outcome.value}
        return Message(CALLER_LEFT, payload, change.at)
    return Message(LINK, {"up": change.up}, change.at)


def snapshot_payload(snap: LiveSnapshot, now: datetime) -> dict[str, Any]:
    return {
        "at": now,
        "link_up": snap.link_up,
        "agents": [agent_payload(a) for a in snap.agents],
        "queues": [queue_payload(q, now) for q in snap.queues],
    }


class LiveService:
    def __init__(
        self,
        state: LiveState,
        store: LiveStore,
        bus: Bus,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        tick_s: float = 1.0,
        calls: TodaysCalls | None = None,
    ) -> None:
        self.state = state
        self.store = store
        self.calls = calls
        self.bus = bus
        self.clock = clock
        self.tick_s = tick_s
        self._pending: list[LiveChange] = []
        self._opened: set[str] = set()  # interfaces with an open row written by us
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    # -- fed by the call consumer (synchronous, in AMI order) -------------------------------

    def feed(self, event: AmiEvent) -> None:
        self._pending += self.state.feed(event)

    def resync(self, listing: Sequence[AmiEvent], at: datetime) -> None:
        self._pending += self.state.resync(listing, at)

    def link_down(self, at: datetime) -> None:
        self._pending += self.state.link_down(at)

    def snapshot(self) -> LiveSnapshot:
        return self.state.snapshot()

    # -- I/O -------------------------------------------------------------------------------

    async def commit(self) -> None:
        """Store the new stretches, then publish every pending change in order."""
        async with self._lock:
            changes, self._pending = self._pending, []
            if not changes:
                return
            await self._store(changes)
            for change in changes:
                await self.bus.publish(message(change))

    async def _store(self, changes: list[LiveChange]) -> None:
        starts: list[AgentChanged] = []
        for c in changes:
            if not isinstance(c, AgentChanged):
                continue
            interface = c.agent.interface
            if c.closed is not None or interface not in self._opened:
                starts.append(c)
                if c.agent.activity is Activity.LOGGED_OUT:
                    self._opened.discard(interface)
                else:
                    self._opened.add(interface)
        delay = 0.5
        while starts:
            try:
                await self.store.record(starts)
                return
            except (DBAPIError, OSError) as exc:  # the database is away: hold the changes
                log.error("database unavailable for agent states, retry in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def start(self) -> None:
        """Close the stretches left open by the last run, seed today's counters from the
        stored calls, then let the clock tick."""
        closed = await self.store.close_open(self.clock())
        if closed:
            log.info("closed %d agent state(s) left open by the last run", closed)
        if self.calls is not None:
            now = self.clock()
            zone = self.state.timezone
            counts = await self.calls.queue_day_counts(now.astimezone(zone).date(), zone)
            self._pending += self.state.seed_today(now, counts)
            await self.commit()
        if self._task is None:
            self._task = asyncio.create_task(self._tick_forever(), name="live-tick")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def tick(self) -> None:
        self._pending += self.state.tick(self.clock())
        await self.commit()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.tick()
            except Exception:
                log.exception("live state tick failed")
