"""Tracker scenarios written inline as a short table of AMI events. The one rule: a row says
only what the scenario is about; every other header a real Asterisk 22 frame of that event
type carries is filled in from the rows before it.

A table (pipe separated, header row first, like wazo-call-logd's `@raw_cels`):

    t    | event           | channel        | uniqueid | linkedid | extras
    0    | Newchannel      | PJSIP/pstn-01  | c1       |          | CallerIDNum=13800138000
    0.5  | QueueCallerJoin | PJSIP/pstn-01  |          |          | Queue=support
    0.6  | Newchannel      | PJSIP/8001-02  | a1       | c1       |
    0.6  | AgentCalled     | PJSIP/pstn-01  |          |          | Interface=PJSIP/8001

- `t`: seconds from START, non-decreasing; written as the frame's `Timestamp` header.
- `event`: the AMI event name, any case.
- `channel`, `uniqueid`, `linkedid`: the channel the event is about (for queue and agent
  events, the caller's, as app_queue sends them). A blank uniqueid or linkedid is the one
  of the channel's earlier rows; a Newchannel without a linkedid starts a call (its own
  uniqueid). A `-` is blank too.
- `extras`: `Key=value` headers, shell-quoted when a value has spaces
  (`Cause-txt='Normal Clearing'`); they replace filled-in headers of the same name. Any
  other column is a header name too. `#` starts a comment line.

Filled in when a row leaves them out: Privilege, the channel snapshot (state, caller id,
context, exten from the channel's earlier rows); for agent events the member's Dest*
snapshot (DestChannel: the member's newest channel, `<Interface>-…`), Queue (the caller's
last QueueCallerJoin), MemberName (the interface's earlier MemberName, else the
interface); Position/Count; app_queue's own times, truncated to whole seconds as app_queue
does: QueueCallerAbandon and AgentConnect HoldTime (since the join), AgentConnect RingTime
(since AgentCalled), AgentRingNoAnswer RingTime (ms), AgentComplete HoldTime/TalkTime;
AgentComplete Reason (`caller` or `agent`: whoever
asked to hang up, or hung up, first after the connect); Hangup Cause 16 and its Cause-txt;
(Soft)HangupRequest Cause 16; DialEnd DialStatus ANSWER; BridgeUniqueid `bridge-<linkedid>`.

The rows become AMI wire bytes, are framed by the real `read_stream`, parsed by the real
`events.parse` (a row the parser rejects fails the test, naming the row) and fed to a
`CallTracker`.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hotline.telephony.events import AmiEvent, MalformedFrame, parse
from hotline.telephony.frames import Frame, read_stream
from hotline.telephony.model import CallEvent, CallEventKind, CallRecord, RingRule
from hotline.telephony.tracker import CallTracker
from tests.telephony.traces import ended, tracker

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # t = 0 (16:00 in Beijing)
BANNER = "Asterisk Call Manager/11.0.0"

_EVENTS = (
    "Newchannel",
    "Newstate",
    "NewCallerid",
    "Newexten",
    "Hangup",
    "HangupRequest",
    "SoftHangupRequest",
    "DialBegin",
    "DialEnd",
    "BridgeEnter",
    "BridgeLeave",
    "Hold",
    "Unhold",
    "VarSet",
    "UserEvent",
    "AgentLogin",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueCallerAbandon",
    "AgentCalled",
    "AgentConnect",
    "AgentComplete",
    "AgentRingNoAnswer",
    "QueueMemberStatus",
    "QueueMemberPause",
    "DeviceStateChange",
)
_CANONICAL = {name.lower(): name for name in _EVENTS}
_AGENT = frozenset({"AgentCalled", "AgentConnect", "AgentComplete", "AgentRingNoAnswer"})
_QUEUE = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon", *_AGENT})
_PRIVILEGE = {"VarSet": "dialplan,all", "Newexten": "dialplan,all", "UserEvent": "user,all"}
_STATES = {"Down": 0, "Rsrvd": 1, "OffHook": 2, "Dialing": 3, "Ring": 4, "Ringing": 5, "Up": 6}
CAUSE_TEXT = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    27: "Destination out of order",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    44: "Requested channel not available",
}
_COLUMNS = ("t", "event", "channel", "uniqueid", "linkedid")


class ScenarioError(ValueError):
    """The table itself is wrong (not the code under test): says which row and why."""


@dataclass(frozen=True, slots=True)
class Row:
    line: int  # 1-based line of the table, for error messages
    t: str  # as written, so the Timestamp is exact
    event: str
    channel: str
    uniqueid: str
    linkedid: str
    extras: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.extras if k.lower() == key.lower()), None)


@dataclass(slots=True)
class _Chan:
    name: str
    uniqueid: str
    linkedid: str
    state: str
    caller_num: str = "<unknown>"
    caller_name: str = "<unknown>"
    context: str = "default"
    exten: str = "s"
    priority: int = 1

    def snapshot(self, prefix: str = "") -> list[tuple[str, str]]:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(_STATES.get(self.state, 0))),
            (f"{prefix}ChannelStateDesc", self.state),
            (f"{prefix}CallerIDNum", self.caller_num),
            (f"{prefix}CallerIDName", self.caller_name),
            (f"{prefix}ConnectedLineNum", "<unknown>"),
            (f"{prefix}ConnectedLineName", "<unknown>"),
            (f"{prefix}Language", "zh"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]


@dataclass(slots=True)
class _Connected:
    member_channel: str
    at: Decimal
    joined: Decimal
    reason: str | None = None  # who asked to hang up (or hung up) first


def rows(table: str) -> list[Row]:
    """The rows of a table; ScenarioError on a malformed one."""
    lines = [
        (n, line.strip())
        for n, line in enumerate(table.splitlines(), 1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not lines:
        raise ScenarioError("empty scenario table")
    head = [c.strip() for c in lines[0][1].split("|")]
    missing = [c for c in ("t", "event", "channel") if c not in head]
    if missing:
        raise ScenarioError(f"header row lacks column(s) {missing}: {lines[0][1]!r}")
    out: list[Row] = []
    last = Decimal("-Infinity")
    for n, line in lines[1:]:
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > len(head):
            raise ScenarioError(f"line {n}: {len(cells)} cells for {len(head)} columns")
        cells += [""] * (len(head) - len(cells))
        cell = {k: ("" if v == "-" else v) for k, v in zip(head, cells, strict=True)}
        extras: list[tuple[str, str]] = []
        for word in shlex.split(cell.get("extras", "")):
            key, sep, value = word.partition("=")
            if not sep or not key:
                raise ScenarioError(f"line {n}: extra {word!r} is not Key=value")
            extras.append((key, value))
        extras += [(k, v) for k, v in cell.items() if k not in (*_COLUMNS, "extras") and v]
        try:
            t = Decimal(cell["t"])
        except ArithmeticError:
            raise ScenarioError(f"line {n}: t {cell['t']!r} is not a number") from None
        if t < last:
            raise ScenarioError(f"line {n}: t {t} goes back in time (previous row: {last})")
        last = t
        name = cell["event"]
        out.append(
            Row(
                n,
                cell["t"],
                _CANONICAL.get(name.lower(), name),
                cell["channel"],
                cell.get("uniqueid", ""),
                cell.get("linkedid", ""),
                tuple(extras),
            )
        )
    return out


class _Switch:
    """What a row's frame needs to know of the rows before it."""

    def __init__(self) -> None:
        self.chans: dict[str, _Chan] = {}
        self.joined: dict[str, tuple[str, Decimal]] = {}  # caller uniqueid -> queue, t
        self.waiting: dict[str, list[str]] = {}  # queue -> caller uniqueids
        self.called: dict[tuple[str, str], Decimal] = {}  # (caller, interface) -> t
        self.connected: dict[str, _Connected] = {}  # caller uniqueid -> its conversation
        self.bridges: dict[str, set[str]] = {}
        self.members: dict[str, str] = {}  # interface -> MemberName once a row gave it

    def headers(self, row: Row) -> list[tuple[str, str]]:
        t = Decimal(row.t)
        at = Decimal(int(START.timestamp())) + t
        privilege = "agent,all" if row.event in _QUEUE else _PRIVILEGE.get(row.event, "call,all")
        out = [("Event", row.event), ("Privilege", privilege), ("Timestamp", f"{at:.6f}")]
        chan = self._chan(row) if row.channel else None
        if chan is not None:
            out += chan.snapshot()
        out += self._specific(row, chan, t)
        return _merge(out, row.extras)

    def _chan(self, row: Row) -> _Chan:
        known = self.chans.get(row.channel)
        if row.event == "Newchannel" or known is None:
            uniqueid = row.uniqueid or (known.uniqueid if known else "")
            if not uniqueid:
                raise ScenarioError(
                    f"line {row.line}: channel {row.channel} has no Newchannel row yet; "
                    "give its uniqueid"
                )
            linkedid = row.linkedid or uniqueid
            state = "Ring" if linkedid == uniqueid else "Down"
            known = self.chans[row.channel] = _Chan(row.channel, uniqueid, linkedid, state)
        for key, value in row.extras:
            match key.lower():
                case "calleridnum":
                    known.caller_num = value
                case "calleridname":
                    known.caller_name = value
                case "context":
                    known.context = value
                case "exten":
                    known.exten = value
                case "channelstatedesc":
                    known.state = value
        if row.event == "Newstate" and row.get("ChannelStateDesc") is None:
            known.state = "Up"
        if row.event == "Newexten":
            known.priority += 1
        return known

    def _member(self, row: Row) -> _Chan:
        given = row.get("DestChannel")
        if given:
            found = self.chans.get(given)
            if found is None:
                raise ScenarioError(f"line {row.line}: DestChannel {given} has no Newchannel row")
            return found
        interface = row.get("Interface")
        if not interface:
            raise ScenarioError(f"line {row.line}: {row.event} needs Interface=")
        base = interface.removesuffix("/n")
        mine = [c for name, c in self.chans.items() if name.startswith(f"{base}-")]
        if not mine:
            raise ScenarioError(
                f"line {row.line}: no channel of member {interface} yet: add its Newchannel "
                f"row ({base}-…) or give DestChannel="
            )
        return mine[-1]

    def _specific(self, row: Row, chan: _Chan | None, t: Decimal) -> list[tuple[str, str]]:
        ev = row.event
        uid = chan.uniqueid if chan else ""
        if ev in ("Hangup", "HangupRequest", "SoftHangupRequest"):
            cause = int(row.get("Cause") or 16)
            if ev != "SoftHangupRequest" and chan is not None:
                self._first_gone(chan)
            if ev == "Hangup":
                return [("Cause", str(cause)), ("Cause-txt", CAUSE_TEXT.get(cause, "Unknown"))]
            return [("Cause", str(cause))]
        if ev in ("BridgeEnter", "BridgeLeave") and chan is not None:
            bridge = row.get("BridgeUniqueid") or f"bridge-{chan.linkedid}"
            members = self.bridges.setdefault(bridge, set())
            (members.add if ev == "BridgeEnter" else members.discard)(uid)
            return [
                ("BridgeUniqueid", bridge),
                ("BridgeType", "basic"),
                ("BridgeTechnology", "simple_bridge"),
                ("BridgeCreator", "<unknown>"),
                ("BridgeName", "<unknown>"),
                ("BridgeNumChannels", str(len(members))),
                ("BridgeVideoSourceMode", "none"),
            ]
        if ev in ("DialBegin", "DialEnd"):
            dest = self._member(row)
            out = dest.snapshot("Dest")
            if ev == "DialBegin":
                return [*out, ("DialString", dest.name.rsplit("-", 1)[0])]
            if (row.get("DialStatus") or "ANSWER").upper() == "ANSWER":
                dest.state = "Up"
            return [*out, ("DialStatus", "ANSWER")]
        if ev == "Hold":
            return [("MusicClass", "default")]
        if ev == "Newexten":
            return [("Extension", chan.exten if chan else "s"), ("Application", "NoOp")]
        if ev not in _QUEUE:
            return []
        if ev == "QueueCallerJoin":
            queue = row.get("Queue")
            if not queue:
                raise ScenarioError(f"line {row.line}: QueueCallerJoin needs Queue=")
            self.joined[uid] = (queue, t)
            line = self.waiting.setdefault(queue, [])
            line.append(uid)
            return [("Queue", queue), ("Position", str(len(line))), ("Count", str(len(line)))]
        queue, joined = self.joined.get(uid, (row.get("Queue") or "", t))
        queue = row.get("Queue") or queue
        if not queue:
            raise ScenarioError(f"line {row.line}: {ev} needs Queue= (no QueueCallerJoin row)")
        if ev in ("QueueCallerLeave", "QueueCallerAbandon"):
            line = self.waiting.get(queue, [])
            position = line.index(uid) + 1 if uid in line else 1
            if uid in line:
                line.remove(uid)
            out = [("Queue", queue), ("Position", str(position))]
            if ev == "QueueCallerLeave":
                return [*out, ("Count", str(len(line)))]
            return [*out, ("OriginalPosition", str(position)), ("HoldTime", _whole(t - joined))]
        member = self._member(row)
        interface = row.get("Interface") or member.name.rsplit("-", 1)[0]
        if ev == "AgentConnect":
            member.state = "Up"
        name = self.members.setdefault(interface, row.get("MemberName") or interface)
        out = [
            *member.snapshot("Dest"),
            ("Queue", queue),
            ("Interface", interface),
            ("MemberName", row.get("MemberName") or name),
        ]
        if ev == "AgentCalled":
            self.called[(uid, interface)] = t
            return out
        rung = self.called.get((uid, interface), t)
        if ev == "AgentRingNoAnswer":
            return [*out, ("RingTime", str(int((t - rung) * 1000)))]
        if ev == "AgentConnect":
            self.connected[uid] = _Connected(member.name, t, joined)
            return [*out, ("HoldTime", _whole(t - joined)), ("RingTime", _whole(t - rung))]
        talk = self.connected.get(uid)
        if talk is None:
            raise ScenarioError(f"line {row.line}: AgentComplete without an AgentConnect row")
        reason = row.get("Reason") or talk.reason
        if reason is None:
            raise ScenarioError(
                f"line {row.line}: nobody hung up yet after the connect; give Reason="
            )
        return [
            *out,
            ("HoldTime", _whole(talk.at - talk.joined)),
            ("TalkTime", _whole(t - talk.at)),
            ("Reason", reason),
        ]

    def _first_gone(self, chan: _Chan) -> None:
        for caller, talk in self.connected.items():
            if talk.reason is None:
                if chan.uniqueid == caller:
                    talk.reason = "caller"
                elif chan.name == talk.member_channel:
                    talk.reason = "agent"


