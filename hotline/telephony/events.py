"""AMI frames -> typed events. The one rule: nothing past this module sees a raw frame.

`parse(frame, received_at)` returns one small frozen dataclass per event type the call
tracker or the live agent/queue state uses, or None for every other frame (responses,
pre-Asterisk-12 `Dial`/`Bridge`/`Masquerade`, …). A frame of a known type that lacks a
header we need raises `MalformedFrame`; the caller logs it and goes on. The five queue
member events and the `QueueMember` lines of a QueueStatus listing share one shape,
`MemberStatus`; device states (a member's `Status` code or a `DeviceStateChange` name)
become `DeviceState`.

Times come from the frame's `Timestamp` header (`timestampevents=yes`, epoch seconds) when
present, else from `received_at`; both are kept to the millisecond.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum

from hotline.telephony.frames import Frame

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HMS = re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})$")


class MalformedFrame(ValueError):
    """A frame of an event type we use lacks a required header or has a bad value."""


@dataclass(frozen=True, slots=True)
class AmiEvent:
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelEvent(AmiEvent):
    """Fields every channel-snapshot event carries (Asterisk 12+)."""

    channel: str
    uniqueid: str
    linkedid: str | None


@dataclass(frozen=True, slots=True)
class Newchannel(ChannelEvent):
    state: str = ""
    caller_num: str | None = None
    caller_name: str | None = None
    exten: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Newstate(ChannelEvent):
    state: str = ""
    caller_num: str | None = None
    caller_name: str | None = None


@dataclass(frozen=True, slots=True)
class NewCallerid(ChannelEvent):
    caller_num: str | None = None
    caller_name: str | None = None


@dataclass(frozen=True, slots=True)
class Newexten(ChannelEvent):
    exten: str | None = None
    context: str | None = None
    application: str | None = None


@dataclass(frozen=True, slots=True)
class Hangup(ChannelEvent):
    cause: int | None = None
    cause_txt: str | None = None


@dataclass(frozen=True, slots=True)
class HangupRequest(ChannelEvent):
    soft: bool = False  # SoftHangupRequest (the switch asked) vs HangupRequest (the far end)
    cause: int | None = None


@dataclass(frozen=True, slots=True)
class DialBegin(AmiEvent):
    dest_channel: str
    dest_uniqueid: str
    uniqueid: str | None = None  # absent when the dial comes from an Originate
    channel: str | None = None
    dest_linkedid: str | None = None


@dataclass(frozen=True, slots=True)
class DialEnd(AmiEvent):
    dest_channel: str
    dest_uniqueid: str
    dial_status: str
    uniqueid: str | None = None
    channel: str | None = None
    dest_linkedid: str | None = None


@dataclass(frozen=True, slots=True)
class BridgeEnter(ChannelEvent):
    bridge_id: str = ""


@dataclass(frozen=True, slots=True)
class BridgeLeave(ChannelEvent):
    bridge_id: str = ""


@dataclass(frozen=True, slots=True)
class Hold(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class Unhold(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class VarSet(ChannelEvent):
    variable: str = ""
    value: str = ""


@dataclass(frozen=True, slots=True)
class UserEvent(ChannelEvent):
    """A dialplan's UserEvent(); `name` is its UserEvent header (HotlineCallbackReached)."""

    name: str = ""
    callback_id: str | None = None  # the CallbackId header, when the event has one
    result: str | None = None  # the Result header (HotlineSurvey: offered, 1, 2, 3, none)


@dataclass(frozen=True, slots=True)
class AgentLogin(ChannelEvent):
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(ChannelEvent):
    queue: str = ""
    position: int | None = None
    exten: str | None = None
    caller_num: str | None = None
    caller_name: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(ChannelEvent):
    queue: str = ""


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(ChannelEvent):
    queue: str = ""
    hold_time_s: int | None = None
    position: int | None = None


@dataclass(frozen=True, slots=True)
class AgentEvent(ChannelEvent):
    """Queue member events: Channel/Uniqueid are the caller's, Dest* the member's."""

    queue: str = ""
    member: str = ""
    interface: str = ""
    dest_channel: str = ""
    dest_uniqueid: str | None = None


@dataclass(frozen=True, slots=True)
class AgentCalled(AgentEvent):
    pass


@dataclass(frozen=True, slots=True)
class AgentConnect(AgentEvent):
    ring_time_s: int | None = None  # seconds
    hold_time_s: int | None = None  # seconds, since the last join


@dataclass(frozen=True, slots=True)
class AgentComplete(AgentEvent):
    talk_time_s: int | None = None
    hold_time_s: int | None = None
    reason: str | None = None  # caller / agent / transfer


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(AgentEvent):
    ring_ms: int | None = None  # MILLISECONDS, unlike AgentConnect's RingTime


