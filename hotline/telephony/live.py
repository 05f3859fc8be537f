"""The switch as it is now: agents' states and waiting callers. The one rule: every live
transition lives here, and it is pure.

`LiveState.feed(event) -> list[LiveChange]`: typed AMI events in, changes out (the new
view of an agent or a queue, a caller joining or leaving a queue). No I/O and no clock:
times come from the events, and `tick(now)` lets time pass (wrap-up ends, a new local day
resets the counters). The rules table is `_RULES`, at the end of this module.

- An agent is a queue member, keyed by its interface (app_queue's key); it is logged in
  while it is a member of at least one queue. Its activity is, first match wins:
  logged out (no queue) > talking (a queue call connected) > ringing (a queue call
  offered) > talking / ringing (its device in use, busy, on hold / ringing: a call outside
  the queues) > wrap-up (after its
  last call, for the member's or the queue's wrap-up time) > paused (in every queue it is
  in) > unavailable (its device is) > available. `since` moves only when the activity or
  the pause reason changes; each change closes a `Segment` for the history.
- A queue call ends at AgentComplete, or at the Hangup of its caller or agent leg when that
  comes first: app_queue sends no AgentComplete when the caller's hang-up races the
  bridge, and the agent would stay talking for good (a later AgentComplete changes nothing).
- An event about a member or queue we do not know creates it; nothing raises out of feed.
- After each login the switch's own QueueStatus listing (`resync`) replaces memberships,
  pauses and waiting callers: members not listed are logged out, callers not listed left.
- Today's counters per queue (the hotline's local day): offered (joins), answered
  (AgentConnect), answered within the ring rule (from the first agent rung in the visit),
  abandoned (QueueCallerAbandon, moved to timed out when the Queue() app then reports
  QUEUESTATUS=TIMEOUT, or the caller joins again), callbacks (joins of a call Hotline
  originated: HOTLINE_CALLBACK_ID). After a restart `seed_today` takes them from the stored
  calls: each counter becomes the larger of the stored count and the live one, so a call
  counted both ways is never counted twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from hotline.telephony.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentEvent,
    AgentRingNoAnswer,
    AmiEvent,
    DeviceState,
    DeviceStateChange,
    Hangup,
    MemberChange,
    MemberStatus,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    QueueParams,
    VarSet,
)
from hotline.telephony.model import RingRule

logger = logging.getLogger(__name__)

CALLBACK_VARIABLE = "HOTLINE_CALLBACK_ID"
_ON_A_CALL = frozenset({DeviceState.INUSE, DeviceState.BUSY, DeviceState.ONHOLD})
_ON_A_CALL |= {DeviceState.RINGINUSE}
_AWAY = frozenset({DeviceState.UNAVAILABLE, DeviceState.INVALID})
_LEAVE_GRACE = timedelta(seconds=1)  # AgentConnect follows QueueCallerLeave within this
_LISTED = "listed:"  # key prefix of a call known only from a listing's InCall


class Activity(StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"  # logged in, but the phone is unregistered / unreachable


ACTIVITY_ZH: Mapping[Activity, str] = {
    Activity.LOGGED_OUT: "未签入",
    Activity.AVAILABLE: "空闲",
    Activity.RINGING: "振铃",
    Activity.TALKING: "通话",
    Activity.WRAP_UP: "话后整理",
    Activity.PAUSED: "示忙",
    Activity.UNAVAILABLE: "话机离线",
}


class CallerOutcome(StrEnum):
    ANSWERED = "answered"  # connected to an agent
    ABANDONED = "abandoned"  # QueueCallerAbandon: hung up, or the queue timed out
    LEFT = "left"  # left the queue otherwise (transfer, leave-when-empty, hang-up)
    GONE = "gone"  # not in the switch's listing after a reconnect


@dataclass(frozen=True, slots=True)
class Membership:
    queue: str
    paused: bool = False
    reason: str | None = None
    penalty: int | None = None
    in_call: bool = False


@dataclass(frozen=True, slots=True)
class Offer:
    """A queue call ringing at, or connected to, an agent."""

    queue: str
    call_id: str  # the caller's Linkedid: the call record's call_id
    caller_uniqueid: str
    caller_num: str | None
    since: datetime


@dataclass(frozen=True, slots=True)
class AgentView:
    interface: str
    member: str
    state_interface: str | None
    activity: Activity
    since: datetime
    paused: bool
    pause_reason: str | None  # when paused
    device: DeviceState
    queues: tuple[Membership, ...]
    ringing: tuple[Offer, ...] = ()
    calls: tuple[Offer, ...] = ()
    wrapup_until: datetime | None = None

    def is_agent(self, agent: str | None) -> bool:
        """An agent user names the member (name or interface), as `answered_by` does."""
        return agent is not None and agent in (self.interface, self.member)


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of one activity of one agent, closed: what the history stores."""

    interface: str
    member: str
    activity: Activity
    pause_reason: str | None
    started_at: datetime
    ended_at: datetime
    answered: int = 0  # calls connected during it
    missed: int = 0  # rings not answered (AgentRingNoAnswer) during it


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    uniqueid: str
    call_id: str
    channel: str | None
    caller_num: str | None
    caller_name: str | None
    position: int
    joined_at: datetime
    callback: bool = False


