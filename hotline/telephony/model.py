"""Call records: the plain, frozen result of following one call on the switch.

This module keeps one rule: a record is data. The tracker builds it, the store saves it,
the API shows it; nobody past the tracker changes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"  # an agent (queue member or dialled phone) picked up; normal end
    DROPPED = "dropped"  # answered, then ended with an abnormal hang-up cause (断线)
    ABANDONED = "abandoned"  # the caller hung up while waiting in a queue
    NO_AGENT = "no_agent"  # queued, no agent answered (queue timeout), the switch ended it
    NOT_QUEUED = "not_queued"  # never queued, never answered by a person (IVR only, busy…)
    END_UNKNOWN = "end_unknown"  # the end was never seen (link lost); closed after a timeout


class Direction(StrEnum):
    INBOUND = "inbound"
    CALLBACK = "callback"  # originated by Hotline to call a customer back


class HangupBy(StrEnum):
    CALLER = "caller"
    AGENT = "agent"
    SYSTEM = "system"  # dialplan, queue timeout, transfer away
    UNKNOWN = "unknown"


class SurveyResult(StrEnum):
    """The caller's own verdict in the post-call survey (按1满意, 2基本满意, 3不满意)."""

    SATISFIED = "satisfied"  # 满意 (key 1)
    BASIC = "basic"  # 基本满意 (key 2)
    UNSATISFIED = "unsatisfied"  # 不满意 (key 3)
    UNRATED = "unrated"  # 未评价: offered, but the caller hung up or pressed no valid key


class AttemptResult(StrEnum):
    RINGING = "ringing"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"  # AgentRingNoAnswer: rang out without pickup
    CANCELLED = "cancelled"  # another member answered, or the caller left


@dataclass(frozen=True, slots=True)
class AgentAttempt:
    """One member rung for this call (AgentCalled), and how that ended."""

    queue: str
    member: str
    interface: str
    channel: str
    started_at: datetime
    result: AttemptResult = AttemptResult.RINGING
    ring_ms: int | None = None  # AgentRingNoAnswer's RingTime (ms), or measured


@dataclass(frozen=True, slots=True)
class QueueVisit:
    """One stay of the caller in one queue: join, then connect / abandon / timeout."""

    queue: str
    joined_at: datetime
    position: int | None = None
    left_at: datetime | None = None
    result: str | None = None  # "connect", "abandon", "timeout", "transfer"
    hold_s: int | None = None  # app_queue's own HoldTime for this visit (seconds)


@dataclass(frozen=True, slots=True)
class RingRule:
    """Answer within `max_rings` rings of `period_s` seconds (Chinese ringback: 1 s on, 4 s off)."""

    period_s: float = 5.0
    max_rings: int = 3

    def rings(self, ring_seconds: float) -> int:
        # 0.0005 s of slack: times are kept to the millisecond
        return max(1, math.ceil(ring_seconds / self.period_s - 0.0005 / self.period_s))

    def within(self, ring_seconds: float) -> bool:
        return self.rings(ring_seconds) <= self.max_rings


@dataclass(frozen=True, slots=True)
class CallRecord:
    call_id: str  # the Linkedid of the call when first seen (= the caller channel's Uniqueid)
    linkedid: str
    caller_uniqueid: str
    caller_channel: str
    entered_at: datetime
    direction: Direction = Direction.INBOUND
    caller_number: str | None = None
    caller_name: str | None = None
    dialled: str | None = None
    queue: str | None = None  # the last queue visited (the one that answered, if any)
    visits: tuple[QueueVisit, ...] = ()
    attempts: tuple[AgentAttempt, ...] = ()
    agent_member: str | None = None
    agent_interface: str | None = None
    agent_channel: str | None = None
    queue_joined_at: datetime | None = None  # first join
    ring_started_at: datetime | None = None  # first agent ringing in the visit that answered
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    ring_seconds: float | None = None  # ring_started_at -> answered_at
    rings: int | None = None
    within_rule: bool | None = None  # None when not answered
    wait_seconds: float | None = None  # entered queue (or call) -> answered / left
    talk_seconds: float | None = None
    hold_seconds: float = 0.0  # put on hold by the agent (Hold / Unhold)
    hangup_by: HangupBy | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    outcome: Outcome = Outcome.IN_PROGRESS
    recording_file: str | None = None  # MIXMONITOR_FILENAME as the switch wrote it
    callback_id: int | None = None  # set on calls Hotline originated as callbacks
    callback_reached_at: datetime | None = None  # UserEvent HotlineCallbackReached on the leg
    survey_offered_at: datetime | None = None  # UserEvent HotlineSurvey, Result: offered
    survey_result: SurveyResult | None = None  # None: no survey offered on this call
    variables: tuple[tuple[str, str], ...] = field(default=())

    @property
    def unanswered_attempts(self) -> tuple[AgentAttempt, ...]:
        return tuple(a for a in self.attempts if a.result is AttemptResult.NO_ANSWER)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class CallEventKind(StrEnum):
    ENTERED = "entered"  # a new call reached the switch
    QUEUED = "queued"  # the caller joined a queue
    AGENT_RINGING = "agent_ringing"  # a member's phone started ringing
    ANSWERED = "answered"  # an agent picked up within the ring rule
    ANSWERED_LATE = "answered_late"  # an agent picked up after more than the allowed rings
    ABANDONED = "abandoned"  # the caller hung up while waiting in a queue
    UPDATED = "updated"  # something else worth saving changed (recording file, hold…)
    ENDED = "ended"  # the call is over; `record` is final
    DISCARDED = "discarded"  # not a customer call after all (an agent's login session)


@dataclass(frozen=True, slots=True)
class CallEvent:
    kind: CallEventKind
    record: CallRecord
    at: datetime