@dataclass(frozen=True, slots=True)
class ListedChannel(ChannelEvent):
    """One live channel from a `Status` or `CoreShowChannels` listing (resync only)."""

    source: str = "Status"
    application: str | None = None
    caller_num: str | None = None
    caller_name: str | None = None
    exten: str | None = None
    age_s: int | None = None  # Status `Seconds` / CoreShowChannel `Duration`


@dataclass(frozen=True, slots=True)
class QueueEntry(AmiEvent):
    """One caller waiting in a queue, from a `QueueStatus` listing (resync only)."""

    uniqueid: str
    queue: str
    channel: str | None = None
    position: int | None = None
    wait_s: int | None = None  # since the caller's last join
    caller_num: str | None = None
    caller_name: str | None = None


class DeviceState(StrEnum):
    """A phone's state as Asterisk's device state API says it (ast_device_state)."""

    UNKNOWN = "unknown"
    NOT_INUSE = "not_inuse"
    INUSE = "inuse"
    BUSY = "busy"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"
    RINGING = "ringing"
    RINGINUSE = "ringinuse"
    ONHOLD = "onhold"


# a queue member's `Status` header is the enum's number
_DEVICE_CODES = dict(enumerate(DeviceState))


class MemberChange(StrEnum):
    """Which frame a `MemberStatus` came from."""

    ADDED = "added"  # QueueMemberAdded: logged in to the queue
    REMOVED = "removed"  # QueueMemberRemoved: logged out of the queue
    STATUS = "status"  # QueueMemberStatus: device state / in call changed
    PAUSE = "pause"  # QueueMemberPause (QueueMemberPaused before Asterisk 12)
    PENALTY = "penalty"  # QueueMemberPenalty
    LISTED = "listed"  # QueueMember: one line of a QueueStatus listing (resync)


@dataclass(frozen=True, slots=True)
class MemberStatus(AmiEvent):
    """One queue member in one queue, as a member event or a QueueStatus line says it.
    `interface` (Interface / Location) is the member's key in app_queue; headers an older
    switch or a shorter event leaves out are None."""

    change: MemberChange
    queue: str
    interface: str
    member: str  # MemberName / Name, else the interface
    state_interface: str | None = None
    device: DeviceState | None = None  # from `Status`
    paused: bool | None = None
    paused_reason: str | None = None
    in_call: bool | None = None
    penalty: int | None = None
    calls_taken: int | None = None
    wrapup_s: int | None = None  # the member's own Wrapuptime (Asterisk 16+), 0 = queue's
    membership: str | None = None  # static / dynamic / realtime


@dataclass(frozen=True, slots=True)
class QueueParams(AmiEvent):
    """One queue's header line of a QueueStatus listing (resync only). The counters are the
    switch's since its last reset, not a day's."""

    queue: str
    strategy: str | None = None
    calls: int | None = None  # callers waiting now
    completed: int | None = None
    abandoned: int | None = None
    service_level_s: int | None = None


@dataclass(frozen=True, slots=True)
class DeviceStateChange(AmiEvent):
    device: str  # e.g. PJSIP/1001, or Queue:name_avail hints (ignored by the live state)
    state: DeviceState


# -- helpers ---------------------------------------------------------------------------


