"""Hotline following a real Asterisk 22: the call records, the 3-ring rule and the
dropped-call callbacks a supervisor sees, end to end over AMI.

Each test starts the whole service (AMI client, tracker, stores, callback scheduler,
MQTT) against the session's switch and places customer calls through the deploy
dialplan with the simulator of tests/switch/asterisk.py.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, TypeVar

import aiomqtt
import httpx
import pytest
from panoramisk import Manager

from hotline.api import app as app_module
from hotline.api.users import Role
from hotline.asr.transcript import Channel, ChannelTranscript, Transcript, utterance_from_vosk
from hotline.core.settings import (
    AmiSettings,
    CallbackSettings,
    MqttSettings,
    RecordingSettings,
    Settings,
    TicketSettings,
)
from hotline.recording.store import Layout, Recording, Status
from hotline.telephony.callback_store import Callback
from hotline.telephony.model import CallRecord, Direction, HangupBy, Outcome
from hotline.telephony.store import CallFilter
from hotline.tickets.records import TicketRecord
from tests.switch.asterisk import Asterisk
from tests.switch.scenarios import SCENARIOS, Scenario, connect_manager, originate, quiet_switch

T = TypeVar("T")
BY_NAME = {s.name: s for s in SCENARIOS}


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        await asyncio.sleep(0.25)


class Hotline:
    """The service under test, plus the test's own view of the switch (its 'PSTN')."""

    def __init__(self, container: app_module.Container, pstn: Manager, seen: list[dict[str, str]]):
        self.c = container
        self.pstn = pstn
        self.seen = seen  # every AMI event the test's own login saw

    async def call(self, scenario: Scenario) -> dict[str, str]:
        tag = uuid.uuid4().hex[:8]
        response = await originate(self.pstn, scenario.originate(f"test-{scenario.name}-{tag}"))
        assert response.get("Response") == "Success", f"the switch refused the call: {response}"
        return response

    async def ended(self, number: str, timeout: float = 45) -> CallRecord:
        async def probe() -> CallRecord | None:
            found, _ = await self.c.calls.search(
                CallFilter(number=number, direction=Direction.INBOUND)
            )
            return found[0] if found and not found[0].is_open else None

        try:
            return await eventually(probe, timeout, f"the call from {number} to end")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{await self.explain(number)}") from None

    async def explain(self, number: str) -> str:
        """What Hotline stored and what the switch said about a number's calls."""
        records, _ = await self.c.calls.search(CallFilter(number=number))
        ami = self.c.ami
        lines = [f"Hotline's AMI link up: {ami is not None and ami.connected}"]
        lines += [
            f"stored: {r.call_id} {r.direction} {r.outcome} ended {r.ended_at}" for r in records
        ]
        lines += [
            f"tracker open: {r.call_id} {r.outcome}"
            for r in self.c.call_service.tracker.open_calls()
        ]
        ids = {e.get("Linkedid") for e in self.seen if e.get("CallerIDNum") == number}
        lines += [
            " ".join(f"{k}={e.get(k)}" for k in ("Event", "Channel", "Uniqueid", "Cause"))
            for e in self.seen
            if e.get("Linkedid") in ids
        ]
        return "\n".join(lines)

    async def callback_for(self, call_id: str, status: str, timeout: float = 45) -> Callback:
        async def probe() -> Callback | None:
            for cb in await self.c.callback_store.find():
                if cb.call_id == call_id and cb.status == status:
                    return await self.c.callback_store.get(cb.id)
            return None

        return await eventually(probe, timeout, f"a {status} callback for call {call_id}")

    def user_events(self, name: str) -> list[dict[str, str]]:
        return [
            e for e in self.seen if e.get("Event") == "UserEvent" and e.get("UserEvent") == name
        ]


def switch_login(asterisk: Asterisk) -> AmiSettings:
    """Hotline's AMI settings for the test switch, with quick watchdog and reconnect."""
    return AmiSettings(
        host="127.0.0.1",
        port=asterisk.ami_port,
        username=asterisk.ami_username,
        secret=asterisk.ami_secret,
        ping_interval_s=1.0,
        ping_timeout_s=2.0,
        reconnect_min_s=0.2,
        reconnect_max_s=1.0,
    )