@dataclass(frozen=True, slots=True)
class DayCounters:
    day: date
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    timed_out: int = 0
    callbacks: int = 0


DAY_COUNTERS = ("offered", "answered", "answered_within", "abandoned", "timed_out", "callbacks")


@dataclass(frozen=True, slots=True)
class QueueView:
    queue: str
    waiting: tuple[WaitingCaller, ...]
    agents_logged_in: int
    agents_available: int
    agents_paused: int
    agents_talking: int
    today: DayCounters

    @property
    def longest_waiting_since(self) -> datetime | None:
        return min((c.joined_at for c in self.waiting), default=None)

    def longest_wait_s(self, now: datetime) -> float:
        since = self.longest_waiting_since
        return 0.0 if since is None else max(0.0, (now - since).total_seconds())


@dataclass(frozen=True, slots=True)
class AgentChanged:
    at: datetime
    agent: AgentView
    closed: Segment | None = None  # the activity that just ended, when it changed


@dataclass(frozen=True, slots=True)
class QueueChanged:
    at: datetime
    queue: QueueView


@dataclass(frozen=True, slots=True)
class CallerJoined:
    at: datetime
    queue: str
    caller: WaitingCaller


@dataclass(frozen=True, slots=True)
class CallerLeft:
    at: datetime
    queue: str
    caller: WaitingCaller
    outcome: CallerOutcome


@dataclass(frozen=True, slots=True)
class LinkChanged:
    at: datetime
    up: bool


LiveChange = AgentChanged | QueueChanged | CallerJoined | CallerLeft | LinkChanged


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    at: datetime | None
    link_up: bool
    agents: tuple[AgentView, ...]
    queues: tuple[QueueView, ...]


# -- what the state keeps ---------------------------------------------------------------


@dataclass(slots=True)
class _Member:
    interface: str
    member: str
    since: datetime
    state_interface: str | None = None
    device: DeviceState = DeviceState.UNKNOWN
    queues: dict[str, Membership] = field(default_factory=dict)
    ringing: dict[str, Offer] = field(default_factory=dict)  # caller uniqueid -> offer
    calls: dict[str, Offer] = field(default_factory=dict)
    wrapup_until: datetime | None = None
    wrapup_s: int | None = None  # the member's own Wrapuptime; 0 / None = the queue's
    pause_reason: str | None = None  # of the latest pause
    activity: Activity = Activity.LOGGED_OUT
    reason: str | None = None  # pause reason of `activity` (PAUSED only)
    answered: int = 0  # in the current segment
    missed: int = 0
    view: AgentView | None = None  # as last emitted


