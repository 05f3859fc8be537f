"""The frames the live agent/queue state needs become typed events at the edge."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hotline.telephony import events as ev
from hotline.telephony.events import DeviceState, MemberChange
from hotline.telephony.frames import Frame
from tests.telephony.traces import RELOAD, load_frames

AT = datetime(2026, 3, 2, 8, 0, 0, 123000, tzinfo=UTC)


def frame(*headers: tuple[str, str]) -> Frame:
    return Frame(tuple(headers))


def test_queue_member_pause_keeps_its_reason() -> None:
    paused = [
        e
        for f in load_frames("goami2/queuemembers.ami")
        if isinstance(e := ev.parse(f, AT), ev.MemberStatus)
    ]
    assert [(m.change, m.paused, m.paused_reason) for m in paused] == [
        (MemberChange.PAUSE, False, None),  # "Reason: <nil>" is no reason
        (MemberChange.PAUSE, True, "Break"),
    ]
    m = paused[1]
    assert (m.queue, m.interface, m.member) == (
        "Books_12",
        "Local/9921-12@from-queue/n",
        "9921@okon.ferry.sip.com",
    )
    assert m.state_interface == "SIP/9921-12" and m.device is DeviceState.NOT_INUSE
    assert m.in_call is False and m.penalty == 0 and m.membership == "realtime"


def test_queue_status_listing_lines() -> None:
    parsed = [ev.parse(f, AT) for f in load_frames(f"{RELOAD}.raw")]
    params = next(e for e in parsed if isinstance(e, ev.QueueParams))
    assert params.queue == "q-ringall" and params.strategy == "ringall" and params.calls == 0
    member = next(e for e in parsed if isinstance(e, ev.MemberStatus) and e.change == "listed")
    assert member.interface == member.member == "PJSIP/agent1"
    assert member.device is DeviceState.NOT_INUSE and member.wrapup_s == 0
    assert member.paused is False and member.paused_reason is None


@pytest.mark.parametrize(
    ("event", "change"),
    [
        ("QueueMemberAdded", MemberChange.ADDED),
        ("QueueMemberRemoved", MemberChange.REMOVED),
        ("QueueMemberStatus", MemberChange.STATUS),
        ("QueueMemberPause", MemberChange.PAUSE),
        ("QueueMemberPaused", MemberChange.PAUSE),  # before Asterisk 12
        ("QueueMemberPenalty", MemberChange.PENALTY),
    ],
)
def test_member_events_share_one_shape(event: str, change: MemberChange) -> None:
    e = ev.parse(
        frame(
            ("Event", event),
            ("Queue", "kefu"),
            ("MemberName", "工号8001"),
            ("Interface", "PJSIP/8001"),
            ("Status", "6"),
            ("Paused", "1"),
            ("PausedReason", "小休"),
            ("Penalty", "2"),
        ),
        AT,
    )
    assert e == ev.MemberStatus(
        AT,
        change,
        "kefu",
        "PJSIP/8001",
        "工号8001",
        device=DeviceState.RINGING,
        paused=True,
        paused_reason="小休",
        penalty=2,
    )


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("NOT_INUSE", DeviceState.NOT_INUSE),
        ("INUSE", DeviceState.INUSE),
        ("BUSY", DeviceState.BUSY),
        ("UNAVAILABLE", DeviceState.UNAVAILABLE),
        ("RINGING", DeviceState.RINGING),
        ("RINGINUSE", DeviceState.RINGINUSE),
        ("ONHOLD", DeviceState.ONHOLD),
        ("INVALID", DeviceState.INVALID),
        ("SOMETHING_NEW", DeviceState.UNKNOWN),
    ],
)
def test_device_state_names(state: str, expected: DeviceState) -> None:
    e = ev.parse(
        frame(("Event", "DeviceStateChange"), ("Device", "PJSIP/8001"), ("State", state)), AT
    )
    assert e == ev.DeviceStateChange(AT, "PJSIP/8001", expected)


def test_member_status_codes_follow_asterisk() -> None:
    codes = {
        "0": DeviceState.UNKNOWN,
        "1": DeviceState.NOT_INUSE,
        "2": DeviceState.INUSE,
        "5": DeviceState.UNAVAILABLE,
        "8": DeviceState.ONHOLD,
        "99": DeviceState.UNKNOWN,
    }
    for code, state in codes.items():
        e = ev.parse(
            frame(
                ("Event", "QueueMemberStatus"),
                ("Queue", "q"),
                ("Interface", "X/1"),
                ("Status", code),
            ),
            AT,
        )
        assert isinstance(e, ev.MemberStatus) and e.device is state


def test_caller_join_carries_the_caller() -> None:
    e = ev.parse(
        frame(
            ("Event", "QueueCallerJoin"),
            ("Channel", "PJSIP/pstn-1"),
            ("Uniqueid", "10.1"),
            ("Linkedid", "10.1"),
            ("Queue", "kefu"),
            ("Position", "2"),
            ("CallerIDNum", "13800138000"),
            ("CallerIDName", "张三"),
        ),
        AT,
    )
    assert isinstance(e, ev.QueueCallerJoin)
    assert (e.position, e.caller_num, e.caller_name) == (2, "13800138000", "张三")


def test_used_events_cover_the_live_state() -> None:
    for name in ("queuememberstatus", "queuemember", "queueparams", "devicestatechange"):
        assert name in ev.USED_EVENTS


def test_the_call_tracker_ignores_the_live_state_events() -> None:
    from tests.telephony.traces import SHAPES, replay, tracker

    live_only = (ev.MemberStatus, ev.QueueParams, ev.DeviceStateChange)
    for name in (f"{SHAPES}.raw", f"{RELOAD}.raw", "../asterisk22-scenarios.raw"):
        frames = load_frames(name)
        # blanked, not removed: frames without a Timestamp are timed by their index
        kept = [Frame(()) if isinstance(_parse(f), live_only) else f for f in frames]
        assert kept != frames
        with_all, without = replay(tracker(), frames), replay(tracker(), kept)
        assert [(e.kind, e.record.call_id) for e in with_all] == [
            (e.kind, e.record.call_id) for e in without
        ]
        assert [e.record for e in with_all if e.kind == "ended"] == [
            e.record for e in without if e.kind == "ended"
        ]


def _parse(f: Frame) -> ev.AmiEvent | None:
    try:
        return ev.parse(f, AT)
    except ev.MalformedFrame:
        return None
