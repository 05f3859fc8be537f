"""Drafting: a ticket for every call a person answered, refined from its transcript.

Rule: the reading is pure (`classify`, `extract`, `sla`); this module feeds it and stores
what it returns, and says what it learns at once: "alert/urgent_ticket" as soon as a
ticket is known to be urgent, "alert/calendar_unknown" when a working-day deadline falls
in a year the calendar was not given (the deadline is left unset, the rest goes on).
A draft does not need its recording: it takes the recording's id when the archive already
has it, and the transcript stage links it in any case, whatever the order of the
call-ended hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from hotline.asr.transcript import Channel, Transcript, Utterance
from hotline.core.bus import Bus, Message
from hotline.telephony.model import CallRecord, Outcome
from hotline.tickets import classify, extract, sla
from hotline.tickets.calendar import CalendarUnknown
from hotline.tickets.lifecycle import Role
from hotline.tickets.model import Category, ComplaintLevel, Deadlines, State
from hotline.tickets.records import TicketRecord
from hotline.tickets.store import TicketStore

log = logging.getLogger(__name__)

URGENT_TOPIC = "alert/urgent_ticket"
OVERDUE_TOPIC = "alert/ticket_overdue"
CALENDAR_TOPIC = "alert/calendar_unknown"
SURVEY_TOPIC = "服务态度"  # the topic of a complaint opened from a survey's 不满意
MIXED_CONFIDENCE = 0.7  # a mono recording: the agent's words are mixed in
_DRAFTED = (Outcome.ANSWERED, Outcome.DROPPED)


class RecordingLookup(Protocol):
    """What drafting needs of the recording archive: a call's recording, a recording's call."""

    async def by_call(self, call_id: str) -> Any: ...

    async def get(self, recording_id: int) -> Any: ...


def customer_words(transcript: Transcript) -> tuple[tuple[Utterance, ...], float]:
    """The customer's utterances and how far to trust a reading of them: the customer's
    channel of a stereo recording; a mono recording ("mixed") all of it, trusted less."""
    customer = transcript.channel(Channel.CUSTOMER)
    if customer is not None:
        return customer.utterances, 1.0
    return transcript.utterances, MIXED_CONFIDENCE


def payload(record: TicketRecord, **extra: object) -> dict[str, object]:
    t = record.ticket
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


class Drafting:
    def __init__(
        self,
        store: TicketStore,
        bus: Bus,
        *,
        sla_policy: sla.SlaPolicy,
        pack: Callable[[], classify.ClassifyPack],
        recordings: RecordingLookup | None,
        clock: Callable[[], datetime],
        on_spot: frozenset[Category] = frozenset(),
    ) -> None:
        self.on_spot = on_spot  # categories the policy lets the agent close on the spot
        self.store = store
        self.bus = bus
        self.sla = sla_policy
        self._pack_loader = pack
        self._pack: classify.ClassifyPack | None = None
        self.recordings = recordings
        self.clock = clock

    @property
    def pack(self) -> classify.ClassifyPack:
        if self._pack is None:
            self._pack = self._pack_loader()
        return self._pack

    async def _recording_of(self, call_id: str | None) -> int | None:
        if self.recordings is None or not call_id:
            return None
        rec = await self.recordings.by_call(call_id)
        return rec.id if rec is not None else None

    async def on_call_ended(self, record: CallRecord) -> TicketRecord | None:
        """A draft for every call a person answered, once; with the caller's history."""
        if record.outcome not in _DRAFTED:
            return None
        recording_id = await self._recording_of(record.call_id)  # when archived already
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
        open_tickets = (
            sum(1 for t in history.tickets if t.state is not State.CLOSED) if history else 0
        )
        await self.bus.publish(
            Message(
                "ticket/drafted",
                payload(
                    ticket,
                    recording_id=recording_id,
                    earlier_calls=len(history.calls) if history else 0,
                    open_tickets=open_tickets,
                ),
            )
        )
        return ticket

    async def on_survey_unsatisfied(
        self, call_id: str, caller_number: str | None, rated: str | None, at: datetime
    ) -> TicketRecord:
        """A caller's 不满意 in the post-call survey, as a level-3 complaint about the
        service (服务态度) for the supervisor, once per call; the agent rated is named in
        the summary, not made its owner."""
        now = self.clock()
        ticket, created = await self.store.draft_for_call(
            call_id=call_id,
            caller_number=caller_number,
            agent=None,
            recording_id=None,
            created_at=at,
            now=now,
            origin=f"survey:{call_id}",
        )
        if not created:
            return ticket
        level = self.sla.base_level  # the policy's least severe level
        refined = await self.store.refine(
            ticket.id,
            now=now,
            category=Category.COMPLAINT,
            summary=f"来电满意度评价为不满意（坐席 {rated or '未知'}），请回访了解原因并处理",
            confidence=1.0,
            topic=SURVEY_TOPIC,
            complaint_level=level,
            deadlines=await self.deadlines(ticket.id, Category.COMPLAINT, level, at),
        )
        ticket = refined or ticket
        await self.bus.publish(Message("ticket/drafted", payload(ticket, survey="unsatisfied")))
        return ticket

    async def _by_recording(self, recording_id: int) -> TicketRecord | None:
        """The ticket of this recording's call (by the recording, else by its call)."""
        found = await self.store.by_recording(recording_id)
        if found is not None or self.recordings is None:
            return found
        recording = await self.recordings.get(recording_id)
        call_id = recording.call_id if recording is not None else None
        return await self.store.by_call(call_id) if call_id else None

    async def on_transcript(self, recording_id: int, transcript: Transcript) -> TicketRecord | None:
        """Refine the draft of this recording's call from what the customer said (the
        pipeline's ticket stage); None when there is no draft or the agent already confirmed
        or edited it. The ticket is linked to its recording either way."""
        current = await self._by_recording(recording_id)
        return await self._refine(current, recording_id, transcript, f"recording {recording_id}")

    async def on_call_transcript(self, call_id: str, transcript: Transcript) -> TicketRecord | None:
        """The same for a call's transcript, by call id (its recording found by the call)."""
        current = await self.store.by_call(call_id)
        recording_id = None
        if current is not None and current.ticket.recording_id is None:
            recording_id = await self._recording_of(call_id)
        return await self._refine(current, recording_id, transcript, f"call {call_id}")

    async def _refine(
        self,
        current: TicketRecord | None,
        recording_id: int | None,
        transcript: Transcript,
        what: str,
    ) -> TicketRecord | None:
        if current is None:
            log.info("no ticket drafted for %s; transcript not used for a ticket", what)
            return None
        if recording_id is not None and current.ticket.recording_id is None:
            await self.store.link_recording(current.id, recording_id)
        t = current.ticket
        words, trust = customer_words(transcript)
        readings = classify.classify_all(words, self.pack)
        reading = readings[0] if readings else classify.classify(words, self.pack)
        fields = extract.extract(words, t.created_at)
        summary, summary_ev = extract.summarize(words)
        level = await self.level(current, reading.category, reading.topic)
        deadlines, unknown = sla.deadlines_known(self.sla, reading.category, level, t.created_at)
        if reading.category in self.on_spot:  # likely answered during the call: no clock
            deadlines, unknown = Deadlines(), ()  # until the agent confirms it for a unit
        refined = await self.store.refine(
            t.id,
            now=self.clock(),
            recording_id=recording_id,
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
                await self.urgent(await self._mark_urgent(current), reading.evidence)
            return None
        await self.calendar_gap(t.id, unknown)
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
            await self.urgent(refined, reading.evidence)
        await self.bus.publish(Message("ticket/refined", payload(refined, units=units)))
        return refined

    # --- what drafting and people's actions both decide -----------------------------------

    async def level(
        self, current: TicketRecord, category: Category | None, topic: str | None
    ) -> ComplaintLevel | None:
        """A complaint's level from the counts in the store (same issue, same caller)."""
        if category is not Category.COMPLAINT:
            return None
        t = current.ticket
        base = t.complaint_level or self.sla.base_level
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

    async def deadlines(
        self,
        ticket_id: int,
        category: Category,
        level: ComplaintLevel | None,
        start: datetime,
        unit_clock_at: datetime | None = None,
    ) -> Deadlines:
        found, unknown = sla.deadlines_known(
            self.sla, category, level, start, unit_clock_at=unit_clock_at
        )
        await self.calendar_gap(ticket_id, unknown)
        return found

    async def calendar_gap(self, ticket_id: int, unknown: Sequence[CalendarUnknown]) -> None:
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

    async def urgent(self, ticket: TicketRecord, evidence: Sequence[Any]) -> None:
        ev = [{"text": e.text, "start": e.start, "end": e.end} for e in evidence]
        await self.store.note(
            ticket.id,
            "alert_urgent",
            actor="system",
            role=Role.SYSTEM,
            now=self.clock(),
            detail={"topic": URGENT_TOPIC, "evidence": ev},
        )
        await self.bus.publish(
            Message(URGENT_TOPIC, payload(ticket, topic=ticket.ticket.topic, evidence=ev))
        )