@pytest.fixture
async def hotline(asterisk: Asterisk, tmp_path: Path) -> AsyncIterator[Hotline]:
    await quiet_switch(asterisk)
    settings = Settings(
        data_dir=tmp_path,
        ami=switch_login(asterisk),
        callback=CallbackSettings(
            delay_s=0,
            min_abandon_wait_s=3,
            quiet_start=clock_time(0, 0),  # start == end: no quiet hours in this test
            quiet_end=clock_time(0, 0),
            retry_interval_min=0.1,
            channel_template="Local/{number}@sim-pstn",  # the simulated customer phone
            originate_timeout_s=15,
        ),
        recording=RecordingSettings(
            path_map={f"{asterisk.inner_dir}/spool": str(asterisk.spool_dir)}
        ),
        tickets=TicketSettings(
            followup_delay_h=0,  # 回访 as soon as the unit has replied
            followup_quiet_start=clock_time(0, 0),  # no quiet hours in this test
            followup_quiet_end=clock_time(0, 0),
            overdue_check_s=0.3,
        ),
    )
    container = app_module.build(settings)
    container.callbacks.poll_s = 0.3
    await app_module.start(container)
    seen: list[dict[str, str]] = []
    pstn = await connect_manager(asterisk, seen)
    try:
        await eventually(
            lambda: asyncio.sleep(0, container.ami is not None and container.ami.connected),
            10,
            "Hotline to log in to the switch",
        )
        yield Hotline(container, pstn, seen)
    finally:
        pstn.close()
        await app_module.stop(container)


async def test_pickups_within_and_beyond_three_rings_and_a_ring_out(hotline: Hotline) -> None:
    await asyncio.gather(*(hotline.call(BY_NAME[n]) for n in ("fast", "slow", "two")))
    fast = await hotline.ended("13800000001")
    slow = await hotline.ended("13800000002")
    two = await hotline.ended("13800000003")

    # ~3 s of ringing: the first ring, within the rule
    assert fast.outcome is Outcome.ANSWERED and fast.within_rule is True
    assert fast.ring_seconds is not None and 2.5 <= fast.ring_seconds <= 4.5
    assert fast.rings == 1 and fast.caller_name == "张三" and fast.queue == "hotline-fast"
    assert fast.agent_member == "agent-fast"
    assert fast.agent_interface == "Local/pickup-3@sim-agent"
    assert fast.hangup_by is HangupBy.AGENT and fast.hangup_cause == 16
    assert fast.talk_seconds is not None and 1 <= fast.talk_seconds <= 4
    assert fast.entered_at <= fast.queue_joined_at <= fast.answered_at <= fast.ended_at  # type: ignore[operator]

    # ~20 s: 4 full rings of 5 s have begun, then the 5th: beyond the rule
    assert slow.outcome is Outcome.ANSWERED and slow.within_rule is False
    assert slow.ring_seconds is not None and 19.5 <= slow.ring_seconds <= 21.5
    assert slow.rings == 5

    # the first agent rang out (5 s, AgentRingNoAnswer in ms); the second picked up
    assert [(a.member, a.result.value) for a in two.attempts] == [
        ("agent-noanswer", "no_answer"),
        ("agent-two", "answered"),
    ]
    assert two.attempts[0].ring_ms == 5000
    assert two.agent_member == "agent-two" and two.unanswered_attempts[0].member == "agent-noanswer"
    assert two.ring_seconds is not None and 6 <= two.ring_seconds <= 10

    # the recording Asterisk wrote, mapped to where this machine sees it
    path = await hotline.c.calls.recording_path(fast.call_id)
    assert fast.recording_file is not None and path is not None
    assert Path(path).is_file() and Path(path).stat().st_size > 44

    # nothing was called back: all three were answered normally
    assert await hotline.c.callback_store.find() == []


