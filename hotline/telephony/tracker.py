"""The call state machine. The one rule: every call transition lives here, and it is pure.

`CallTracker.feed(event) -> list[CallEvent]`: typed AMI events in, call events (each with a
full `CallRecord` snapshot) out. No I/O, no clock: every time comes from the events.

How a call is followed (the rules table is `_RULES`, at the end of this module):
- A call is the channels sharing the Linkedid of its root channel (Uniqueid == Linkedid
  at Newchannel); call_id = that Linkedid. A channel is mapped to its call when first seen
  and never re-mapped (an agent pool's Local;2 later takes the agent login's Linkedid), nor
  brought back to life: a channel that hung up stays mapped, not live, until its call ends
  (AgentComplete about the caller may follow the caller's Hangup).
- A root channel that runs AgentLogin is an agent's login session: DISCARDED, never ENDED.
- Queue events are attributed through the caller's Uniqueid.
- QueueCallerAbandon fires on a caller hang-up AND on a queue timeout; the visit's verdict
  waits for the caller's next step: joins again / more dialplan / normal-clearing hang-up
  from the dialplan -> "timeout"; hang-up asked by the caller or any other cause -> "abandon".
- The call ends (ENDED) when its last live channel hangs up. A caller sent on to the
  post-call survey after the agent hung up keeps the call open until the caller hangs up;
  the survey's UserEvents (HotlineSurvey) set its verdict, 未评价 when it was offered and
  the call ended without an answer; a queue in `survey_off` has no survey.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from hotline.telephony.events import (
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentLogin,
    AgentRingNoAnswer,
    AmiEvent,
    BridgeEnter,
    BridgeLeave,
    DialBegin,
    DialEnd,
    Hangup,
    HangupRequest,
    Hold,
    ListedChannel,
    NewCallerid,
    Newchannel,
    Newexten,
    Newstate,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    Unhold,
    UserEvent,
    VarSet,
)
from hotline.telephony.model import (
    AgentAttempt,
    AttemptResult,
    CallEvent,
    CallEventKind,
    CallRecord,
    Direction,
    HangupBy,
    Outcome,
    QueueVisit,
    RingRule,
    SurveyResult,
)
from hotline.telephony.survey import SURVEY_EVENT, read_result, surveyed

logger = logging.getLogger(__name__)
ENDED_KEPT = 100_000  # ids of ended calls remembered against a Linkedid reused by the switch

# AgentComplete Reason -> who ended the conversation.
REASON_HANGUP_BY = {"caller": HangupBy.CALLER, "agent": HangupBy.AGENT, "transfer": HangupBy.SYSTEM}
# A caller hang-up with one of these causes after QueueCallerAbandon, with no HangupRequest
# from the caller, is the dialplan ending the call after a queue timeout (X3 in the capture).
DIALPLAN_END_CAUSES = frozenset({16})
RECORDING_VARIABLE = "MIXMONITOR_FILENAME"
CALLBACK_VARIABLE = "HOTLINE_CALLBACK_ID"
CALLBACK_REACHED_EVENT = "hotlinecallbackreached"  # UserEvent of [hotline-callback], lower
_NO_NUMBER = frozenset({"", "<unknown>", "unknown", "anonymous"})
_NO_EXTEN = frozenset({"", "s", "h", "i", "t"})


@dataclass(slots=True)
class _Call:
    """What the tracker keeps about one open call besides its record."""

    record: CallRecord
    live: set[str]  # uniqueids of this call's channels not yet hung up
    last_at: datetime  # time of the last event seen for this call
    confirmed: bool = True  # False after link_down until a live event or a listing
    unseen: set[str] = field(default_factory=set)  # live before link_down, not seen since
    caller_asked_hangup: bool = False  # HangupRequest on the caller channel
    caller_continued: bool = False  # dialplan ran on after a QueueCallerAbandon
    request_party: HangupBy | None = None  # first Hangup(Soft)Request while answered
    first_hangup_party: HangupBy | None = None  # first bridged party gone while answered
    agent_cause: int | None = None  # hang-up cause of the answering agent's channel
    dial_begins: dict[str, datetime] = field(default_factory=dict)  # plain Dial: dest -> t
    dial_answers: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    bridges: dict[str, set[str]] = field(default_factory=dict)
    holds: dict[str, datetime] = field(default_factory=dict)


def _number(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in _NO_NUMBER else value


def _exten(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() in _NO_EXTEN else value


def _secs(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


def _pending_abandon(record: CallRecord) -> int | None:
    """Index of the visit left by QueueCallerAbandon whose verdict is not decided yet."""
    if record.visits and record.visits[-1].result is None and record.visits[-1].hold_s is not None:
        return len(record.visits) - 1
    return None


def _open_visit(record: CallRecord, queue: str | None = None) -> int | None:
    """Index of the visit the caller is still waiting in (no verdict, not left by abandon)."""
    for i in range(len(record.visits) - 1, -1, -1):
        v = record.visits[i]
        if v.result is None and v.hold_s is None and (queue is None or v.queue == queue):
            return i
    return None


def _visit_attempts(record: CallRecord, vi: int) -> list[int]:
    """Indexes of the attempts rung during visit `vi` (same queue, from its join to the next)."""
    visit = record.visits[vi]
    until = record.visits[vi + 1].joined_at if vi + 1 < len(record.visits) else None
    return [
        i
        for i, a in enumerate(record.attempts)
        if a.queue == visit.queue
        and a.started_at >= visit.joined_at
        and (until is None or a.started_at < until)
    ]


def _latest(record: CallRecord) -> datetime:
    times = [record.entered_at, *(v.joined_at for v in record.visits)]
    times += [a.started_at for a in record.attempts]
    times += [t for t in (record.answered_at, *(v.left_at for v in record.visits)) if t is not None]
    return max(times)


class CallTracker:
    def __init__(
        self,
        rule: RingRule,
        abnormal_causes: frozenset[int],
        survey_off: frozenset[str] = frozenset(),
    ) -> None:
        self._rule = rule
        self._abnormal = abnormal_causes
        self._survey_off = survey_off  # queues whose calls have no post-call survey
        self._calls: dict[str, _Call] = {}  # call_id -> open call
        self._channels: dict[str, str] = {}  # uniqueid -> call_id, fixed when first seen
        self._logins: set[str] = set()  # Linkedids of agent login sessions (not calls)
        # A switch restarted within the same second hands out the same Uniqueids again: an
        # open call is found by its Linkedid here when its call_id had to differ, and the
        # ids of ended calls are remembered so a reused Linkedid never overwrites a record
        self._by_linkedid: dict[str, str] = {}  # Linkedid -> call_id, where they differ
        self._ended: OrderedDict[str, None] = OrderedDict()

    # -- public API ------------------------------------------------------------------------

    def feed(self, event: AmiEvent) -> list[CallEvent]:
        """Apply one live event. Never raises: odd input is skipped with a debug line."""
        try:
            return self._feed(event)
        except Exception:  # the contract: a bad event must not stop the tracker
            logger.debug("event skipped: %r", event, exc_info=True)
            return []

    def open_calls(self) -> list[CallRecord]:
        return [call.record for call in self._calls.values()]

    def restore(self, records: Iterable[CallRecord]) -> None:
        """Reload in-progress calls (from the store); unconfirmed until a listing or event."""
        for record in records:
            if not record.is_open or record.call_id in self._calls:
                continue
            call = _Call(record, {record.caller_uniqueid}, _latest(record), confirmed=False)
            call.unseen = {record.caller_uniqueid}
            self._calls[record.call_id] = call
            self._channels[record.caller_uniqueid] = record.call_id
            if record.linkedid and record.linkedid != record.call_id:
                self._by_linkedid[record.linkedid] = record.call_id

    def link_down(self, at: datetime) -> None:
        logger.debug("AMI link down at %s: %d open calls unconfirmed", at, len(self._calls))
        for call in self._calls.values():
            call.confirmed = False
            call.unseen = set(call.live)

    def resync(self, frames: Sequence[AmiEvent], at: datetime) -> list[CallEvent]:
        """Confirm (or create) what a fresh listing shows; close the unconfirmed rest."""
        out: list[CallEvent] = []
        try:
            out += self._resync_channels([f for f in frames if isinstance(f, ListedChannel)], at)
            for entry in (f for f in frames if isinstance(f, QueueEntry)):
                out += self._resync_queue_entry(entry, at)
        except Exception:
            logger.debug("listing partly skipped", exc_info=True)
        for call in list(self._calls.values()):
            if not call.confirmed:
                out += self._close_unknown(call, at)
        return out

    def expire(self, now: datetime, max_age: timedelta) -> list[CallEvent]:
        """Close calls with no event for longer than `max_age` as END_UNKNOWN."""
        out: list[CallEvent] = []
        for call in list(self._calls.values()):
            if now - call.last_at > max_age:
                out += self._close_unknown(call, now)
        return out

    # -- dispatch --------------------------------------------------------------------------

    def _feed(self, event: AmiEvent) -> list[CallEvent]:
        if isinstance(event, Newchannel):
            return self._on_newchannel(event)
        rule = _RULES.get(type(event))
        if rule is None:
            return []
        uniqueid = getattr(event, "uniqueid", None) or getattr(event, "dest_uniqueid", None)
        if isinstance(event, Hangup) and event.uniqueid in self._logins:
            self._logins.discard(event.uniqueid)  # the login session is over
            return []
        call = self._call_for(uniqueid, getattr(event, "linkedid", None))
        if call is None:
            return []
        if event.at > call.last_at:
            call.last_at = event.at
        if event.at < call.record.entered_at:  # entry estimated from a listing: it was earlier
            call.record = replace(call.record, entered_at=event.at)
        call.confirmed = True
        call.unseen.discard(uniqueid)
        return rule(self, call, event)

    def _call_for(self, uniqueid: str | None, linkedid: str | None) -> _Call | None:
        if uniqueid is None:
            return None
        call_id = self._channels.get(uniqueid)
        if call_id is not None:
            return self._calls.get(call_id)
        call = self._open_by_linkedid(linkedid) if linkedid else None
        if call is not None:  # a channel whose Newchannel we missed (restore, resync)
            self._attach(call, uniqueid)
        return call

    def _open_by_linkedid(self, linkedid: str) -> _Call | None:
        return self._calls.get(self._by_linkedid.get(linkedid, linkedid))

    def _fresh_id(self, linkedid: str) -> str:
        """The call_id of a new call: its Linkedid, unless an ended call already had that id
        (the switch restarted and counts again): then `<linkedid>~2`, `~3`, …"""
        if linkedid not in self._ended and linkedid not in self._calls:
            return linkedid
        n = 2
        while f"{linkedid}~{n}" in self._ended or f"{linkedid}~{n}" in self._calls:
            n += 1
        call_id = f"{linkedid}~{n}"
        logger.warning("Linkedid %s seen again (switch restarted?): call %s", linkedid, call_id)
        self._by_linkedid[linkedid] = call_id
        return call_id

    def _attach(self, call: _Call, uniqueid: str) -> None:
        if uniqueid not in self._channels:
            self._channels[uniqueid] = call.record.call_id
            call.live.add(uniqueid)

    def _emit(self, kind: CallEventKind, call: _Call, at: datetime) -> list[CallEvent]:
        return [CallEvent(kind, call.record, at)]

    def _party(self, call: _Call, channel: str, uniqueid: str) -> HangupBy | None:
        if uniqueid == call.record.caller_uniqueid:
            return HangupBy.CALLER
        if call.record.agent_channel is not None and channel == call.record.agent_channel:
            return HangupBy.AGENT
        return None

    # -- channel life ----------------------------------------------------------------------

    def _on_newchannel(self, e: Newchannel) -> list[CallEvent]:
        if e.uniqueid in self._channels or e.linkedid in self._logins:
            return []
        if e.uniqueid == e.linkedid:
            record = CallRecord(
                call_id=self._fresh_id(e.uniqueid),
                linkedid=e.uniqueid,
                caller_uniqueid=e.uniqueid,
                caller_channel=e.channel,
                entered_at=e.at,
                caller_number=_number(e.caller_num),
                caller_name=_number(e.caller_name),
                dialled=_exten(e.exten),
            )
            call = _Call(record, {e.uniqueid}, e.at)
            self._calls[record.call_id] = call
            self._channels[e.uniqueid] = record.call_id
            return self._emit(CallEventKind.ENTERED, call, e.at)
        parent = self._open_by_linkedid(e.linkedid or "")
        if parent is not None:
            self._attach(parent, e.uniqueid)
            parent.last_at = max(parent.last_at, e.at)
            parent.confirmed = True
        return []

    def _on_newstate(self, call: _Call, e: Newstate) -> list[CallEvent]:
        record = call.record
        if e.uniqueid == record.caller_uniqueid:
            call.record = replace(
                record,
                caller_number=record.caller_number or _number(e.caller_num),
                caller_name=record.caller_name or _number(e.caller_name),
            )
        return []

    def _on_new_callerid(self, call: _Call, e: NewCallerid) -> list[CallEvent]:
        record = call.record
        if e.uniqueid == record.caller_uniqueid:
            call.record = replace(
                record,
                caller_number=_number(e.caller_num) or record.caller_number,
                caller_name=_number(e.caller_name) or record.caller_name,
            )
        return []

    def _on_newexten(self, call: _Call, e: Newexten) -> list[CallEvent]:
        pending = _pending_abandon(call.record) is not None
        if pending and e.uniqueid == call.record.caller_uniqueid and (e.exten or "") != "h":
            call.caller_continued = call.caller_continued or not call.caller_asked_hangup
        return []

    def _on_hangup_request(self, call: _Call, e: HangupRequest) -> list[CallEvent]:
        if e.uniqueid == call.record.caller_uniqueid and not e.soft:
            call.caller_asked_hangup = True
        if call.record.answered_at is not None and call.request_party is None:
            call.request_party = self._party(call, e.channel, e.uniqueid)
        return []

    def _on_hangup(self, call: _Call, e: Hangup) -> list[CallEvent]:
        call.live.discard(e.uniqueid)  # stays mapped: later events about it (AgentComplete)
        party = self._party(call, e.channel, e.uniqueid)
        if party is not None and call.record.answered_at is not None:
            call.first_hangup_party = call.first_hangup_party or party
        if party is HangupBy.AGENT:
            call.agent_cause = e.cause
        out: list[CallEvent] = []
        if party is HangupBy.CALLER:
            call.record = replace(call.record, hangup_cause=e.cause, hangup_cause_text=e.cause_txt)
            vi = _pending_abandon(call.record)
            if vi is not None:
                timeout = call.caller_continued or (
                    not call.caller_asked_hangup and e.cause in DIALPLAN_END_CAUSES
                )
                self._decide(call, vi, timeout)
                if not timeout:
                    out += self._emit(CallEventKind.ABANDONED, call, e.at)
        if not call.live:
            out += self._end(call, e.at)
        return out

    # -- plain Dial (no queue): DialEnd ANSWER, then caller and callee in one bridge ---------

    def _on_dial_begin(self, call: _Call, e: DialBegin) -> list[CallEvent]:
        self._attach(call, e.dest_uniqueid)
        if e.uniqueid == call.record.caller_uniqueid and _open_visit(call.record) is None:
            call.dial_begins[e.dest_uniqueid] = e.at
        return []

    def _on_dial_end(self, call: _Call, e: DialEnd) -> list[CallEvent]:
        record = call.record
        if (
            e.dial_status == "ANSWER"
            and e.uniqueid == record.caller_uniqueid
            and _open_visit(record) is None
            and record.answered_at is None
        ):
            call.dial_answers[e.dest_uniqueid] = (e.dest_channel, e.at)
        return []

    def _on_bridge_enter(self, call: _Call, e: BridgeEnter) -> list[CallEvent]:
        members = call.bridges.setdefault(e.bridge_id, set())
        members.add(e.uniqueid)
        if call.record.answered_at is not None or call.record.caller_uniqueid not in members:
            return []
        for dest, (channel, answered_at) in call.dial_answers.items():
            if dest in members:
                began = call.dial_begins.get(dest, answered_at)
                call.record = replace(call.record, agent_channel=channel)
                return self._answer(call, began, answered_at)
        return []

    def _on_bridge_leave(self, call: _Call, e: BridgeLeave) -> list[CallEvent]:
        members = call.bridges.get(e.bridge_id)
        if members is not None:
            members.discard(e.uniqueid)
            if not members:
                del call.bridges[e.bridge_id]
        return []

    # -- queue -----------------------------------------------------------------------------

    def _on_queue_join(self, call: _Call, e: QueueCallerJoin) -> list[CallEvent]:
        vi = _pending_abandon(call.record)
        if vi is not None:
            self._decide(call, vi, timeout=True)  # the caller lived on: it was a timeout
        record = call.record
        call.record = replace(
            record,
            visits=(*record.visits, QueueVisit(e.queue, e.at, position=e.position)),
            queue=e.queue,
            queue_joined_at=record.queue_joined_at or e.at,
            dialled=record.dialled or _exten(e.exten),
        )
        call.caller_continued = False
        return self._emit(CallEventKind.QUEUED, call, e.at)

    def _on_agent_called(self, call: _Call, e: AgentCalled) -> list[CallEvent]:
        if e.dest_uniqueid:
            self._attach(call, e.dest_uniqueid)
        attempt = AgentAttempt(e.queue, e.member, e.interface, e.dest_channel, e.at)
        call.record = replace(call.record, attempts=(*call.record.attempts, attempt))
        return self._emit(CallEventKind.AGENT_RINGING, call, e.at)

    def _on_ring_no_answer(self, call: _Call, e: AgentRingNoAnswer) -> list[CallEvent]:
        ai = self._attempt(call, e)
        started = e.at - timedelta(milliseconds=e.ring_ms or 0)
        if ai is None:
            attempt = AgentAttempt(e.queue, e.member, e.interface, e.dest_channel, started)
            call.record = replace(call.record, attempts=(*call.record.attempts, attempt))
            ai = len(call.record.attempts) - 1
        self._set_attempt(call, ai, result=AttemptResult.NO_ANSWER, ring_ms=e.ring_ms)
        return self._emit(CallEventKind.UPDATED, call, e.at)

    def _on_agent_connect(self, call: _Call, e: AgentConnect) -> list[CallEvent]:
        vi = _open_visit(call.record, e.queue)
        if vi is None:  # joined before we were listening
            joined = e.at - timedelta(seconds=e.hold_time_s or 0)
            call.record = replace(
                call.record, visits=(*call.record.visits, QueueVisit(e.queue, joined))
            )
            vi = len(call.record.visits) - 1
        ai = self._attempt(call, e)
        if ai is None:  # rung before we were listening: RingTime (s) tells when
            started = e.at - timedelta(seconds=e.ring_time_s or 0)
            attempt = AgentAttempt(e.queue, e.member, e.interface, e.dest_channel, started)
            call.record = replace(call.record, attempts=(*call.record.attempts, attempt))
            ai = len(call.record.attempts) - 1
        rung = _visit_attempts(call.record, vi)
        for i in rung:
            if i != ai and call.record.attempts[i].result is AttemptResult.RINGING:
                self._set_attempt(call, i, result=AttemptResult.CANCELLED)
        ring_ms = int((e.at - call.record.attempts[ai].started_at).total_seconds() * 1000)
        self._set_attempt(call, ai, result=AttemptResult.ANSWERED, ring_ms=ring_ms)
        self._set_visit(call, vi, result="connect", left_at=e.at, hold_s=e.hold_time_s)
        call.record = replace(
            call.record,
            queue=e.queue,
            agent_member=e.member,
            agent_interface=e.interface,
            agent_channel=e.dest_channel,
        )
        call.request_party = call.first_hangup_party = None  # a new conversation starts
        if call.record.answered_at is not None:  # already answered (plain Dial, then transfer)
            return self._emit(CallEventKind.UPDATED, call, e.at)
        rung_at = [
            call.record.attempts[i].started_at for i in (*_visit_attempts(call.record, vi), ai)
        ]
        return self._answer(call, min(rung_at), e.at)

    def _on_agent_complete(self, call: _Call, e: AgentComplete) -> list[CallEvent]:
        by = REASON_HANGUP_BY.get((e.reason or "").lower())
        talk = float(e.talk_time_s) if e.talk_time_s is not None else call.record.talk_seconds
        call.record = replace(call.record, talk_seconds=talk, hangup_by=by or call.record.hangup_by)
        return self._emit(CallEventKind.UPDATED, call, e.at)

    def _on_abandon(self, call: _Call, e: QueueCallerAbandon) -> list[CallEvent]:
        vi = _open_visit(call.record, e.queue)
        if vi is None:
            joined = e.at - timedelta(seconds=e.hold_time_s or 0)
            call.record = replace(
                call.record, visits=(*call.record.visits, QueueVisit(e.queue, joined))
            )
            vi = len(call.record.visits) - 1
        visit = call.record.visits[vi]
        hold = e.hold_time_s if e.hold_time_s is not None else round(_secs(visit.joined_at, e.at))
        for i in _visit_attempts(call.record, vi):
            if call.record.attempts[i].result is AttemptResult.RINGING:
                self._set_attempt(call, i, result=AttemptResult.CANCELLED)
        self._set_visit(call, vi, left_at=e.at, hold_s=hold)  # verdict: at the caller's next step
        return []

    def _on_queue_leave(self, call: _Call, e: QueueCallerLeave) -> list[CallEvent]:
        vi = _open_visit(call.record, e.queue)
        if vi is not None and call.record.visits[vi].left_at is None:
            self._set_visit(call, vi, left_at=e.at)
        return []

    # -- agents, variables, hold -----------------------------------------------------------

    def _on_agent_login(self, call: _Call, e: AgentLogin) -> list[CallEvent]:
        if e.uniqueid != call.record.caller_uniqueid:
            return []
        logger.debug("call %s is an agent login session: dropped", call.record.call_id)
        del self._calls[call.record.call_id]
        for uniqueid in [u for u, c in self._channels.items() if c == call.record.call_id]:
            del self._channels[uniqueid]
        self._logins.add(call.record.linkedid or call.record.call_id)
        return self._emit(CallEventKind.DISCARDED, call, e.at)  # undo its ENTERED

    def _on_varset(self, call: _Call, e: VarSet) -> list[CallEvent]:
        name = e.variable.lstrip("_").upper()
        record = call.record
        if name == RECORDING_VARIABLE and e.value:
            call.record = replace(record, recording_file=e.value)
        elif name == CALLBACK_VARIABLE:
            callback_id = int(e.value) if e.value.strip().isdigit() else None
            call.record = replace(record, direction=Direction.CALLBACK, callback_id=callback_id)
        else:
            return []
        variables = (*((k, v) for k, v in record.variables if k != name), (name, e.value))
        call.record = replace(call.record, variables=variables)
        return [] if call.record == record else self._emit(CallEventKind.UPDATED, call, e.at)

    def _on_user_event(self, call: _Call, e: UserEvent) -> list[CallEvent]:
        """HotlineCallbackReached: the answered callback customer runs the callback context.
        HotlineSurvey: the caller's post-call survey (offered, then the key pressed)."""
        record = call.record
        if e.name.strip().lower() == SURVEY_EVENT:
            return self._on_survey(call, e)
        if e.name.strip().lower() != CALLBACK_REACHED_EVENT or record.callback_reached_at:
            return []
        given = (e.callback_id or "").strip()
        call.record = replace(
            record,
            direction=Direction.CALLBACK,
            callback_id=record.callback_id or (int(given) if given.isdigit() else None),
            callback_reached_at=e.at,
        )
        return self._emit(CallEventKind.UPDATED, call, e.at)

    def _on_survey(self, call: _Call, e: UserEvent) -> list[CallEvent]:
        record = call.record
        if record.answered_at is None or not surveyed(record.queue, self._survey_off):
            return []  # no agent to rate, or this queue's survey is turned off
        if record.survey_result not in (None, SurveyResult.UNRATED):
            return []  # the first answer counts
        call.record = replace(
            record,
            survey_offered_at=record.survey_offered_at or e.at,
            survey_result=read_result(e.result),
        )
        return [] if call.record == record else self._emit(CallEventKind.UPDATED, call, e.at)

    def _on_hold(self, call: _Call, e: Hold) -> list[CallEvent]:
        if e.uniqueid != call.record.caller_uniqueid:
            call.holds.setdefault(e.uniqueid, e.at)
        return []

    def _on_unhold(self, call: _Call, e: Unhold) -> list[CallEvent]:
        began = call.holds.pop(e.uniqueid, None)
        if began is None:
            return []
        call.record = replace(
            call.record, hold_seconds=call.record.hold_seconds + _secs(began, e.at)
        )
        return self._emit(CallEventKind.UPDATED, call, e.at)

    # -- verdicts --------------------------------------------------------------------------

    def _answer(self, call: _Call, ring_started: datetime, at: datetime) -> list[CallEvent]:
        ring = _secs(ring_started, at)
        within = self._rule.within(ring)
        call.record = replace(
            call.record,
            ring_started_at=ring_started,
            answered_at=at,
            ring_seconds=ring,
            rings=self._rule.rings(ring),
            within_rule=within,
        )
        kind = CallEventKind.ANSWERED if within else CallEventKind.ANSWERED_LATE
        return self._emit(kind, call, at)

    def _decide(self, call: _Call, vi: int, timeout: bool) -> None:
        self._set_visit(call, vi, result="timeout" if timeout else "abandon")
        if not timeout:
            call.record = replace(call.record, outcome=Outcome.ABANDONED, hangup_by=HangupBy.CALLER)

    def _end(self, call: _Call, at: datetime) -> list[CallEvent]:
        record = call.record
        hold = record.hold_seconds + sum(_secs(t, at) for t in call.holds.values())
        answered = record.answered_at is not None
        vi = _open_visit(record)
        vi = _pending_abandon(record) if vi is None else vi
        if vi is not None:  # still waiting when the call ended: the caller gave up
            self._set_visit(call, vi, result="abandon", left_at=record.visits[vi].left_at or at)
            record = call.record
        last = record.visits[-1].result if record.visits else None
        if answered:
            causes = {record.hangup_cause, call.agent_cause}
            if record.survey_offered_at is not None:  # the talk was over: a line lost
                causes = {call.agent_cause}  # during the survey drops no conversation
            outcome = Outcome.DROPPED if causes & self._abnormal else Outcome.ANSWERED
            by = record.hangup_by or call.request_party or call.first_hangup_party
        elif last == "abandon":
            outcome, by = Outcome.ABANDONED, HangupBy.CALLER
        elif last == "timeout":
            outcome, by = Outcome.NO_AGENT, record.hangup_by or HangupBy.SYSTEM
        else:
            outcome = Outcome.NOT_QUEUED
            by = HangupBy.CALLER if call.caller_asked_hangup else HangupBy.SYSTEM
        connected = [v for v in record.visits if v.result == "connect"]
        wait: float | None = None
        if record.queue_joined_at is not None:
            left = connected[0].left_at if connected else record.visits[-1].left_at
            wait = _secs(record.queue_joined_at, left or at)
        elif record.answered_at is not None:
            wait = _secs(record.entered_at, record.answered_at)
        talk = record.talk_seconds
        if talk is None and record.answered_at is not None:
            talk = _secs(record.answered_at, at)
        survey = record.survey_result
        if record.survey_offered_at is not None and survey is None:
            survey = SurveyResult.UNRATED  # hung up during the survey
        call.record = replace(
            record,
            survey_result=survey,
            ended_at=at,
            outcome=outcome,
            hangup_by=by or HangupBy.UNKNOWN,
            wait_seconds=wait,
            talk_seconds=talk,
            hold_seconds=hold,
        )
        self._forget(call)
        return self._emit(CallEventKind.ENDED, call, at)

    def _close_unknown(self, call: _Call, at: datetime) -> list[CallEvent]:
        logger.debug("call %s closed as end_unknown", call.record.call_id)
        call.record = replace(
            call.record,
            ended_at=call.last_at,
            outcome=Outcome.END_UNKNOWN,
            hangup_by=call.record.hangup_by or HangupBy.UNKNOWN,
        )
        self._forget(call)
        return self._emit(CallEventKind.ENDED, call, at)

    def _forget(self, call: _Call) -> None:
        self._calls.pop(call.record.call_id, None)
        for uniqueid in [u for u, c in self._channels.items() if c == call.record.call_id]:
            del self._channels[uniqueid]
        linkedid = call.record.linkedid or call.record.call_id
        if self._by_linkedid.get(linkedid) == call.record.call_id:
            del self._by_linkedid[linkedid]
        for ended in {linkedid, call.record.call_id}:
            self._ended[ended] = None
        while len(self._ended) > ENDED_KEPT:
            self._ended.popitem(last=False)

    # -- resync ----------------------------------------------------------------------------

    def _resync_channels(self, listed: list[ListedChannel], at: datetime) -> list[CallEvent]:
        for ch in listed:  # agent login sessions first, so their channels are skipped
            if (ch.application or "").lower() == "agentlogin":
                self._logins.add(ch.linkedid or ch.uniqueid)
        unknown: dict[str, list[ListedChannel]] = {}
        shown: dict[str, set[str]] = {}  # call_id -> its channels in the listing
        for ch in listed:
            key = ch.linkedid or ch.uniqueid
            call = self._call_for(ch.uniqueid, key)
            if call is not None:
                call.confirmed = True
                shown.setdefault(call.record.call_id, set()).add(ch.uniqueid)
            elif key not in self._logins:
                unknown.setdefault(key, []).append(ch)
        for call_id, uniqueids in shown.items():  # hung up while the link was down
            call = self._calls[call_id]
            call.live -= call.unseen - uniqueids
            call.unseen = set()
        out: list[CallEvent] = []
        for key, chans in unknown.items():
            root = next((c for c in chans if c.uniqueid == key), chans[0])
            record = CallRecord(
                call_id=self._fresh_id(key),
                linkedid=key,
                caller_uniqueid=root.uniqueid,
                caller_channel=root.channel,
                entered_at=at - timedelta(seconds=root.age_s or 0),
                caller_number=_number(root.caller_num),
                caller_name=_number(root.caller_name),
                dialled=_exten(root.exten),
            )
            call = _Call(record, set(), at)
            self._calls[record.call_id] = call
            for c in chans:
                self._attach(call, c.uniqueid)
            out += self._emit(CallEventKind.ENTERED, call, at)
        return out

    def _resync_queue_entry(self, entry: QueueEntry, at: datetime) -> list[CallEvent]:
        call = self._call_for(entry.uniqueid, None)
        if call is None or _open_visit(call.record, entry.queue) is not None:
            return []
        call.confirmed = True
        vi = _pending_abandon(call.record)
        if vi is not None:
            self._decide(call, vi, timeout=True)  # waiting in a queue again: it timed out
        joined = at - timedelta(seconds=entry.wait_s or 0)
        record = call.record
        call.record = replace(
            record,
            visits=(*record.visits, QueueVisit(entry.queue, joined, position=entry.position)),
            queue=entry.queue,
            queue_joined_at=record.queue_joined_at or joined,
        )
        return self._emit(CallEventKind.QUEUED, call, at)

    # -- small record edits ----------------------------------------------------------------

    def _attempt(self, call: _Call, e: AgentRingNoAnswer | AgentConnect) -> int | None:
        """The attempt an agent event is about: same member channel, still ringing first."""
        attempts = call.record.attempts
        candidates = [i for i, a in enumerate(attempts) if a.channel == e.dest_channel]
        if not candidates:
            candidates = [i for i, a in enumerate(attempts) if a.member == e.member]
        ringing = [i for i in candidates if attempts[i].result is AttemptResult.RINGING]
        found = ringing or candidates
        return found[-1] if found else None

    def _set_attempt(self, call: _Call, i: int, **changes: Any) -> None:
        attempts = list(call.record.attempts)
        attempts[i] = replace(attempts[i], **changes)
        call.record = replace(call.record, attempts=tuple(attempts))

    def _set_visit(self, call: _Call, i: int, **changes: Any) -> None:
        visits = list(call.record.visits)
        visits[i] = replace(visits[i], **changes)
        call.record = replace(call.record, visits=tuple(visits))