def event_time(frame: Frame, received_at: datetime) -> datetime:
    """`Timestamp` (epoch seconds) to an aware UTC datetime, else `received_at`; ms kept."""
    raw = frame.get("Timestamp")
    if raw:
        try:
            ms = int((Decimal(raw.strip()) * 1000).to_integral_value(ROUND_HALF_UP))
            return _EPOCH + timedelta(milliseconds=ms)
        except (InvalidOperation, ValueError, OverflowError):
            pass
    return received_at.replace(microsecond=received_at.microsecond // 1000 * 1000)


def _req(frame: Frame, key: str) -> str:
    value = frame.get(key)
    if value is None or value == "":
        raise MalformedFrame(f"{frame.event} frame without {key}")
    return value


def _opt(frame: Frame, key: str) -> str | None:
    value = frame.get(key)
    return value if value else None


def _int(frame: Frame, key: str) -> int | None:
    value = frame.get(key)
    if value is None or not value.strip():
        return None
    try:
        return int(value.strip())
    except ValueError:
        try:
            return int(float(value.strip()))
        except ValueError:
            return None


def _duration(value: str | None) -> int | None:
    if not value:
        return None
    match = _HMS.match(value.strip())
    if match:
        h, m, s = (int(g) for g in match.groups())
        return h * 3600 + m * 60 + s
    return int(value) if value.strip().isdigit() else None


_Chan = tuple[datetime, str, str, str | None]
_Agent = tuple[datetime, str, str, str | None, str, str, str, str, str | None]


def _chan(frame: Frame, at: datetime) -> _Chan:
    """The leading ChannelEvent fields, in order: at, channel, uniqueid, linkedid."""
    return (at, _req(frame, "Channel"), _req(frame, "Uniqueid"), _opt(frame, "Linkedid"))


def _agent(frame: Frame, at: datetime) -> _Agent:
    """The AgentEvent fields in order (ChannelEvent's, then queue, member, interface, dest)."""
    return (
        *_chan(frame, at),
        _req(frame, "Queue"),
        frame.get("MemberName") or frame.get("Interface") or "",
        frame.get("Interface") or "",
        frame.get("DestChannel") or "",
        _opt(frame, "DestUniqueid"),
    )


def _device(value: str | None) -> DeviceState | None:
    """A `Status` code ("2") or a `State` name ("NOT_INUSE") as a DeviceState."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return _DEVICE_CODES.get(int(text), DeviceState.UNKNOWN)
    try:
        return DeviceState(text.lower().replace("_", "").replace("notinuse", "not_inuse"))
    except ValueError:
        return DeviceState.UNKNOWN


def _flag(frame: Frame, key: str) -> bool | None:
    value = frame.get(key)
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("1", "yes", "true", "on")


def _reason(frame: Frame) -> str | None:
    text = (frame.get("PausedReason") or frame.get("Reason") or "").strip()
    return None if text in ("", "<nil>", "<null>") else text


def _member(change: MemberChange) -> _Builder:
    def build(f: Frame, at: datetime) -> AmiEvent:
        interface = f.get("Interface") or f.get("Location") or f.get("StateInterface")
        if not interface:
            raise MalformedFrame(f"{f.event} frame without Interface")
        return MemberStatus(
            at,
            change,
            _req(f, "Queue"),
            interface,
            f.get("MemberName") or f.get("Name") or interface,
            state_interface=_opt(f, "StateInterface"),
            device=_device(f.get("Status")),
            paused=_flag(f, "Paused"),
            paused_reason=_reason(f),
            in_call=_flag(f, "InCall"),
            penalty=_int(f, "Penalty"),
            calls_taken=_int(f, "CallsTaken"),
            wrapup_s=_int(f, "Wrapuptime"),
            membership=_opt(f, "Membership"),
        )

    return build


def _userevent(f: Frame, at: datetime) -> AmiEvent | None:
    """Only the dialplan's own UserEvents about a channel; others (sent by an AMI client,
    no channel) are not ours and are skipped, not taken for broken frames."""
    if not f.get("Channel") or not f.get("Uniqueid"):
        return None
    return UserEvent(
        *_chan(f, at),
        name=f.get("UserEvent") or "",
        callback_id=_opt(f, "CallbackId"),
        result=_opt(f, "Result"),
    )


def _newchannel(f: Frame, at: datetime) -> AmiEvent:
    chan = _chan(f, at)
    if chan[3] is None:  # pre-Asterisk-12: no Linkedid, no call grouping
        raise MalformedFrame("Newchannel frame without Linkedid")
    return Newchannel(
        *chan,
        state=f.get("ChannelStateDesc") or "",
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
        exten=_opt(f, "Exten"),
        context=_opt(f, "Context"),
    )


# One builder per event type we use; everything else parses to None.
_Builder = Callable[[Frame, datetime], AmiEvent | None]
_BUILDERS: dict[str, _Builder] = {
    "newchannel": _newchannel,
    "newstate": lambda f, at: Newstate(
        *_chan(f, at),
        state=f.get("ChannelStateDesc") or "",
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
    ),
    "newcallerid": lambda f, at: NewCallerid(
        *_chan(f, at),
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
    ),
    "newexten": lambda f, at: Newexten(
        *_chan(f, at),
        exten=_opt(f, "Exten"),
        context=_opt(f, "Context"),
        application=_opt(f, "Application"),
    ),
    "hangup": lambda f, at: Hangup(
        *_chan(f, at),
        cause=_int(f, "Cause"),
        cause_txt=_opt(f, "Cause-txt"),
    ),
    "hanguprequest": lambda f, at: HangupRequest(
        *_chan(f, at),
        soft=False,
        cause=_int(f, "Cause"),
    ),
    "softhanguprequest": lambda f, at: HangupRequest(
        *_chan(f, at),
        soft=True,
        cause=_int(f, "Cause"),
    ),
    "dialbegin": lambda f, at: DialBegin(
        at,
        _req(f, "DestChannel"),
        _req(f, "DestUniqueid"),
        uniqueid=_opt(f, "Uniqueid"),
        channel=_opt(f, "Channel"),
        dest_linkedid=_opt(f, "DestLinkedid"),
    ),
    "dialend": lambda f, at: DialEnd(
        at,
        _req(f, "DestChannel"),
        _req(f, "DestUniqueid"),
        (f.get("DialStatus") or "").upper(),
        uniqueid=_opt(f, "Uniqueid"),
        channel=_opt(f, "Channel"),
        dest_linkedid=_opt(f, "DestLinkedid"),
    ),
    "bridgeenter": lambda f, at: BridgeEnter(
        *_chan(f, at),
        bridge_id=_req(f, "BridgeUniqueid"),
    ),
    "bridgeleave": lambda f, at: BridgeLeave(
        *_chan(f, at),
        bridge_id=_req(f, "BridgeUniqueid"),
    ),
    "hold": lambda f, at: Hold(*_chan(f, at)),
    "unhold": lambda f, at: Unhold(*_chan(f, at)),
    "varset": lambda f, at: VarSet(
        *_chan(f, at),
        variable=_req(f, "Variable"),
        value=f.get("Value") or "",
    ),
    "userevent": lambda f, at: _userevent(f, at),
    "agentlogin": lambda f, at: AgentLogin(
        *_chan(f, at),
        agent=_opt(f, "Agent"),
    ),
    "queuecallerjoin": lambda f, at: QueueCallerJoin(
        *_chan(f, at),
        queue=_req(f, "Queue"),
        position=_int(f, "Position"),
        exten=_opt(f, "Exten"),
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
    ),
    "queuecallerleave": lambda f, at: QueueCallerLeave(
        *_chan(f, at),
        queue=_req(f, "Queue"),
    ),
    "queuecallerabandon": lambda f, at: QueueCallerAbandon(
        *_chan(f, at),
        queue=_req(f, "Queue"),
        hold_time_s=_int(f, "HoldTime"),
        position=_int(f, "Position"),
    ),
    "agentcalled": lambda f, at: AgentCalled(*_agent(f, at)),
    "agentconnect": lambda f, at: AgentConnect(
        *_agent(f, at),
        ring_time_s=_int(f, "RingTime"),
        hold_time_s=_int(f, "HoldTime"),
    ),
    "agentcomplete": lambda f, at: AgentComplete(
        *_agent(f, at),
        talk_time_s=_int(f, "TalkTime"),
        hold_time_s=_int(f, "HoldTime"),
        reason=_opt(f, "Reason"),
    ),
    "agentringnoanswer": lambda f, at: AgentRingNoAnswer(
        *_agent(f, at),
        ring_ms=_int(f, "RingTime"),
    ),
    "status": lambda f, at: _listed(f, at, "Status", _int(f, "Seconds")),
    "coreshowchannel": lambda f, at: _listed(
        f, at, "CoreShowChannel", _duration(f.get("Duration"))
    ),
    "queueentry": lambda f, at: QueueEntry(
        at=at,
        uniqueid=_req(f, "Uniqueid"),
        queue=_req(f, "Queue"),
        channel=_opt(f, "Channel"),
        position=_int(f, "Position"),
        wait_s=_int(f, "Wait"),
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
    ),
    "queuememberadded": _member(MemberChange.ADDED),
    "queuememberremoved": _member(MemberChange.REMOVED),
    "queuememberstatus": _member(MemberChange.STATUS),
    "queuememberpause": _member(MemberChange.PAUSE),
    "queuememberpaused": _member(MemberChange.PAUSE),
    "queuememberpenalty": _member(MemberChange.PENALTY),
    "queuemember": _member(MemberChange.LISTED),
    "queueparams": lambda f, at: QueueParams(
        at,
        _req(f, "Queue"),
        strategy=_opt(f, "Strategy"),
        calls=_int(f, "Calls"),
        completed=_int(f, "Completed"),
        abandoned=_int(f, "Abandoned"),
        service_level_s=_int(f, "ServiceLevel"),
    ),
    "devicestatechange": lambda f, at: DeviceStateChange(
        at, _req(f, "Device"), _device(f.get("State")) or DeviceState.UNKNOWN
    ),
}


def _listed(f: Frame, at: datetime, source: str, age_s: int | None) -> ListedChannel:
    return ListedChannel(
        *_chan(f, at),
        source=source,
        application=_opt(f, "Application"),
        caller_num=_opt(f, "CallerIDNum"),
        caller_name=_opt(f, "CallerIDName"),
        exten=_opt(f, "Exten"),
        age_s=age_s,
    )


def parse(frame: Frame, received_at: datetime) -> AmiEvent | None:
    """The typed event for `frame`, None if we don't use its type; MalformedFrame if broken."""
    name = frame.event
    if not name:
        return None
    builder = _BUILDERS.get(name.strip().lower())
    if builder is None:
        return None
    return builder(frame, event_time(frame, received_at))


# The events the tracker and the live state use (lower-case): the AMI client may drop all
# others unparsed. The tracker ignores the types it has no rule for (member, device, params).
USED_EVENTS = frozenset(_BUILDERS)