async def test_an_abandoned_caller_is_called_back_through_the_callback_context(
    hotline: Hotline,
) -> None:
    await hotline.call(BY_NAME["abandon"])
    record = await hotline.ended("13800000004")
    assert record.outcome is Outcome.ABANDONED and record.hangup_by is HangupBy.CALLER
    assert record.wait_seconds is not None and 4 <= record.wait_seconds <= 7
    assert record.answered_at is None and record.within_rule is None

    done = await hotline.callback_for(record.call_id, "done")
    assert done.reason == "abandoned" and done.connect_kind == "queue"
    assert done.connect_target == "hotline-slow" and done.number == "13800000004"
    assert [a.verdict for a in done.attempts] == ["done"]
    reached = await eventually(
        lambda: asyncio.sleep(0, hotline.user_events("HotlineCallbackReached")),
        10,
        "the callback to reach the hotline-callback context",
    )
    assert reached[0]["CallbackId"] == str(done.id)

    # and the callback call itself is recorded, linked to its callback
    async def callback_call() -> CallRecord | None:
        found, _ = await hotline.c.calls.search(CallFilter(direction=Direction.CALLBACK))
        return found[0] if found else None

    call_back = await eventually(callback_call, 15, "the callback call's record")
    assert call_back.callback_id == done.id and call_back.caller_number is not None


async def test_a_dropped_line_is_called_back_to_the_same_agent(hotline: Hotline) -> None:
    await hotline.call(BY_NAME["drop"])
    record = await hotline.ended("13800000005")
    assert record.outcome is Outcome.DROPPED and record.hangup_cause == 38
    assert record.answered_at is not None and record.agent_member == "agent-fast"

    done = await hotline.callback_for(record.call_id, "done")
    assert done.reason == "dropped" and done.connect_kind == "agent"
    assert done.connect_target == "Local/pickup-3@sim-agent"
    reached = await eventually(
        lambda: asyncio.sleep(0, hotline.user_events("HotlineCallbackReached")),
        10,
        "the callback to reach the hotline-callback context",
    )
    assert reached[0]["Agent"] == "Local/pickup-3@sim-agent"


async def test_a_queue_timeout_is_no_agent_not_an_abandon(hotline: Hotline) -> None:
    await hotline.call(BY_NAME["timeout"])
    record = await hotline.ended("13800000007")
    assert record.outcome is Outcome.NO_AGENT and record.hangup_by is HangupBy.SYSTEM
    assert [v.result for v in record.visits] == ["timeout"]
    assert record.attempts[0].ring_ms == 4000


async def test_events_reach_mqtt_as_calls_happen(asterisk: Asterisk, tmp_path: Path) -> None:
    prefix = f"hotline-switch-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=tmp_path,
        ami=switch_login(asterisk),
        mqtt=MqttSettings(host="127.0.0.1", topic_prefix=prefix, client_id=prefix),
        callback=CallbackSettings(enabled=False),
    )
    container = app_module.build(settings)
    await quiet_switch(asterisk)
    topics: list[tuple[str, dict[str, Any]]] = []
    async with aiomqtt.Client("127.0.0.1", 1883, identifier=prefix + "-sub") as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)
        await app_module.start(container)
        pstn = await connect_manager(asterisk)
        try:
            await originate(pstn, BY_NAME["fast"].originate(f"mqtt-{prefix}"))
            async with asyncio.timeout(30):
                async for message in sub.messages:
                    body = json.loads(message.payload)  # type: ignore[arg-type]
                    topics.append((str(message.topic), body))
                    if str(message.topic).endswith("call/ended"):
                        break
        finally:
            pstn.close()
            await app_module.stop(container)
    names = [t.removeprefix(prefix + "/") for t, _ in topics]
    for expected in ("call/entered", "call/queued", "call/agent_ringing", "call/answered"):
        assert expected in names, names
    assert names.index("call/answered") < names.index("call/ended")
    final = topics[-1][1]
    # MQTT subscribers are no user: the caller's number goes out masked (issue 13) unless
    # the pseudo-role "mqtt" is among security.whole_pii_roles
    assert final["caller_number"] == "138****0001" and final["within_rule"] is True