def _whole(seconds: Decimal) -> str:
    return str(int(seconds))  # app_queue counts whole seconds (time_t differences)


def _merge(
    headers: list[tuple[str, str]], extras: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """Extras replace filled headers of the same name (case-insensitive), else are added."""
    out = list(headers)
    for key, value in extras:
        same = [i for i, (k, _) in enumerate(out) if k.lower() == key.lower()]
        if same:
            out[same[0]] = (out[same[0]][0], value)
        else:
            out.append((key, value))
    return out


def wire(table: str) -> bytes:
    """The table as the bytes an AMI socket would carry (banner, CRLF frames)."""
    switch = _Switch()
    blocks = [
        "".join(f"{k}: {v}\r\n" for k, v in switch.headers(row)) + "\r\n" for row in rows(table)
    ]
    return (BANNER + "\r\n" + "".join(blocks)).encode()


def frames(table: str) -> list[Frame]:
    """The table's frames, through the real framing code."""
    _, out = read_stream(wire(table))
    return out


def at(t: float | str) -> datetime:
    """The time of a row with this `t`."""
    return START + timedelta(seconds=float(Decimal(str(t))))


def events(table: str) -> list[AmiEvent]:
    """The table's frames through the real parser; a frame it rejects is a table error."""
    out: list[AmiEvent] = []
    for row, frame in zip(rows(table), frames(table), strict=True):
        try:
            event = parse(frame, at(row.t))
        except MalformedFrame as exc:
            raise ScenarioError(f"line {row.line}: the parser rejects the frame: {exc}") from exc
        if event is not None:
            out.append(event)
    return out


@dataclass(frozen=True, slots=True)
class Played:
    """What a tracker made of a scenario."""

    events: tuple[CallEvent, ...]
    records: dict[str, CallRecord] = field(default_factory=dict)  # ENDED ones, by call_id
    open_calls: tuple[CallRecord, ...] = ()

    @property
    def record(self) -> CallRecord:
        """The one call the scenario ended."""
        assert len(self.records) == 1, f"{len(self.records)} calls ended: {list(self.records)}"
        return next(iter(self.records.values()))

    def kinds(self, call_id: str | None = None) -> list[CallEventKind]:
        return [e.kind for e in self.events if call_id in (None, e.record.call_id)]


def play(table: str, rule: RingRule | None = None, into: CallTracker | None = None) -> Played:
    """Feed the table to a tracker (a new one with `rule`, or `into`) and say what came out."""
    t = into or tracker(rule)
    out: list[CallEvent] = []
    for event in events(table):
        out += t.feed(event)
    return Played(tuple(out), ended(out), tuple(t.open_calls()))
