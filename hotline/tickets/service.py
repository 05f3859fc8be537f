"""The ticket service: drafts tickets from calls, refines them from transcripts, watches
the deadlines and places the 回访 calls.

Rule: the decisions are pure (`lifecycle`, `sla`, `followup`, `classify`, `extract`); this
module feeds them, stores what they return through `TicketStore` (compare-and-set, with
history) and publishes alerts: "alert/urgent_ticket" as soon as a ticket is known to be
urgent, "alert/ticket_overdue" when a step newly passes its deadline, "alert/calendar_unknown"
when a working-day deadline falls in a year the calendar was not given (the deadline is
left unset, the rest of the ticket goes on).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hotline.asr.transcript import Channel, Transcript, Utterance
from hotline.core.bus import Bus, Message
from hotline.core.errors import InvalidInput, Unavailable
from hotline.telephony.ami import AmiError, Originator
from hotline.telephony.records import CallRecord, Outcome
from hotline.tickets import classify, extract, followup, lifecycle, sla
from hotline.tickets.calendar import CalendarUnknown
from hotline.tickets.followup import FollowupPolicy, PastAttempt, Result
from hotline.tickets.lifecycle import Action, Role
from hotline.tickets.model import (
    Category,
    ComplaintLevel,
    Deadlines,
    Satisfaction,
    State,
)
from hotline.tickets.records import FollowupAttempt, TicketRecord
from hotline.tickets.store import TicketStore

log = logging.getLogger(__name__)

URGENT_TOPIC = "alert/urgent_ticket"
OVERDUE_TOPIC = "alert/ticket_overdue"
CALENDAR_TOPIC = "alert/calendar_unknown"
MIXED_CONFIDENCE = 0.7  # a mono recording: the agent's words are mixed in
_DRAFTED = (Outcome.ANSWERED, Outcome.DROPPED)


class RecordingLookup(Protocol):
    """What the service needs of the recording archive: the id of a call's recording."""

    async def by_call(self, call_id: str) -> Any: ...

    async def get(self, recording_id: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class FollowupDialPlan:
    """How a 回访 is dialled (see deploy/asterisk: [hotline-followup])."""

    context: str = "hotline-followup"
    channel_template: str = "Local/{number}@hotline-outbound"
    caller_id: str = "客服热线 <95000>"
    timeout_s: float = 45.0


def customer_words(transcript: Transcript) -> tuple[tuple[Utterance, ...], float]:
    """The customer's utterances and how far to trust a reading of them: the customer's
    channel of a stereo recording; a mono recording ("mixed") all of it, trusted less."""
    customer = transcript.channel(Channel.CUSTOMER)
    if customer is not None:
        return customer.utterances, 1.0
    return transcript.utterances, MIXED_CONFIDENCE


def payload(rec: TicketRecord, **extra: object) -> dict[str, object]:
    t = rec.ticket
    return {
        "ticket_id": t.id,
        "call_id": t.call_id,
        "caller": t.caller_number,
        "agent": t.agent,
        "state": t.state.value,
        "category": t.category.value if t.category else None,
        "unit": t.unit,
        **extra,
    }


class TicketService:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        *,
        sla_policy: sla.SlaPolicy,
        followup_policy: FollowupPolicy,
        pack: Callable[[], classify.ClassifyPack],
        recordings: RecordingLookup | None = None,
        originator: Originator | None = None,
        dialplan: FollowupDialPlan = FollowupDialPlan(),
        overdue_check_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.bus = bus
        self.sla = sla_policy
        self.followup = followup_policy
        self._pack_loader = pack
        self._pack: classify.ClassifyPack | None = None
        self.recordings = recordings
        self.originator = originator
        self.dialplan = dialplan
        self.overdue_check_s = overdue_check_s
        self.clock = clock

    @property
    def pack(self) -> classify.ClassifyPack:
        if self._pack is None:
            self._pack = self._pack_loader()
        return self._pack

    # --- drafting -------------------------------------------------------------------------

    async def on_call_ended(self, record: CallRecord) -> TicketRecord | None:
        """A draft for every call a person answered, once; with the caller's history."""
        if record.outcome not in _DRAFTED:
            return None
        recording_id = None
        if self.recordings is not None:
            rec = await self.recordings.by_call(record.call_id)
            recording_id = rec.id if rec is not None else None
        now = self.clock()
        ticket, created = await self.store.draft_for_call(
            call_id=record.call_id,
            caller_number=record.caller_number,
            agent=record.agent_interface or record.agent_member,
            recording_id=recording_id,
            created_at=record.ended_at or record.answered_at or now,
            now=now,
        )
        if not created:
            return ticket
        history = None
        if record.caller_number:
            history = await self.store.caller_history(
                record.caller_number, exclude_ticket=ticket.id, exclude_call=record.call_id
            )
        await self.bus.publish(
            Message(
                "ticket/drafted",
                payload(
                    ticket,
                    recording_id=recording_id,
                    earlier_calls=len(history.calls) if history else 0,
                    open_tickets=sum(1 for t in history.tickets if t.state is not State.CLOSED)
                    if history
                    else 0,
                ),
            )
        )
        return ticket

    async def _ticket_for(self, key: int | str) -> TicketRecord | None:
        if isinstance(key, int):
            found = await self.store.by_recording(key)
            if found is not None or self.recordings is None:
                return found
            rec = await self.recordings.get(key)
            call_id = rec.call_id if rec is not None else None
            if not call_id:
                return None
            found = await self.store.by_call(call_id)
            return found
        return await self.store.by_call(key)

    async def on_transcript(self, key: int | str, transcript: Transcript) -> TicketRecord | None:
        """Refine the draft of this recording (id) or call (call id) from what the customer
        said; None when there is no draft or the agent already confirmed or edited it."""
        current = await self._ticket_for(key)
        if current is None:
            log.info("no ticket drafted for %r; transcript not used for a ticket", key)
            return None
        t = current.ticket
        words, trust = customer_words(transcript)
        readings = classify.classify_all(words, self.pack)
        reading = readings[0] if readings else classify.classify(words, self.pack)
        fields = extract.extract(words, t.created_at)
        summary, summary_ev = extract.summarize(words)
        level = await self._level(current, reading.category, reading.topic)
        deadlines, unknown = sla.deadlines_known(self.sla, reading.category, level, t.created_at)
        refined = await self.store.refine(
            t.id,
            now=self.clock(),
            recording_id=key if isinstance(key, int) else None,
            category=reading.category,
            fields=fields,
            summary=summary,
            summary_evidence=summary_ev,
            evidence=reading.evidence,
            confidence=round(reading.confidence * trust, 3),
            topic=reading.topic,
            unit=reading.unit,
            urgent=reading.urgent,
            complaint_level=level,
            deadlines=deadlines,
        )
        if refined is None:  # the agent has it in hand; an emergency is still raised
            if reading.urgent and not t.urgent:
                await self._urgent(await self._mark_urgent(current), reading.evidence)
            return None
        await self._calendar_gap(t.id, unknown)
        units = [r.unit for r in readings if r.unit]
        if len(set(units)) > 1:
            await self.store.note(
                t.id,
                "suggest_split",
                actor="system",
                role=Role.SYSTEM,
                now=self.clock(),
                reason="来电涉及多个承办单位，建议拆分 (the call concerns several units: split it)",
                detail={
                    "units": units,
                    "readings": [
                        {"unit": r.unit, "category": r.category.value, "topic": r.topic}
                        for r in readings
                        if r.unit
                    ],
                },
            )
        if refined.ticket.urgent and not t.urgent:
            await self._urgent(refined, reading.evidence)
        await self.bus.publish(Message("ticket/refined", payload(refined, units=units)))
        return refined

    async def _level(
        self, current: TicketRecord, category: Category | None, topic: str | None
    ) -> ComplaintLevel | None:
        if category is not Category.COMPLAINT:
            return None
        t = current.ticket
        base = t.complaint_level or ComplaintLevel.MINOR
        if topic is None or t.caller_number is None:
            return ComplaintLevel.MAJOR if current.exposure else base
        since = self.clock() - timedelta(days=self.sla.level2_window_days)
        return sla.escalate(
            base,
            complainants_same_issue=await self.store.complainants_same_issue(
                topic, since, besides=t.caller_number
            ),
            repeats_same_event=await self.store.repeats_same_event(
                t.caller_number, topic, exclude_ticket=t.id
            ),
            exposure=current.exposure,
            policy=self.sla,
        )

    async def _mark_urgent(self, current: TicketRecord) -> TicketRecord:
        """Flag a ticket the agent already has in hand as urgent, where it can still be
        edited; the alert goes out whatever its state."""
        if current.ticket.state not in (State.DRAFT, State.ACCEPTED):
            return current
        return await self.store.edit(
            current.id, {"urgent": True}, actor="system", role=Role.SYSTEM, now=self.clock()
        )

    async def _deadlines(
        self,
        ticket_id: int,
        category: Category,
        level: ComplaintLevel | None,
        start: datetime,
    ) -> Deadlines:
        found, unknown = sla.deadlines_known(self.sla, category, level, start)
        await self._calendar_gap(ticket_id, unknown)
        return found

    async def _calendar_gap(self, ticket_id: int, unknown: Sequence[CalendarUnknown]) -> None:
        """Working-day deadlines the calendar cannot place: kept unset, said loudly, once."""
        if not unknown:
            return
        exc = unknown[0]
        log.warning("ticket %d: %s", ticket_id, exc.message)
        await self.store.note(
            ticket_id,
            "calendar_unknown",
            actor="system",
            role=Role.SYSTEM,
            now=self.clock(),
            reason=exc.message,
        )
        await self.bus.publish(
            Message(CALENDAR_TOPIC, {"ticket_id": ticket_id, "message": exc.message})
        )

    async def _urgent(self, rec: TicketRecord, evidence: Sequence[Any]) -> None:
        ev = [{"text": e.text, "start": e.start, "end": e.end} for e in evidence]
        await self.store.note(
            rec.id,
            "alert_urgent",
            actor="system",
            role=Role.SYSTEM,
            now=self.clock(),
            detail={"topic": URGENT_TOPIC, "evidence": ev},
        )
        await self.bus.publish(
            Message(URGENT_TOPIC, payload(rec, topic=rec.ticket.topic, evidence=ev))
        )

    # --- people's actions -----------------------------------------------------------------

    async def edit(
        self, ticket_id: int, changes: Mapping[str, Any], *, actor: str, role: Role | str
    ) -> TicketRecord:
        current = await self.store.require(ticket_id)
        t = current.ticket
        category = Category(changes["category"]) if changes.get("category") else t.category
        if category is Category.EMERGENCY and "urgent" not in changes:
            changes = {**changes, "urgent": True}  # 报警/紧急 is urgent by definition
        made_complaint = category is Category.COMPLAINT and t.category is not category
        if made_complaint and "complaint_level" not in changes:  # by hand: counted as usual
            topic = changes.get("topic", t.topic)
            level = await self._level(current, category, topic)
            changes = {**changes, "complaint_level": level}
        level = changes.get("complaint_level", t.complaint_level)
        level = ComplaintLevel(level) if level else None
        new_deadlines = None
        if category is not None and (category != t.category or level != t.complaint_level):
            new_deadlines = await self._deadlines(t.id, category, level, t.created_at)
        rec = await self.store.edit(
            ticket_id, changes, actor=actor, role=role, now=self.clock(), deadlines=new_deadlines
        )
        await self.bus.publish(Message("ticket/changed", payload(rec, action="edit", by=actor)))
        if rec.ticket.urgent and not t.urgent:
            await self._urgent(rec, ())
        return rec

    async def act(
        self,
        ticket_id: int,
        action: Action | str,
        *,
        actor: str,
        role: Role | str,
        reason: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> TicketRecord:
        """A lifecycle action by a person (see `lifecycle.TABLE`)."""
        current = await self.store.require(ticket_id)
        t, now = current.ticket, self.clock()
        data = dict(data or {})
        act = lifecycle.step(  # refuse an illegal move before anything else
            t.state,
            action,
            role,
            reason=reason,
            unit=data.get("unit"),
            satisfaction=data.get("satisfaction"),
            unreachable=bool(data.get("unreachable")),
        ).action
        deadlines: Deadlines | None = None
        level: ComplaintLevel | None = None
        if act is Action.CONFIRM:
            if t.category is None:
                raise InvalidInput(
                    "确认受理前请先选择工单分类 (choose the ticket's category before confirming: "
                    "PATCH /api/tickets/{id} with category)"
                )
            deadlines = await self._deadlines(t.id, t.category, t.complaint_level, t.created_at)
        elif act is Action.REPLY:
            try:
                reply_by: datetime | None = sla.reply_deadline(self.sla, now)
            except CalendarUnknown as exc:
                reply_by = None
                await self._calendar_gap(t.id, (exc,))
            deadlines = replace(t.deadlines, reply_by=reply_by)
        elif act is Action.REOPEN and t.category is not None:
            # 不满意重办: the second handling gets the category's time again, from now
            again = await self._deadlines(t.id, t.category, t.complaint_level, now)
            deadlines = replace(again, dispatch_by=t.deadlines.dispatch_by, reply_by=None)
        elif act is Action.REQUEST_EXTENSION:
            new_due = data.get("new_due")
            if isinstance(new_due, datetime) and isinstance(data.get("step"), str):
                sla.extend(t.deadlines, data["step"], new_due, now)  # refuse what cannot pass
        elif act is Action.APPROVE_EXTENSION and current.extension is not None:
            ext = current.extension  # asked in time: approving it later still counts
            deadlines = sla.extend(t.deadlines, ext.step, ext.new_due, ext.at)
            data.update(step=ext.step, new_due=ext.new_due, requested_by=ext.by)
        elif act is Action.SET_EXPOSURE:
            if t.category is not Category.COMPLAINT:
                raise InvalidInput(
                    "只有投诉工单可以标记媒体/法律曝光 (media or legal exposure makes a complaint"
                    " level 1: set the ticket's category to 投诉 first)",
                    error_id="not_a_complaint",
                )
            level = ComplaintLevel.MAJOR
            deadlines = await self._deadlines(t.id, t.category, level, t.created_at)
        rec = await self.store.apply(
            ticket_id,
            act,
            actor,
            role,
            reason,
            data,
            now=now,
            deadlines=deadlines,
            complaint_level=level,
        )
        await self.bus.publish(Message("ticket/changed", payload(rec, action=str(act), by=actor)))
        return rec

    async def split(
        self, ticket_id: int, units: Sequence[str], *, actor: str, role: Role | str
    ) -> list[TicketRecord]:
        """One ticket per unit; each takes the category and topic the transcript gave for its
        unit (the suggestion kept in the history), else the original's."""
        records = await self.store.split(ticket_id, units, actor=actor, role=role, now=self.clock())
        suggested = [e for e in await self.store.history(ticket_id) if e.action == "suggest_split"]
        readings = (
            {r["unit"]: r for r in suggested[-1].detail.get("readings", [])} if suggested else {}
        )
        out = []
        for rec in records:
            reading = readings.get(rec.ticket.unit)
            t = rec.ticket
            if reading and (reading["category"], reading["topic"]) != (t.category, t.topic):
                changes = {"category": reading["category"], "topic": reading["topic"]}
                rec = await self.edit(rec.id, changes, actor=actor, role=role)
            out.append(rec)
        return out

    # --- deadlines ------------------------------------------------------------------------

    async def check_overdue(self) -> list[TicketRecord]:
        """Mark every ticket with a step newly past its deadline; alert on each."""
        now = self.clock()
        newly: list[TicketRecord] = []
        for rec in await self.store.open_tickets():
            steps = sla.overdue(rec.ticket.deadlines, rec.reached(), now)
            if steps and await self.store.mark_overdue(rec.id, steps, now):
                late = [s for s in steps if s not in rec.overdue_steps]
                marked = await self.store.require(rec.id)
                newly.append(marked)
                await self.bus.publish(
                    Message(
                        OVERDUE_TOPIC,
                        payload(
                            marked,
                            steps=late,
                            due={s: getattr(rec.ticket.deadlines, f"{s}_by") for s in late},
                        ),
                    )
                )
        return newly

    # --- 回访 -------------------------------------------------------------------------------

    def _past(self, attempts: Sequence[FollowupAttempt]) -> list[PastAttempt]:
        return [PastAttempt(a.started_at, Result(a.result)) for a in attempts if a.result]

    async def next_followup_at(self, rec: TicketRecord) -> datetime | None:
        t = rec.ticket
        if t.state not in (State.REPLIED, State.FOLLOW_UP) or t.replied_at is None:
            return None
        attempts = await self.store.followups(t.id, t.reopened)
        if any(a.result is None for a in attempts):
            return None  # one in progress
        return followup.next_attempt_at(self.followup, t.replied_at, self._past(attempts))

    async def _begin(
        self, rec: TicketRecord, *, actor: str, role: Role | str, action_id: str | None = None
    ) -> FollowupAttempt:
        t, now = rec.ticket, self.clock()
        if t.state not in (State.REPLIED, State.FOLLOW_UP) or t.replied_at is None:
            raise InvalidInput(
                f"工单尚未回复，不能回访 (a 回访 follows the unit's reply; this ticket is "
                f"{t.state.value})"
            )
        attempts = await self.store.followups(t.id, t.reopened)
        followup.check_attempt(self.followup, t.replied_at, self._past(attempts), now)
        planned = followup.next_attempt_at(self.followup, t.replied_at, self._past(attempts))
        attempt = await self.store.begin_followup(
            t.id,
            round=t.reopened,
            planned_at=planned,
            started_at=now,
            by=actor,
            action_id=action_id,
        )
        if attempt is None:
            raise InvalidInput("另一回访正在进行 (another 回访 attempt was just started)")
        if t.state is State.REPLIED:
            await self.store.apply(t.id, Action.FOLLOW_UP, actor, role, now=now)
        return attempt

    async def record_followup(
        self,
        ticket_id: int,
        *,
        result: str,
        satisfaction: str | None = None,
        note: str | None = None,
        actor: str,
        role: Role | str,
    ) -> TicketRecord:
        """The result of a 回访 call (by hand, or of one dialled through AMI and answered)."""
        res = followup.parse_result(result)
        sat = Satisfaction(satisfaction) if satisfaction else None
        if res is Result.REACHED and sat is None:
            raise InvalidInput(
                "联系上客户时须记录满意度 (a reached 回访 needs the satisfaction: satisfied, "
                "basically or unsatisfied)"
            )
        rec = await self.store.require(ticket_id)
        attempts = await self.store.followups(ticket_id, rec.ticket.reopened)
        open_ = next((a for a in attempts if a.result is None), None)
        if open_ is None:
            open_ = await self._begin(rec, actor=actor, role=role)
        return await self._finish(ticket_id, open_, res, sat, note, actor, role, None)

    async def _finish(
        self,
        ticket_id: int,
        attempt: FollowupAttempt,
        res: Result,
        sat: Satisfaction | None,
        note: str | None,
        actor: str,
        role: Role | str,
        ami: Mapping[str, Any] | None,
    ) -> TicketRecord:
        now = self.clock()
        await self.store.finish_followup(
            attempt.id, now=now, result=res.value, satisfaction=sat, note=note, ami_response=ami
        )
        detail = {"attempt": attempt.attempt_no, "round": attempt.round, "result": res.value}
        if sat:
            detail["satisfaction"] = sat.value
        await self.store.note(
            ticket_id,
            "followup_attempt",
            actor=actor,
            role=role,
            now=now,
            reason=note,
            detail=detail,
        )
        if res is Result.REACHED and sat is not None:
            if sat is Satisfaction.UNSATISFIED:
                return await self.act(
                    ticket_id,
                    Action.REOPEN,
                    actor=actor,
                    role=role,
                    reason=note,
                    data={"satisfaction": sat.value},
                )
            return await self.act(
                ticket_id,
                Action.CLOSE,
                actor=actor,
                role=role,
                reason=note,
                data={"satisfaction": sat.value},
            )
        rec = await self.store.require(ticket_id)
        attempts = await self.store.followups(ticket_id, rec.ticket.reopened)
        if followup.outcome(self.followup, self._past(attempts)) is followup.Outcome.UNREACHABLE:
            return await self.act(
                ticket_id,
                Action.CLOSE,
                actor="system",
                role=Role.SYSTEM,
                reason=followup.UNREACHABLE_REASON,
                data={"unreachable": True},
            )
        return rec

    async def dial_followup(self, ticket_id: int, *, actor: str, role: Role | str) -> TicketRecord:
        """Place a 回访 call through AMI now (if the rule allows it)."""
        if self.originator is None or not self.originator.connected:
            raise Unavailable(
                "未连接交换机，无法自动回访 (AMI is off or not connected: call the customer by "
                "hand and record the result with POST /api/tickets/{id}/followups)"
            )
        rec = await self.store.require(ticket_id)
        return await self._dial(rec, actor=actor, role=role)

    async def _dial(self, rec: TicketRecord, *, actor: str, role: Role | str) -> TicketRecord:
        assert self.originator is not None
        action_id = f"hotline-fu-{rec.id}-{uuid.uuid4().hex[:12]}"
        attempt = await self._begin(rec, actor=actor, role=role, action_id=action_id)
        number = rec.ticket.caller_number or ""
        try:
            result = await self.originator.originate(
                channel=self.dialplan.channel_template.format(number=number),
                context=self.dialplan.context,
                exten="s",
                caller_id=self.dialplan.caller_id,
                variables={"HOTLINE_TICKET_ID": str(rec.id), "HOTLINE_FOLLOWUP": action_id},
                timeout_s=self.dialplan.timeout_s,
                action_id=action_id,
            )
        except AmiError as exc:  # AmiUnavailable too
            response: dict[str, Any] = {"error": str(exc)}
            return await self._finish(
                rec.id,
                attempt,
                Result.UNREACHABLE,
                None,
                f"呼叫失败 ({exc})",
                actor,
                role,
                response,
            )
        response = {
            "success": result.success,
            "reason_code": result.reason_code,
            "reason_text": result.reason_text,
            "uniqueid": result.uniqueid,
            "channel": result.channel,
        }
        if not result.success:
            return await self._finish(
                rec.id,
                attempt,
                Result.UNREACHABLE,
                None,
                result.reason_text,
                actor,
                role,
                response,
            )
        # answered: the agent talks to the customer and records the satisfaction
        await self.store.attach_ami(attempt.id, response)
        await self.store.note(
            rec.id,
            "followup_answered",
            actor=actor,
            role=role,
            now=self.clock(),
            detail={"attempt": attempt.attempt_no, "ami": response},
        )
        return await self.store.require(rec.id)

    async def dial_due(self) -> int:
        """Dial every 回访 that is due (AMI only); returns how many were placed."""
        if self.originator is None or not self.originator.connected:
            return 0
        placed, now = 0, self.clock()
        for rec in await self.store.open_tickets([State.REPLIED, State.FOLLOW_UP]):
            due = await self.next_followup_at(rec)
            if due is None or due > now:
                continue
            try:
                await self._dial(rec, actor="system", role=Role.SYSTEM)
                placed += 1
            except Exception:
                log.exception("回访 of ticket %d could not be placed", rec.id)
        return placed

    # --- the loop -------------------------------------------------------------------------

    async def tick(self) -> None:
        await self.check_overdue()
        await self.dial_due()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("ticket deadline check failed; retrying")
            await asyncio.sleep(self.overdue_check_s)
