"""Small builders of call records (and their pending recordings) for tests that do not
replay AMI."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hotline.recording.policy import RetentionPolicy
from hotline.recording.store import Recording, RecordingStore
from hotline.telephony.model import (
    AgentAttempt,
    AttemptResult,
    CallRecord,
    HangupBy,
    Outcome,
    QueueVisit,
    RingRule,
)

T0 = datetime(2026, 11, 23, 2, 0, 0, tzinfo=UTC)  # 10:00 in Shanghai


def answered_call(
    call_id: str = "1790000000.1",
    *,
    number: str = "13800138000",
    agent: str = "PJSIP/1001",
    queue: str = "hotline",
    ring_s: float = 4.0,
    at: datetime = T0,
    **changes: Any,
) -> CallRecord:
    rule = RingRule()
    joined = at + timedelta(seconds=2)
    answered = joined + timedelta(seconds=ring_s)
    ended = answered + timedelta(seconds=60)
    record = CallRecord(
        call_id=call_id,
        linkedid=call_id,
        caller_uniqueid=call_id,
        caller_channel="PJSIP/trunk-00000001",
        entered_at=at,
        caller_number=number,
        caller_name="张先生",
        dialled="95000",
        queue=queue,
        visits=(QueueVisit(queue, joined, 1, answered, "connect", int(ring_s)),),
        attempts=(
            AgentAttempt(queue, agent, agent, f"{agent}-0001", joined, AttemptResult.ANSWERED),
        ),
        agent_member=agent,
        agent_interface=agent,
        agent_channel=f"{agent}-0001",
        queue_joined_at=joined,
        ring_started_at=joined,
        answered_at=answered,
        ended_at=ended,
        ring_seconds=ring_s,
        rings=rule.rings(ring_s),
        within_rule=rule.within(ring_s),
        wait_seconds=ring_s,
        talk_seconds=60.0,
        hangup_by=HangupBy.CALLER,
        hangup_cause=16,
        hangup_cause_text="Normal Clearing",
        outcome=Outcome.ANSWERED,
        recording_file=f"/var/spool/asterisk/monitor/{call_id}.wav",
    )
    return replace(record, **changes)


def abandoned_call(
    call_id: str = "1790000000.9", *, wait_s: float = 30.0, at: datetime = T0, **changes: Any
) -> CallRecord:
    joined = at + timedelta(seconds=1)
    left = joined + timedelta(seconds=wait_s)
    record = CallRecord(
        call_id=call_id,
        linkedid=call_id,
        caller_uniqueid=call_id,
        caller_channel="PJSIP/trunk-00000009",
        entered_at=at,
        caller_number="13900139000",
        queue="hotline",
        visits=(QueueVisit("hotline", joined, 1, left, "abandon", int(wait_s)),),
        queue_joined_at=joined,
        ended_at=left,
        wait_seconds=wait_s,
        hangup_by=HangupBy.CALLER,
        hangup_cause=16,
        outcome=Outcome.ABANDONED,
    )
    return replace(record, **changes)


async def pending_recording(
    store: RecordingStore,
    call_id: str,
    *,
    agent: str | None = "PJSIP/1001",
    queue: str | None = "hotline",
    number: str | None = "13800138000",
    at: datetime = T0,
) -> Recording:
    """The row a call's MixMonitor file gets when the call ends: pending, default retention."""
    rec = await store.add(
        call_id=call_id,
        sources={"mixed": f"/var/spool/asterisk/monitor/{call_id}.wav"},
        started_at=at,
        caller_number=number,
        agent=agent,
        queue=queue,
        retain_until=RetentionPolicy().retain_until(at, False),
        now=at,
    )
    assert rec is not None
    return rec