_Rule = Callable[[CallTracker, _Call, Any], list[CallEvent]]

# The rules table: event type -> the transition it drives (Newchannel creates calls and is
# handled before lookup; ListedChannel / QueueEntry only matter to resync()).
_RULES: dict[type[AmiEvent], _Rule] = {
    Newstate: CallTracker._on_newstate,  # caller number/name if still missing
    NewCallerid: CallTracker._on_new_callerid,  # caller number/name update
    Newexten: CallTracker._on_newexten,  # dialplan after an abandon -> it was a timeout
    HangupRequest: CallTracker._on_hangup_request,  # who asked to hang up
    Hangup: CallTracker._on_hangup,  # caller cause; abandon verdict; last channel -> ENDED
    DialBegin: CallTracker._on_dial_begin,  # plain Dial ring start
    DialEnd: CallTracker._on_dial_end,  # plain Dial answered (confirmed by the bridge)
    BridgeEnter: CallTracker._on_bridge_enter,  # caller + dialled party bridged -> ANSWERED
    BridgeLeave: CallTracker._on_bridge_leave,
    QueueCallerJoin: CallTracker._on_queue_join,  # new visit -> QUEUED
    AgentCalled: CallTracker._on_agent_called,  # new attempt -> AGENT_RINGING
    AgentRingNoAnswer: CallTracker._on_ring_no_answer,  # attempt NO_ANSWER, ring_ms
    AgentConnect: CallTracker._on_agent_connect,  # visit connect -> ANSWERED(_LATE)
    AgentComplete: CallTracker._on_agent_complete,  # talk time, hangup_by from Reason
    QueueCallerAbandon: CallTracker._on_abandon,  # visit left; verdict at next caller step
    QueueCallerLeave: CallTracker._on_queue_leave,
    AgentLogin: CallTracker._on_agent_login,  # root channel logs in: not a call -> DISCARDED
    VarSet: CallTracker._on_varset,  # recording file, callback id
    UserEvent: CallTracker._on_user_event,  # callback_reached_at; HotlineSurvey -> survey
    Hold: CallTracker._on_hold,
    Unhold: CallTracker._on_unhold,  # hold_seconds
}
