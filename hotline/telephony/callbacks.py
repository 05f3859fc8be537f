"""Dropped-call callbacks (断线应主动呼出): who is called back, when, and what happens next.

The one rule this module keeps: it only decides. No I/O, no asyncio, no clock is read;
every time comes in as an argument (an aware datetime, returned in UTC) and every number
comes from a `CallbackPolicy`. The callback service feeds it final `CallRecord`s, AMI
`OriginateResponse` results and the records of the callback legs themselves, stores what
it returns and dials when it is told to.

Done means connected: an answered Originate only says the customer's line picked up. An
attempt is done when its leg (the call Hotline originated, `direction=callback`) reached
an agent, or the queue when callbacks connect to the queue (`done_stage`); a leg that ends
short of that is a failed try, retried like any other (`judge_leg`).

Dedup: one callback per call, ever. `dedup_key(call_id)` is the value the service stores
under a unique constraint; a supervisor's retrigger reuses that same callback (its
attempts counter is reset), it never creates a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from hotline.core.errors import Conflict
from hotline.telephony.dialler import out_of_quiet_hours
from hotline.telephony.model import CallRecord, Direction, Outcome

ConnectKind = Literal["agent", "queue"]
CallbackReason = Literal["abandoned", "no_agent", "dropped", "switch_cut"]

# Caller IDs the switch presents when the number is withheld or unknown.
_WITHHELD = frozenset(
    {"<unknown>", "unknown", "anonymous", "restricted", "private", "unavailable", "<none>"}
)


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    """Every number of the callback rules. Times of day are in `timezone` (the hotline's)."""

    min_abandon_wait_s: float = 10.0  # shorter abandons are taken for misdials
    include_no_agent: bool = True  # queue timeouts (nobody answered) are called back too
    connect_to: ConnectKind = "agent"  # "agent": the one who had the call, else its queue
    fallback_queue: str | None = None  # when neither the agent nor the queue is known
    delay_s: float = 60.0  # first attempt this long after the call ended
    max_attempts: int = 3  # attempts in total (per trigger; a retrigger allows as many again)
    retry_interval_min: float = 10.0
    quiet_start: time = time(21, 0)  # no attempt from this time of day…
    quiet_end: time = time(8, 0)  # …until this one (exclusive); start == end: no quiet hours
    timezone: str = "Asia/Shanghai"
    min_number_digits: int = 3
    # an attempt whose customer answered but that is still not connected this long after
    # it was dialled (its leg's events lost) counts as a failed try: never stuck dialing
    leg_wait_max_min: float = 240.0

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.min_abandon_wait_s < 0:
            problems.append("min_abandon_wait_s must be >= 0")
        if self.connect_to not in get_args(ConnectKind):
            problems.append(f"connect_to must be 'agent' or 'queue', not {self.connect_to!r}")
        if self.delay_s < 0:
            problems.append("delay_s must be >= 0")
        if self.max_attempts < 1:
            problems.append("max_attempts must be >= 1")
        if self.retry_interval_min < 0:
            problems.append("retry_interval_min must be >= 0")
        if self.quiet_start.tzinfo is not None or self.quiet_end.tzinfo is not None:
            problems.append("quiet_start/quiet_end are local times of day without tzinfo")
        if self.min_number_digits < 1:
            problems.append("min_number_digits must be >= 1")
        if self.leg_wait_max_min <= 0:
            problems.append("leg_wait_max_min must be > 0")
        try:
            ZoneInfo(self.timezone)
        except (KeyError, ValueError):
            problems.append(f"unknown timezone {self.timezone!r} (use an IANA name)")
        if problems:
            raise ValueError("invalid CallbackPolicy: " + "; ".join(problems))

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class CallbackPlan:
    """The decision to call a customer back, made once from the final record of a call."""

    call_id: str
    number: str  # digits only; a leading '+' dropped (the dialplan adds any prefix)
    connect_to_kind: ConnectKind
    connect_to_target: str  # the agent's interface (e.g. "PJSIP/8001") or the queue name
    reason: CallbackReason
    first_attempt_at: datetime  # UTC, outside quiet hours


def dedup_key(call_id: str) -> str:
    """The unique key of the one callback a call may ever get.

    The service stores it under a unique constraint, so a record seen twice (replayed
    AMI stream, service restart) cannot create a second callback.
    """
    if not call_id.strip():
        raise ValueError("call_id is empty; a callback needs the call it belongs to")
    return f"callback:{call_id.strip()}"


# ---------------------------------------------------------------------------------------
# Eligibility and the plan


def usable_number(raw: str | None, min_digits: int = 3) -> tuple[str | None, str]:
    """(digits, "") for a number we can dial, or (None, why not)."""
    if raw is None or not raw.strip():
        return None, "no caller number (无主叫号码)"
    text = raw.strip()
    if text.lower() in _WITHHELD:
        return None, f"caller number withheld or unknown: {text!r} (主叫号码未知或隐藏)"
    digits = text.removeprefix("+")
    if not (digits.isascii() and digits.isdigit()):
        return None, f"caller number {text!r} is not all digits (主叫号码含非数字字符)"
    if len(digits) < min_digits:
        return None, f"caller number {text!r} has fewer than {min_digits} digits (主叫号码过短)"
    return digits, ""


def _waited_s(record: CallRecord) -> float:
    if record.wait_seconds is not None:
        return record.wait_seconds
    start = record.queue_joined_at or record.entered_at
    if record.ended_at is None:
        return 0.0
    return max(0.0, (record.ended_at - start).total_seconds())


def _reason_for(policy: CallbackPolicy, record: CallRecord) -> tuple[CallbackReason | None, str]:
    """(the plan's reason, "") or (None, why the call gets no callback)."""
    if record.outcome is Outcome.DROPPED:
        return "dropped", ""
    if record.outcome is Outcome.END_UNKNOWN:
        # the switch cut it (a restart, a crash losing the end events): a 断线 when the
        # customer was talking to an agent or waiting for one; the customer did not leave
        if record.answered_at is not None or record.visits:
            return "switch_cut", ""
        return None, (
            "outcome end_unknown before any queue or agent: nobody was serving the customer "
            "(交换机中断时客户尚未排队或接通)"
        )
    if record.outcome is Outcome.NO_AGENT and not policy.include_no_agent:
        return None, "outcome no_agent: callbacks for queue timeouts are off (include_no_agent)"
    if record.outcome in (Outcome.ABANDONED, Outcome.NO_AGENT):
        waited = _waited_s(record)
        if waited < policy.min_abandon_wait_s:
            return None, (
                f"outcome {record.outcome.value} after {waited:.1f} s of waiting, under "
                f"{policy.min_abandon_wait_s:g} s: taken for a misdial (等待过短，视为误拨)"
            )
        return ("abandoned" if record.outcome is Outcome.ABANDONED else "no_agent"), ""
    return None, f"outcome {record.outcome.value} does not call for a callback (无需回呼)"


def plan_callback(policy: CallbackPolicy, record: CallRecord) -> CallbackPlan | str:
    """The callback for a final call record, or a reason string (for the log) why none.

    Eligible: DROPPED always; END_UNKNOWN (cut by the switch) when the customer was
    talking to an agent or waiting in a queue; ABANDONED, and NO_AGENT when
    `include_no_agent`, after at least `min_abandon_wait_s` of waiting. Never a callback
    of a callback, never without a number to dial, never without somewhere to connect
    the customer to.
    """
    if record.is_open or record.outcome is Outcome.IN_PROGRESS:
        return f"call {record.call_id} is not over yet (通话尚未结束)"
    assert record.ended_at is not None  # is_open is False
    if record.direction is Direction.CALLBACK:
        return (
            f"call {record.call_id} is itself a callback; a failed callback is retried "
            "by its own callback (回呼通话不再回呼)"
        )
    reason, why_not = _reason_for(policy, record)
    if reason is None:
        return f"call {record.call_id}: {why_not}"
    number, why_not = usable_number(record.caller_number, policy.min_number_digits)
    if number is None:
        return f"call {record.call_id}: {why_not}"

    kind: ConnectKind
    if policy.connect_to == "agent" and record.agent_interface:
        kind, target = "agent", record.agent_interface
    elif record.queue or policy.fallback_queue:
        kind, target = "queue", record.queue or policy.fallback_queue or ""
    else:
        return (
            f"call {record.call_id}: neither an agent nor a queue is known and no "
            "fallback_queue is set (无可转接的坐席或队列)"
        )
    first = adjust_for_quiet_hours(policy, record.ended_at + timedelta(seconds=policy.delay_s))
    return CallbackPlan(
        call_id=record.call_id,
        number=number,
        connect_to_kind=kind,
        connect_to_target=target,
        reason=reason,
        first_attempt_at=first,
    )


# ---------------------------------------------------------------------------------------
# Scheduling


def _require_aware(t: datetime, name: str) -> None:
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime (UTC), got naive {t.isoformat()}")


def adjust_for_quiet_hours(policy: CallbackPolicy, t: datetime) -> datetime:
    """`t` in UTC, or the end of the quiet hours it falls in (start inclusive, end exclusive).

    Quiet hours may wrap midnight (21:00–08:00: 22:00 moves to 08:00 the next morning,
    03:00 to 08:00 the same morning) or not (12:00–13:30); start == end means none. The
    rule is the dialler's (`dialler.out_of_quiet_hours`), shared with the 回访.
    """
    return out_of_quiet_hours(t, policy.quiet_start, policy.quiet_end, policy.tz)


def next_attempt_at(
    policy: CallbackPolicy,
    attempts_made: int,
    last_attempt_at: datetime | None,
    now: datetime,
) -> datetime | None:
    """When to dial next: None when `max_attempts` are used up.

    With no attempt made yet, as soon as allowed (now, or the end of quiet hours);
    otherwise `retry_interval_min` after the last attempt. Never in the past, never in
    quiet hours.
    """
    _require_aware(now, "now")
    if attempts_made < 0:
        raise ValueError(f"attempts_made must be >= 0, got {attempts_made}")
    if attempts_made >= policy.max_attempts:
        return None
    if attempts_made == 0 or last_attempt_at is None:
        if attempts_made > 0:
            raise ValueError(f"{attempts_made} attempts made but no last_attempt_at given")
        candidate = now
    else:
        _require_aware(last_attempt_at, "last_attempt_at")
        candidate = max(now, last_attempt_at + timedelta(minutes=policy.retry_interval_min))
    return adjust_for_quiet_hours(policy, candidate)


# ---------------------------------------------------------------------------------------
# Attempt outcomes (AMI OriginateResponse)


class Verdict(StrEnum):
    DONE = "done"  # the customer was connected
    RETRY = "retry"  # try again later, if attempts are left
    FAILED_PERMANENT = "failed_permanent"  # retrying would not help


@dataclass(frozen=True, slots=True)
class AttemptVerdict:
    verdict: Verdict
    reason_text: str  # Chinese, for supervisors
    reason_code: int | None = None


# Asterisk originate reasons (AST_CONTROL_* of the outgoing channel's last state).
_FAILURE_REASONS: dict[int, tuple[Verdict, str]] = {
    0: (Verdict.FAILED_PERMANENT, "呼叫失败"),  # no such extension / channel failed
    1: (Verdict.RETRY, "客户挂断"),  # hung up / rejected while ringing
    3: (Verdict.RETRY, "客户未接听"),  # rang until the originate timeout
    4: (Verdict.RETRY, "客户接听后未能接通坐席"),  # answered, but the connect leg failed
    5: (Verdict.RETRY, "忙线"),
    8: (Verdict.RETRY, "线路拥塞"),
}


def classify_attempt(success: bool, reason_code: int | None) -> AttemptVerdict:
    """Classify one OriginateResponse: `Response: Success` is done, else by `Reason`.

    Reason 0 (no such extension, channel failed) is permanent; hang-up, no answer,
    busy, congestion and unknown or missing codes are retried while attempts are left.
    """
    if success:
        return AttemptVerdict(Verdict.DONE, "已接通", reason_code)
    if reason_code in _FAILURE_REASONS:
        verdict, text = _FAILURE_REASONS[reason_code]
        return AttemptVerdict(verdict, text, reason_code)
    if reason_code is None:
        return AttemptVerdict(Verdict.RETRY, "呼叫未成功（无原因码）", None)
    return AttemptVerdict(Verdict.RETRY, f"呼叫未成功（原因码 {reason_code}）", reason_code)


def classify_refusal(reason: str, *, permanent: bool) -> AttemptVerdict:
    """The switch refused the Originate itself (`Response: Error`). A refusal that cannot
    change (no such extension or context) fails the callback; any other is retried."""
    verdict = Verdict.FAILED_PERMANENT if permanent else Verdict.RETRY
    return AttemptVerdict(verdict, f"交换机拒绝了呼叫 ({reason})")


# ---------------------------------------------------------------------------------------
# How far an attempt got (the callback leg's own record)


class AttemptStage(StrEnum):
    """How far one attempt got, in order. `customer_answered` is the OriginateResponse;
    the later stages come from the leg's call record."""

    ORIGINATED = "originated"  # the Originate was sent
    CUSTOMER_ANSWERED = "customer_answered"  # OriginateResponse Success: the line picked up
    REACHED_CONTEXT = "reached_context"  # UserEvent HotlineCallbackReached: dialplan runs
    QUEUED = "queued"  # the customer joined a queue
    AGENT_CONNECTED = "agent_connected"  # an agent answered (AgentConnect, or a Dial answered)


_STAGES = tuple(AttemptStage)


def furthest(a: AttemptStage | str | None, b: AttemptStage | str | None) -> AttemptStage:
    """The later of two stages (a stored stage never goes back)."""
    known = [AttemptStage(s) for s in (a, b) if s]
    return max(known, key=_STAGES.index, default=AttemptStage.ORIGINATED)


def leg_stage(leg: CallRecord) -> AttemptStage:
    """How far the customer got on this callback leg, from its call record alone."""
    if leg.answered_at is not None:
        return AttemptStage.AGENT_CONNECTED
    if leg.visits or leg.queue_joined_at is not None:
        return AttemptStage.QUEUED
    if leg.callback_reached_at is not None:
        return AttemptStage.REACHED_CONTEXT
    return AttemptStage.ORIGINATED


def done_stage(connect_kind: str) -> AttemptStage:
    """Where an attempt is done: with an agent, or in the queue when the callback connects
    to the queue (`connect_to = "queue"`, or no agent known)."""
    return AttemptStage.QUEUED if connect_kind == "queue" else AttemptStage.AGENT_CONNECTED


_DONE_ZH = {
    AttemptStage.QUEUED: "已接通（客户已进入队列）",
    AttemptStage.AGENT_CONNECTED: "已接通坐席",
}
_SHORT_ZH = {
    AttemptStage.CUSTOMER_ANSWERED: (
        "客户接听后未进入回呼流程，请检查交换机的回呼拨号方案 (answered, but the callback "
        "context never ran)"
    ),
    AttemptStage.REACHED_CONTEXT: "客户接听后在接通坐席前挂断",
    AttemptStage.QUEUED: "客户在排队中挂断，未接通坐席",
}


def judge_leg(connect_kind: str, stage: AttemptStage, leg_ended: bool) -> AttemptVerdict | None:
    """The verdict of an attempt from how far its leg got, or None while it is still going.

    Done once the leg reached `done_stage` (even before it ends). A leg that ended short of
    it, after the customer answered, is a failed try (retried while attempts are left). A
    leg that ended before any answer waits for the OriginateResponse's reason instead.
    """
    target = done_stage(connect_kind)
    if _STAGES.index(stage) >= _STAGES.index(target):
        return AttemptVerdict(Verdict.DONE, _DONE_ZH[target])
    if not leg_ended or stage is AttemptStage.ORIGINATED:
        return None
    return AttemptVerdict(Verdict.RETRY, _SHORT_ZH[stage])


# ---------------------------------------------------------------------------------------
# States and transitions


class CallbackState(StrEnum):
    SCHEDULED = "scheduled"
    DIALING = "dialing"
    DONE = "done"
    EXHAUSTED = "exhausted"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINAL_STATES = frozenset(
    {CallbackState.DONE, CallbackState.EXHAUSTED, CallbackState.CANCELLED, CallbackState.FAILED}
)

_S = CallbackState
_ALLOWED: dict[CallbackState, frozenset[CallbackState]] = {
    _S.SCHEDULED: frozenset({_S.DIALING, _S.CANCELLED}),
    _S.DIALING: frozenset({_S.DONE, _S.SCHEDULED, _S.EXHAUSTED, _S.FAILED, _S.CANCELLED}),
    # final states: only a supervisor's retrigger leaves them
    **{s: frozenset({_S.SCHEDULED}) for s in FINAL_STATES},
}

_STATE_ZH = {
    _S.SCHEDULED: "已排期",
    _S.DIALING: "正在呼叫",
    _S.DONE: "已完成",
    _S.EXHAUSTED: "已用尽重试次数",
    _S.CANCELLED: "已取消",
    _S.FAILED: "已失败",
}
_ACTION_ZH = {
    _S.SCHEDULED: "重新排期",
    _S.DIALING: "发起呼叫",
    _S.DONE: "标记为完成",
    _S.EXHAUSTED: "标记为用尽重试",
    _S.CANCELLED: "取消",
    _S.FAILED: "标记为失败",
}


class CallbackTransitionError(Conflict):
    """A callback was asked to move to a state it cannot reach from where it is."""

    error_id = "callback_illegal_transition"

    def __init__(
        self,
        current: CallbackState,
        target: CallbackState,
        *,
        message_zh: str | None = None,
        message_en: str | None = None,
    ) -> None:
        self.current = current
        self.target = target
        self.message_zh = message_zh or f"回呼{_STATE_ZH[current]}，不能{_ACTION_ZH[target]}"
        allowed = ", ".join(sorted(_ALLOWED[current]))
        self.message_en = message_en or (
            f"a {current.value} callback cannot become {target.value} "
            f"(allowed from {current.value}: {allowed})"
        )
        super().__init__(f"{self.message_zh} ({self.message_en})")


def transition(current: CallbackState, target: CallbackState) -> CallbackState:
    """`target` when the move is legal, else `CallbackTransitionError`."""
    if target not in _ALLOWED[current]:
        raise CallbackTransitionError(current, target)
    return target


@dataclass(frozen=True, slots=True)
class CallbackProgress:
    """Where one callback stands. The service stores it next to the plan."""

    state: CallbackState
    attempts_made: int = 0  # since the plan or the last retrigger
    next_attempt_at: datetime | None = None  # set while scheduled
    last_attempt_at: datetime | None = None
    last_reason: str | None = None  # Chinese: the last attempt's reason_text, or the action


def start(plan: CallbackPlan) -> CallbackProgress:
    return CallbackProgress(CallbackState.SCHEDULED, next_attempt_at=plan.first_attempt_at)


def begin_attempt(progress: CallbackProgress) -> CallbackProgress:
    """scheduled -> dialing, as the service sends the Originate."""
    state = transition(progress.state, CallbackState.DIALING)
    return replace(progress, state=state, next_attempt_at=None)


def record_attempt(
    policy: CallbackPolicy, progress: CallbackProgress, verdict: AttemptVerdict, at: datetime
) -> CallbackProgress:
    """dialing -> done / failed / scheduled (retry) / exhausted, from one attempt's verdict.

    `at` is when the OriginateResponse arrived. A callback cancelled while dialing is no
    longer dialing, so a late response for it raises `CallbackTransitionError`.
    """
    _require_aware(at, "at")
    made = progress.attempts_made + 1
    base = replace(
        progress,
        attempts_made=made,
        last_attempt_at=at,
        last_reason=verdict.reason_text,
        next_attempt_at=None,
    )
    if verdict.verdict is Verdict.DONE:
        return replace(base, state=transition(progress.state, CallbackState.DONE))
    if verdict.verdict is Verdict.FAILED_PERMANENT:
        return replace(base, state=transition(progress.state, CallbackState.FAILED))
    when = next_attempt_at(policy, made, at, at)
    if when is None:
        return replace(base, state=transition(progress.state, CallbackState.EXHAUSTED))
    return replace(
        base, state=transition(progress.state, CallbackState.SCHEDULED), next_attempt_at=when
    )


def cancel(progress: CallbackProgress) -> CallbackProgress:
    """A supervisor's cancel: scheduled or dialing -> cancelled."""
    state = transition(progress.state, CallbackState.CANCELLED)
    return replace(progress, state=state, next_attempt_at=None, last_reason="主管取消")


def retrigger(
    policy: CallbackPolicy, progress: CallbackProgress, now: datetime
) -> CallbackProgress:
    """A supervisor's retrigger: a scheduled or final callback -> scheduled now (or when
    quiet hours end), with `max_attempts` attempts again. Not while dialing: one dial at a
    time (the service's compare-and-set on the state keeps that)."""
    if progress.state is CallbackState.DIALING:
        raise CallbackTransitionError(
            progress.state,
            CallbackState.SCHEDULED,
            message_zh="回呼正在呼叫，不能重新发起；请等本次呼叫结束",
            message_en=(
                "a dialing callback cannot be retriggered; wait for this attempt to end "
                "(never two dials at once)"
            ),
        )
    # a scheduled one stays scheduled, only sooner; a final one moves back to scheduled
    state: CallbackState = progress.state
    if state is not CallbackState.SCHEDULED:
        state = transition(state, CallbackState.SCHEDULED)
    return replace(
        progress,
        state=state,
        attempts_made=0,
        next_attempt_at=next_attempt_at(policy, 0, None, now),
        last_reason="主管重新发起",
    )
