"""The tracker on a live Asterisk 22.10 capture of the switch tests' scenarios
(tests/data/asterisk22-scenarios.raw): eight overlapping calls, Chinese caller names,
HangupRequest frames, MixMonitor files, a Hotline callback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.core.settings import DEFAULT_ABNORMAL_CAUSES
from hotline.telephony import events
from hotline.telephony.callbacks import AttemptStage, leg_stage
from hotline.telephony.frames import read_stream
from hotline.telephony.model import CallEventKind, CallRecord, Direction, Outcome, RingRule
from hotline.telephony.tracker import CallTracker

CAPTURE = Path(__file__).resolve().parents[1] / "data" / "asterisk22-scenarios.raw"


@pytest.fixture(scope="module")
def calls() -> dict[str, CallRecord]:
    _, frames = read_stream(CAPTURE.read_bytes())
    tracker = CallTracker(RingRule(), frozenset(DEFAULT_ABNORMAL_CAUSES))
    ended: dict[str, CallRecord] = {}
    for frame in frames:
        event = events.parse(frame, datetime.now(UTC))
        for out in tracker.feed(event) if event else []:
            if out.kind is CallEventKind.ENDED:
                assert out.record.caller_number not in ended, "a call ended twice"
                ended[out.record.caller_number or ""] = out.record
    assert tracker.open_calls() == []
    return ended


def test_every_scenario_is_one_record_with_its_chinese_caller_name(
    calls: dict[str, CallRecord],
) -> None:
    assert sorted(calls) == [f"1380000000{i}" for i in range(1, 9)]
    assert calls["13800000001"].caller_name == "张三"
    assert calls["13800000008"].caller_name == "吴十"


@pytest.mark.parametrize(
    ("number", "outcome", "within_rule", "rings"),
    [
        ("13800000001", Outcome.ANSWERED, True, 1),  # fast: ~3 s
        ("13800000002", Outcome.ANSWERED, False, 5),  # slow: ~20 s
        ("13800000003", Outcome.ANSWERED, True, 2),  # two: 5 s ring-out, then 2 s
        ("13800000004", Outcome.ABANDONED, None, None),
        ("13800000007", Outcome.NO_AGENT, None, None),  # Queue() timeout, not an abandon
        ("13800000005", Outcome.DROPPED, True, 1),  # the customer's line: cause 38
        ("13800000006", Outcome.DROPPED, True, 1),  # the agent's line: cause 38
    ],
)
def test_outcomes_and_rings_match_what_happened_on_the_switch(
    calls: dict[str, CallRecord],
    number: str,
    outcome: Outcome,
    within_rule: bool | None,
    rings: int | None,
) -> None:
    record = calls[number]
    assert (record.outcome, record.within_rule, record.rings) == (outcome, within_rule, rings)
    assert record.recording_file is not None and record.recording_file.endswith(".wav")


def test_the_callback_call_is_marked_as_one(calls: dict[str, CallRecord]) -> None:
    record = calls["13800000008"]
    assert record.direction is Direction.CALLBACK
    assert record.callback_id is None  # the capture's id "cb-0001" is not one of ours
    assert all(c.direction is Direction.INBOUND for n, c in calls.items() if n != "13800000008")


def test_the_callback_leg_shows_how_far_the_customer_got(calls: dict[str, CallRecord]) -> None:
    """吴十's callback: answered, ran [hotline-callback] (UserEvent HotlineCallbackReached),
    queued, connected to an agent: the leg's record holds every step."""
    leg = calls["13800000008"]
    assert leg.callback_reached_at is not None
    assert leg.queue_joined_at is not None and leg.answered_at is not None
    assert leg.entered_at <= leg.callback_reached_at <= leg.queue_joined_at <= leg.answered_at
    assert leg_stage(leg) is AttemptStage.AGENT_CONNECTED
    assert all(c.callback_reached_at is None for n, c in calls.items() if n != "13800000008")