@dataclass(slots=True)
class _Caller:
    uniqueid: str
    call_id: str
    channel: str | None
    caller_num: str | None
    caller_name: str | None
    position: int
    joined_at: datetime
    callback: bool = False
    rung_at: datetime | None = None  # the first agent rung in this visit

    def view(self) -> WaitingCaller:
        return WaitingCaller(
            self.uniqueid,
            self.call_id,
            self.channel,
            self.caller_num,
            self.caller_name,
            self.position,
            self.joined_at,
            self.callback,
        )


@dataclass(slots=True)
class _Queue:
    name: str
    today: DayCounters
    waiting: dict[str, _Caller] = field(default_factory=dict)  # by uniqueid, in join order
    members: set[str] = field(default_factory=set)  # interfaces
    view: QueueView | None = None


def _device_key(device: str) -> str:
    """`Local/1001@agents/n` (a member's interface) and `Local/1001@agents` (its device)."""
    if device.startswith("Local/") and "@" in device:
        head, _, tail = device.partition("@")
        return f"{head}@{tail.split('/', 1)[0]}"
    return device


class LiveState:
    def __init__(
        self,
        rule: RingRule,
        timezone: str | ZoneInfo,
        *,
        wrapup_s: float = 0.0,
        wrapup_by_queue: Mapping[str, float] | None = None,
    ) -> None:
        self._rule = rule
        self._zone = timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)
        self._wrapup_default = wrapup_s
        self._wrapup = dict(wrapup_by_queue or {})
        self._members: dict[str, _Member] = {}  # interface -> member
        self._queues: dict[str, _Queue] = {}
        self._devices: dict[str, set[str]] = {}  # device key -> interfaces
        self._leaving: dict[str, tuple[str, _Caller, datetime]] = {}  # left, verdict pending
        self._abandoned: dict[str, str] = {}  # uniqueid -> queue: abandon, maybe a timeout
        self._callbacks: set[str] = set()  # uniqueids / linkedids of Hotline's callbacks
        self._rung: dict[str, set[str]] = {}  # caller uniqueid -> interfaces it rang
        # caller or agent leg uniqueid of a connected call -> (interface, caller, agent leg)
        self._legs: dict[str, tuple[str, str, str]] = {}
        self._hung_up: set[str] = set()  # callers whose call a Hangup ended before AgentComplete
        self._day: date | None = None
        self._clock: datetime | None = None
        self.link_up = False
        self._dirty_agents: set[str] = set()
        self._dirty_queues: set[str] = set()
        self._out: list[LiveChange] = []

    # -- public API ------------------------------------------------------------------------

    def feed(self, event: AmiEvent) -> list[LiveChange]:
        """Apply one live event. Never raises: odd input is skipped with a debug line."""
        rule = _RULES.get(type(event))
        if rule is None:
            return []
        try:
            self._advance(event.at)
            self._settle_leaving(event.at)
            rule(self, event)
        except Exception:  # the contract: a bad event must not stop the live state
            logger.debug("live event skipped: %r", event, exc_info=True)
        return self._flush(event.at)

    def tick(self, now: datetime) -> list[LiveChange]:
        """Let time pass without events: wrap-ups end, a new local day starts."""
        try:
            self._advance(now)
            self._settle_leaving(now)
        except Exception:
            logger.debug("live tick failed at %s", now, exc_info=True)
        return self._flush(now)

    def link_down(self, at: datetime) -> list[LiveChange]:
        """The AMI link is down: the state is kept, marked stale until the next listing."""
        if self.link_up:
            self.link_up = False
            self._out.append(LinkChanged(at, False))
        return self._flush(at)

    def resync(self, listing: Sequence[AmiEvent], at: datetime) -> list[LiveChange]:
        """Rebuild memberships, pauses and waiting callers from a QueueStatus listing."""
        try:
            self._advance(at)
            self._settle_leaving(None)
            if not self.link_up:
                self.link_up = True
                self._out.append(LinkChanged(at, True))
            self._resync(listing, at)
        except Exception:
            logger.debug("listing partly skipped", exc_info=True)
        return self._flush(at)

    @property
    def timezone(self) -> ZoneInfo:
        """The hotline's zone: its local day is the counters' day."""
        return self._zone

    def seed_today(self, at: datetime, counts: Mapping[str, DayCounters]) -> list[LiveChange]:
        """Today's counters per queue from the stored calls (after a restart). Counters of
        another day than `at`'s local day are ignored; each counter of today becomes the
        larger of the seeded and the live value."""
        try:
            self._advance(at)
            for name, seed in counts.items():
                if seed.day != self._day:
                    continue
                q = self._queue(name)
                now = q.today
                best = {f: max(getattr(now, f), getattr(seed, f)) for f in DAY_COUNTERS}
                q.today = replace(now, **best)
                self._dirty_queues.add(name)
        except Exception:
            logger.debug("live counters not seeded at %s", at, exc_info=True)
        return self._flush(at)

    def snapshot(self) -> LiveSnapshot:
        agents = tuple(m.view for m in self._members.values() if m.view is not None)
        queues = tuple(q.view for q in self._queues.values() if q.view is not None)
        return LiveSnapshot(self._clock, self.link_up, agents, queues)

    # -- time ------------------------------------------------------------------------------

    def _advance(self, at: datetime) -> None:
        if self._clock is not None and at <= self._clock:
            return
        self._clock = at
        day = at.astimezone(self._zone).date()
        if self._day is None:
            self._day = day
        elif day != self._day:
            self._day = day
            midnight = datetime.combine(day, time(0), tzinfo=self._zone)
            self._hung_up.clear()  # AgentCompletes that never came
            for q in self._queues.values():
                q.today = DayCounters(day)
                self._dirty_queues.add(q.name)
            self._flush_into_out(midnight)
        ending = [m for m in self._members.values() if m.wrapup_until and m.wrapup_until <= at]
        for m in sorted(ending, key=lambda m: m.wrapup_until or at):
            until = m.wrapup_until or at
            m.wrapup_until = None
            self._touch(m)
            self._flush_into_out(until)

    def _flush_into_out(self, at: datetime) -> None:
        """Changes that happened at `at`, before the event being applied."""
        flushed = self._flush(at)
        self._out = flushed + self._out

    def _settle_leaving(self, now: datetime | None) -> None:
        """A caller who left the queue with no AgentConnect within a second: just left."""
        for uniqueid, (queue, caller, left_at) in list(self._leaving.items()):
            if now is None or left_at + _LEAVE_GRACE <= now:
                del self._leaving[uniqueid]
                self._out.append(CallerLeft(left_at, queue, caller.view(), CallerOutcome.LEFT))

    # -- lookups ---------------------------------------------------------------------------

    def _queue(self, name: str) -> _Queue:
        q = self._queues.get(name)
        if q is None:
            q = self._queues[name] = _Queue(name, DayCounters(self._day or date.min))
            self._dirty_queues.add(name)
        return q

    def _member(self, interface: str, name: str, queue: str | None, at: datetime) -> _Member:
        """The member, created when unknown; in `queue` (logged in to it) when given."""
        key = interface or name
        m = self._members.get(key)
        if m is None:
            logger.debug("live: new member %s (%s)", key, name)
            m = self._members[key] = _Member(key, name or key, at)
            self._index_device(m, key)
        if queue and queue not in m.queues:
            m.queues[queue] = Membership(queue)
            self._queue(queue).members.add(key)
        self._touch(m)
        return m

    def _index_device(self, m: _Member, device: str | None) -> None:
        if device:
            self._devices.setdefault(_device_key(device), set()).add(m.interface)

    def _touch(self, m: _Member) -> None:
        self._dirty_agents.add(m.interface)
        self._dirty_queues.update(m.queues)

    def _drop_membership(self, m: _Member, queue: str) -> None:
        if m.queues.pop(queue, None) is not None:
            self._dirty_queues.add(queue)
            q = self._queues.get(queue)
            if q is not None:
                q.members.discard(m.interface)
        for uid in [u for u, o in m.ringing.items() if o.queue == queue]:
            del m.ringing[uid]
        self._touch(m)

    def _forget_offers(self, uniqueid: str) -> None:
        """The caller is gone (answered elsewhere, abandoned): it rings nowhere any more."""
        for interface in self._rung.pop(uniqueid, ()):
            m = self._members.get(interface)
            if m is not None and m.ringing.pop(uniqueid, None) is not None:
                self._touch(m)

    def _renumber(self, q: _Queue) -> None:
        for i, c in enumerate(sorted(q.waiting.values(), key=lambda c: c.position), start=1):
            c.position = i

    def _count(self, q: _Queue, **deltas: int) -> None:
        today = q.today
        changes = {k: max(0, getattr(today, k) + d) for k, d in deltas.items()}
        q.today = replace(today, **changes)
        self._dirty_queues.add(q.name)

    # -- members ---------------------------------------------------------------------------

    def _on_member_status(self, e: MemberStatus) -> None:
        if e.change is MemberChange.REMOVED:
            m = self._members.get(e.interface)
            if m is not None:
                self._drop_membership(m, e.queue)
            return
        m = self._apply_member(e)
        if e.in_call is False and m.calls.pop(_LISTED + e.queue, None) is not None:
            self._touch(m)

    def _apply_member(self, e: MemberStatus) -> _Member:
        m = self._member(e.interface, e.member, e.queue, e.at)
        if e.member and e.member != e.interface:
            m.member = e.member
        if e.state_interface and e.state_interface != m.state_interface:
            m.state_interface = e.state_interface
            self._index_device(m, e.state_interface)
        if e.device is not None:
            m.device = e.device
        if e.wrapup_s is not None:
            m.wrapup_s = e.wrapup_s
        old = m.queues[e.queue]
        paused = old.paused if e.paused is None else e.paused
        reason = e.paused_reason if paused else None
        if e.paused is None and e.change is not MemberChange.PAUSE:
            reason = old.reason  # a status line without pause headers keeps the pause
        if paused and reason:
            m.pause_reason = reason
        m.queues[e.queue] = Membership(
            e.queue,
            paused,
            reason,
            e.penalty if e.penalty is not None else old.penalty,
            e.in_call if e.in_call is not None else old.in_call,
        )
        return m

    def _on_device(self, e: DeviceStateChange) -> None:
        for interface in self._devices.get(_device_key(e.device), ()):
            m = self._members.get(interface)
            if m is not None and m.device != e.state:
                m.device = e.state
                self._touch(m)

    # -- callers ---------------------------------------------------------------------------

    def _on_join(self, e: QueueCallerJoin) -> None:
        q = self._queue(e.queue)
        before = self._abandoned.pop(e.uniqueid, None)
        if before is not None:  # joins a queue again: the abandon was a timeout
            self._count(self._queue(before), abandoned=-1, timed_out=1)
        callback = e.uniqueid in self._callbacks or (e.linkedid or "") in self._callbacks
        caller = _Caller(
            e.uniqueid,
            e.linkedid or e.uniqueid,
            e.channel,
            e.caller_num,
            e.caller_name,
            e.position or len(q.waiting) + 1,
            e.at,
            callback,
        )
        q.waiting[e.uniqueid] = caller
        self._count(q, offered=1, callbacks=int(callback))
        self._out.append(CallerJoined(e.at, q.name, caller.view()))

    def _on_leave(self, e: QueueCallerLeave) -> None:
        q = self._queue(e.queue)
        caller = q.waiting.pop(e.uniqueid, None)
        if caller is None:
            return
        self._renumber(q)
        self._dirty_queues.add(q.name)
        self._leaving[e.uniqueid] = (q.name, caller, e.at)  # answered if AgentConnect follows

    def _on_abandon(self, e: QueueCallerAbandon) -> None:
        q = self._queue(e.queue)
        caller = q.waiting.pop(e.uniqueid, None)
        if caller is None and e.uniqueid in self._leaving:
            caller = self._leaving.pop(e.uniqueid)[1]
        self._renumber(q)
        self._count(q, abandoned=1)
        self._abandoned[e.uniqueid] = q.name
        self._forget_offers(e.uniqueid)
        if caller is not None:
            self._out.append(CallerLeft(e.at, q.name, caller.view(), CallerOutcome.ABANDONED))

    def _on_varset(self, e: VarSet) -> None:
        name = e.variable.lstrip("_").upper()
        if name == CALLBACK_VARIABLE and e.value:
            self._callbacks.update(u for u in (e.uniqueid, e.linkedid) if u)
        elif name == "QUEUESTATUS" and e.value.upper() == "TIMEOUT":
            queue = self._abandoned.pop(e.uniqueid, None)
            if queue is not None and queue in self._queues:
                self._count(self._queues[queue], abandoned=-1, timed_out=1)

    def _on_hangup(self, e: Hangup) -> None:
        self._callbacks.discard(e.uniqueid)
        self._abandoned.pop(e.uniqueid, None)
        for q in self._queues.values():
            caller = q.waiting.pop(e.uniqueid, None)
            if caller is not None:  # gone without QueueCallerAbandon (never seen, but safe)
                self._renumber(q)
                self._dirty_queues.add(q.name)
                self._out.append(CallerLeft(e.at, q.name, caller.view(), CallerOutcome.LEFT))
        self._forget_offers(e.uniqueid)
        leg = self._drop_legs(e.uniqueid)
        m = self._members.get(leg[0]) if leg is not None else None
        if leg is not None and m is not None:
            offer = m.calls.pop(leg[1], None)
            if offer is not None:  # the call is over, whether AgentComplete follows or not
                self._hung_up.add(leg[1])
                self._call_ended(m, offer.queue, e.at)

    def _drop_legs(self, uniqueid: str) -> tuple[str, str, str] | None:
        leg = self._legs.pop(uniqueid, None)
        if leg is not None:
            for u in leg[1:]:
                self._legs.pop(u, None)
        return leg

    # -- agents and calls ------------------------------------------------------------------

    def _waiting(self, queue: str, uniqueid: str) -> _Caller | None:
        q = self._queues.get(queue)
        caller = q.waiting.get(uniqueid) if q is not None else None
        if caller is None and uniqueid in self._leaving:
            caller = self._leaving[uniqueid][1]
        return caller

    def _offer(self, e: AgentEvent, caller: _Caller | None) -> Offer:
        num = caller.caller_num if caller is not None else None
        return Offer(e.queue, e.linkedid or e.uniqueid, e.uniqueid, num, e.at)

    def _on_called(self, e: AgentCalled) -> None:
        m = self._member(e.interface, e.member, e.queue, e.at)
        caller = self._waiting(e.queue, e.uniqueid)
        if caller is not None and caller.rung_at is None:
            caller.rung_at = e.at
        m.ringing[e.uniqueid] = self._offer(e, caller)
        self._rung.setdefault(e.uniqueid, set()).add(m.interface)

    def _on_ring_no_answer(self, e: AgentRingNoAnswer) -> None:
        m = self._member(e.interface, e.member, e.queue, e.at)
        m.ringing.pop(e.uniqueid, None)
        m.missed += 1

    def _on_connect(self, e: AgentConnect) -> None:
        m = self._member(e.interface, e.member, e.queue, e.at)
        q = self._queue(e.queue)
        caller = q.waiting.pop(e.uniqueid, None)
        left_at = e.at
        if caller is None and e.uniqueid in self._leaving:
            _, caller, left_at = self._leaving.pop(e.uniqueid)
        else:
            self._renumber(q)
        offer = m.ringing.pop(e.uniqueid, None) or self._offer(e, caller)
        m.calls[e.uniqueid] = replace(offer, since=e.at)
        leg = (m.interface, e.uniqueid, e.dest_uniqueid or e.uniqueid)
        self._legs[e.uniqueid] = self._legs[leg[2]] = leg
        self._hung_up.discard(e.uniqueid)
        m.wrapup_until = None
        m.answered += 1
        self._forget_offers(e.uniqueid)
        rung = caller.rung_at if caller is not None else None
        ring_s = (e.at - rung).total_seconds() if rung else float(e.ring_time_s or 0)
        self._count(q, answered=1, answered_within=int(self._rule.within(ring_s)))
        if caller is not None:
            self._out.append(CallerLeft(left_at, q.name, caller.view(), CallerOutcome.ANSWERED))

    def _on_complete(self, e: AgentComplete) -> None:
        m = self._member(e.interface, e.member, e.queue, e.at)
        self._drop_legs(e.uniqueid)
        if e.uniqueid in self._hung_up:  # ended at its Hangup: wrap-up runs from there
            self._hung_up.discard(e.uniqueid)
            return
        m.calls.pop(e.uniqueid, None)
        m.calls.pop(_LISTED + e.queue, None)
        self._call_ended(m, e.queue, e.at)

    def _call_ended(self, m: _Member, queue: str, at: datetime) -> None:
        """Wrap-up starts when the member's last call ends."""
        self._touch(m)
        if not m.calls:
            wrap = float(m.wrapup_s or 0) or self._wrapup.get(queue, self._wrapup_default)
            m.wrapup_until = at + timedelta(seconds=wrap) if wrap > 0 else None

    # -- the listing -----------------------------------------------------------------------

    def _resync(self, listing: Sequence[AmiEvent], at: datetime) -> None:
        members = [e for e in listing if isinstance(e, MemberStatus)]
        params = [e for e in listing if isinstance(e, QueueParams)]
        entries = [e for e in listing if isinstance(e, QueueEntry)]
        if not members and not params and not entries:
            return  # no QueueStatus answer: nothing to rebuild from
        listed = {(e.interface, e.queue) for e in members}
        for m in list(self._members.values()):
            for queue in [q for q in m.queues if (m.interface, q) not in listed]:
                self._drop_membership(m, queue)
        for p in params:
            self._queue(p.queue)
        for e in members:
            m = self._apply_member(replace(e, at=at))
            call_here = {u for u, o in m.calls.items() if o.queue == e.queue}
            if e.in_call is False:
                for uid in call_here:
                    del m.calls[uid]
            elif e.in_call and not call_here:  # talking to a caller we never saw connect
                m.calls[_LISTED + e.queue] = Offer(e.queue, "", "", None, at)
        queues = {p.queue for p in params} | {e.queue for e in members}
        queues |= {e.queue for e in entries}
        for name in queues:
            self._resync_waiting(self._queue(name), [e for e in entries if e.queue == name], at)
        waiting = {u for q in self._queues.values() for u in q.waiting}
        for m in self._members.values():
            for uid in [u for u in m.ringing if u not in waiting]:
                del m.ringing[uid]
                self._touch(m)

    def _resync_waiting(self, q: _Queue, entries: list[QueueEntry], at: datetime) -> None:
        old = q.waiting
        q.waiting = {}
        for e in sorted(entries, key=lambda e: e.position or 0):
            caller = old.pop(e.uniqueid, None)
            if caller is None:
                caller = _Caller(
                    e.uniqueid,
                    e.uniqueid,
                    e.channel,
                    e.caller_num,
                    e.caller_name,
                    e.position or len(q.waiting) + 1,
                    at - timedelta(seconds=e.wait_s or 0),
                    e.uniqueid in self._callbacks,
                )
                self._out.append(CallerJoined(at, q.name, caller.view()))
            caller.position = e.position or caller.position
            q.waiting[e.uniqueid] = caller
        for caller in old.values():
            self._out.append(CallerLeft(at, q.name, caller.view(), CallerOutcome.GONE))
        self._dirty_queues.add(q.name)

    # -- views -----------------------------------------------------------------------------

    def _activity(self, m: _Member) -> tuple[Activity, str | None]:
        if not m.queues:
            return Activity.LOGGED_OUT, None
        if m.calls:  # what app_queue says first: a Local member's device is in use while
            return Activity.TALKING, None  # it merely rings
        if m.ringing:
            return Activity.RINGING, None
        if m.device in _ON_A_CALL:  # a call outside the queues (direct, outbound)
            return Activity.TALKING, None
        if m.device is DeviceState.RINGING:
            return Activity.RINGING, None
        if m.wrapup_until is not None:
            return Activity.WRAP_UP, None
        if all(ms.paused for ms in m.queues.values()):
            reasons = sorted({ms.reason for ms in m.queues.values() if ms.reason})
            if m.pause_reason in reasons:
                return Activity.PAUSED, m.pause_reason
            return Activity.PAUSED, reasons[0] if reasons else None
        if m.device in _AWAY:
            return Activity.UNAVAILABLE, None
        return Activity.AVAILABLE, None

    def _agent_view(self, m: _Member) -> AgentView:
        paused = bool(m.queues) and all(ms.paused for ms in m.queues.values())
        return AgentView(
            m.interface,
            m.member,
            m.state_interface,
            m.activity,
            m.since,
            paused,
            (m.reason or m.pause_reason) if paused else None,
            m.device,
            tuple(m.queues[q] for q in sorted(m.queues)),
            tuple(m.ringing.values()),
            tuple(m.calls.values()),
            m.wrapup_until,
        )

    def _queue_view(self, q: _Queue) -> QueueView:
        logged = available = paused = talking = 0
        for interface in q.members:
            m = self._members.get(interface)
            membership = m.queues.get(q.name) if m is not None else None
            if m is None or membership is None:
                continue
            logged += 1
            if m.activity is Activity.TALKING:
                talking += 1
            elif membership.paused:
                paused += 1
            elif m.activity is Activity.AVAILABLE:
                available += 1
        waiting = tuple(c.view() for c in sorted(q.waiting.values(), key=lambda c: c.position))
        return QueueView(q.name, waiting, logged, available, paused, talking, q.today)

    def _flush(self, at: datetime) -> list[LiveChange]:
        out, self._out = self._out, []
        for interface in sorted(self._dirty_agents):
            m = self._members.get(interface)
            if m is None:
                continue
            activity, reason = self._activity(m)
            closed = None
            if (activity, reason) != (m.activity, m.reason) or m.view is None:
                if m.view is not None:
                    closed = Segment(
                        m.interface,
                        m.member,
                        m.activity,
                        m.reason,
                        m.since,
                        max(at, m.since),
                        m.answered,
                        m.missed,
                    )
                m.activity, m.reason, m.since = activity, reason, max(at, m.since)
                m.answered = m.missed = 0
                self._dirty_queues.update(m.queues)
            view = self._agent_view(m)
            if view != m.view:
                m.view = view
                out.append(AgentChanged(at, view, closed))
            if activity is Activity.LOGGED_OUT:
                self._forget_member(m)
        self._dirty_agents.clear()
        for name in sorted(self._dirty_queues):
            q = self._queues.get(name)
            if q is None:
                continue
            qview = self._queue_view(q)
            if qview != q.view:
                q.view = qview
                out.append(QueueChanged(at, qview))
        self._dirty_queues.clear()
        return out

    def _forget_member(self, m: _Member) -> None:
        del self._members[m.interface]
        for interfaces in self._devices.values():
            interfaces.discard(m.interface)


_Rule = Callable[[LiveState, Any], None]

# The rules table: event type -> the transition it drives (QueueParams / QueueEntry and the
# `listed` MemberStatus lines matter to resync()).
_RULES: dict[type[AmiEvent], _Rule] = {
    MemberStatus: LiveState._on_member_status,  # added / removed / status / pause / penalty
    DeviceStateChange: LiveState._on_device,  # the phone of a member (its state interface)
    QueueCallerJoin: LiveState._on_join,  # waiting; offered (+ callback) today
    QueueCallerLeave: LiveState._on_leave,  # not waiting; answered if AgentConnect follows
    QueueCallerAbandon: LiveState._on_abandon,  # abandoned today (a timeout, as it turns out)
    VarSet: LiveState._on_varset,  # callback id; QUEUESTATUS=TIMEOUT after an abandon
    Hangup: LiveState._on_hangup,
    AgentCalled: LiveState._on_called,  # ringing
    AgentRingNoAnswer: LiveState._on_ring_no_answer,  # not ringing; a ring not answered
    AgentConnect: LiveState._on_connect,  # talking; answered (within the rule) today
    AgentComplete: LiveState._on_complete,  # wrap-up when it was the last call
}
