"""What the desk needs of a call from the packages below it: the customer's words in its
transcript and the history over all of a customer's numbers. Rule: read-only; calls,
recordings, transcripts and tickets are read through their own stores and read views."""

from __future__ import annotations

from hotline.api.ticket_schemas import CallerHistoryOut, PastCallOut, brief
from hotline.asr.store import TranscriptStatus, TranscriptStore
from hotline.asr.transcript import Channel
from hotline.customers.model import Customer
from hotline.customers.store import CustomerStore
from hotline.recording.store import RecordingStore
from hotline.telephony.store import CallStore
from hotline.tickets.model import Ticket
from hotline.tickets.service import TicketService


async def customer_words(
    recordings: RecordingStore, transcripts: TranscriptStore, call_id: str
) -> list[str] | None:
    """The customer's utterances of the call's done transcript (a mono recording: all of
    them), or None while there is no transcript."""
    recording = await recordings.by_call(call_id)
    if recording is None:
        return None
    record = await transcripts.get(recording.id)
    if record is None or record.status is not TranscriptStatus.DONE or record.transcript is None:
        return None
    return [
        u.normalized
        for u in record.transcript.utterances
        if u.channel is not Channel.AGENT and u.normalized
    ]


async def customer_history(
    customer: Customer,
    customers: CustomerStore,
    tickets: TicketService,
    call_store: CallStore,
    *,
    exclude_call: str | None = None,
    limit: int = 20,
) -> CallerHistoryOut:
    """Calls and tickets of every number of the customer, newest first, each once."""
    calls: dict[str, PastCallOut] = {}
    found: dict[int, Ticket] = {}
    for number in customer.phones:
        h = await tickets.store.caller_history(number, limit=limit)
        for c in h.calls:
            calls.setdefault(
                c.call_id,
                PastCallOut(
                    call_id=c.call_id,
                    entered_at=c.entered_at,
                    outcome=c.outcome,
                    agent=c.agent,
                    talk_seconds=c.talk_seconds,
                ),
            )
        for t in h.tickets:
            found.setdefault(t.id, t)
    for call_id in await customers.calls_of(customer.id, limit=limit):
        if call_id not in calls:
            call = await call_store.get(call_id)
            if call is not None:
                calls[call_id] = PastCallOut(
                    call_id=call_id,
                    entered_at=call.entered_at,
                    outcome=call.outcome.value,
                    agent=call.agent_member,
                    talk_seconds=call.talk_seconds,
                )
            record = await tickets.store.by_call(call_id)
            if record is not None:
                found.setdefault(record.ticket.id, record.ticket)
    calls.pop(exclude_call or "", None)
    briefs = [brief(t) for t in found.values()]
    briefs.sort(key=lambda b: (b.state == "closed", -b.created_at.timestamp()))
    return CallerHistoryOut(
        calls=sorted(calls.values(), key=lambda c: c.entered_at, reverse=True)[:limit],
        tickets=briefs[:limit],
    )