@pytest.mark.parametrize("how", ["restart", "crash"])
async def test_the_switch_going_down_mid_call_loses_and_doubles_nothing(
    hotline: Hotline, asterisk: Asterisk, how: str
) -> None:
    await hotline.call(BY_NAME["slow"])  # rings 20 s: still ringing when the switch goes
    await eventually(
        lambda: asyncio.sleep(0, hotline.c.call_service.tracker.open_calls()),
        10,
        "the call to be followed",
    )
    hotline.pstn.close()
    if how == "restart":  # `core stop now`: the switch hangs its channels up and says so
        await asyncio.to_thread(asterisk.restart)
    else:  # killed: no Hangup ever comes; the resync after reconnect closes the call
        await asyncio.to_thread(asterisk.kill)
        await asyncio.to_thread(asterisk.start, fresh=False)
    first = await hotline.ended("13800000002", timeout=30)
    assert first.answered_at is None
    if how == "crash":
        assert first.outcome is Outcome.END_UNKNOWN
    await eventually(
        lambda: asyncio.sleep(0, hotline.c.ami is not None and hotline.c.ami.connected),
        20,
        "Hotline to log in again",
    )
    hotline.pstn = await connect_manager(asterisk, hotline.seen)
    await hotline.call(BY_NAME["fast"])
    after = await hotline.ended("13800000001")
    assert after.outcome is Outcome.ANSWERED and after.within_rule is True
    records, total = await hotline.c.calls.search(CallFilter(direction=Direction.INBOUND))
    assert total == 2, (
        [(r.call_id, r.caller_number, r.caller_channel, r.outcome, r.entered_at) for r in records],
        first.call_id,
        await hotline.explain("13800000002"),
    )
    assert {r.call_id for r in records} == {first.call_id, after.call_id}


async def test_a_recorded_call_is_archived_found_and_played_back_with_an_audit_entry(
    hotline: Hotline,
) -> None:
    """MixMonitor records both legs; the archive keeps them as customer-left / agent-right
    Opus, records staff find it by number and seek in it; the listen is audited."""
    c = hotline.c
    await hotline.call(BY_NAME["fast"])
    record = await hotline.ended("13800000001")

    async def archived() -> Recording | None:
        rec = await c.recordings.by_call(record.call_id)
        return rec if rec is not None and rec.status is Status.ARCHIVED else None

    rec = await eventually(archived, 30, "the call's recording to be archived")
    assert rec.layout is Layout.STEREO and rec.channels == 2 and rec.codec == "opus"
    assert rec.duration_s is not None and rec.duration_s > 2
    assert rec.agent == "agent-fast" and rec.caller_number == "13800000001"
    stored = c.archive_root / (rec.path or "")
    assert stored.is_file() and hashlib.sha256(stored.read_bytes()).hexdigest() == rec.sha256

    now = datetime.now(UTC)
    await c.users.add("records", Role.INSPECTOR, None, now)
    token = await c.users.issue_token("records", now)
    await c.users.add("admin", Role.ADMIN, None, now)
    admin = await c.users.issue_token("admin", now)
    app = app_module.create_app(container=c)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as http:
        auth = {"Authorization": f"Bearer {token}"}
        found = await http.get("/api/recordings", params={"number": "13800000001"}, headers=auth)
        (item,) = found.json()["items"]
        assert item["id"] == rec.id
        part = await http.get(
            f"/api/recordings/{rec.id}/audio", headers={**auth, "Range": "bytes=0-1023"}
        )
        assert part.status_code == 206 and len(part.content) == 1024
        assert part.headers["content-range"] == f"bytes 0-1023/{rec.size_bytes}"
        assert part.content.startswith(b"OggS")
        log = await http.get(
            "/api/audit",
            params={"recording_id": rec.id},
            headers={"Authorization": f"Bearer {admin}"},
        )
    (entry,) = log.json()["items"]
    assert entry["actor"] == "records" and entry["action"] == "play"


def customer_said(*lines: tuple[float, str]) -> Transcript:
    """What the transcript stage hands over: the customer's channel, Vosk-shaped (words
    separated by spaces). The Chinese model is configured by path and not on this machine."""
    utterances = []
    for at, text in lines:
        words = [
            {"word": w, "start": at + i * 0.5, "end": at + i * 0.5 + 0.4, "conf": 0.9}
            for i, w in enumerate(text.split())
        ]
        utterances.append(utterance_from_vosk({"text": text, "result": words}, Channel.CUSTOMER))
    return Transcript(
        (ChannelTranscript(Channel.CUSTOMER, tuple(utterances)),), "vosk-model-cn", "0.3.45", 60.0
    )


async def test_a_call_becomes_a_drafted_ticket_handled_to_its_follow_up_call(
    hotline: Hotline,
) -> None:
    """首问负责: the call ends and the agent finds a draft for the caller; the transcript
    makes it an urgent gas-leak repair; it is confirmed, dispatched, handled and replied
    through the API, and the 回访 is dialled through AMI into the deploy dialplan."""
    c = hotline.c
    alerts: list[dict[str, Any]] = []

    async def on_alert(message: Any) -> None:
        alerts.append(message.payload)

    c.bus.subscribe("alert/urgent_ticket", on_alert)
    await hotline.call(BY_NAME["fast"])
    record = await hotline.ended("13800000001")

    async def drafted() -> TicketRecord | None:
        return await c.tickets.store.by_call(record.call_id)

    draft = (await eventually(drafted, 15, "the call's drafted ticket")).ticket
    recording = await c.recordings.by_call(record.call_id)
    assert draft.state.value == "draft" and draft.caller_number == "13800000001"
    assert draft.agent == "Local/pickup-3@sim-agent"  # the agent who answered owns it
    assert recording is not None and draft.recording_id == recording.id

    transcript = customer_said(
        (3.0, "喂 你好"),
        (5.0, "我 家 厨房 有 很 大 的 煤气 味 好像 漏气 了"),
        (12.0, "地址 是 阳光 小区 三 栋 二 单元 五 零 一"),
    )
    refined = await c.tickets.on_call_transcript(record.call_id, transcript)
    assert refined is not None
    assert refined.ticket.category is not None and refined.ticket.category.value == "emergency"
    assert refined.ticket.urgent and refined.ticket.unit == "抢修中心"
    assert alerts and alerts[0]["caller"] == "13800000001"

    now = datetime.now(UTC)
    await c.users.add("agent-fast", Role.AGENT, "Local/pickup-3@sim-agent", now)
    await c.users.add("duty", Role.SUPERVISOR, None, now)
    agent = {"Authorization": f"Bearer {await c.users.issue_token('agent-fast', now)}"}
    duty = {"Authorization": f"Bearer {await c.users.issue_token('duty', now)}"}
    app = app_module.create_app(container=c)
    transport = httpx.ASGITransport(app=app)
    url = f"/api/tickets/{draft.id}"
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as http:
        mine = await http.get("/api/tickets", headers=agent)
        assert [t["id"] for t in mine.json()["items"]] == [draft.id]
        steps = [
            ("confirm", agent, {}),
            ("dispatch", duty, {"unit": "抢修中心"}),
            ("start", duty, {}),
            ("reply", duty, {"reason": "抢修人员已到场关阀检修，漏点已修复"}),
        ]
        for action, who, body in steps:
            done = await http.post(f"{url}/actions/{action}", json=body, headers=who)
            assert done.status_code == 200, done.text
        assert done.json()["state"] == "replied"

        async def dialled() -> dict[str, Any] | None:
            got = (await http.get(f"{url}/followups", headers=duty)).json()["attempts"]
            return got[0] if got and got[0]["ami_response"] else None

        attempt = await eventually(dialled, 20, "the 回访 call to be placed through AMI")
        assert attempt["ami_response"]["success"] is True and attempt["by"] == "system"
        reached = await eventually(
            lambda: asyncio.sleep(0, hotline.user_events("HotlineFollowupReached")),
            15,
            "the 回访 call to reach the hotline-followup context",
        )
        assert reached[0]["TicketId"] == str(draft.id)
        assert reached[0]["Followup"] == attempt["action_id"]
        history = (await http.get(url, headers=duty)).json()["history"]
    actions = [e["action"] for e in history]  # every step kept, from the draft on
    assert actions[0] == "draft"
    assert actions.index("confirm") < actions.index("dispatch") < actions.index("reply")
