"""The switch as it is now, and the supervisor's hands on it, on a real Asterisk 22 with real
SIP phones (sipp registered to its PJSIP): pause with a reason through Hotline's HTTP API
and the switch's own QueueStatus saying so; a caller waiting in the live queue; an agent
ringing, talking, wrapping up and available again; a restart mid-call; a listen call
reaching the supervisor's phone and spying on the agent's call.

The agents of queue `hotline-sip` are the phones PJSIP/1001 and PJSIP/1002 (static members
with their state interface, wrap-up 3 s); the supervisor's phone is Local/super@sim-super.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from panoramisk import Manager

from hotline.api import app as app_module
from hotline.api.users import Role
from hotline.core.settings import LiveSettings, Settings
from hotline.telephony.ami import ActionReply, AmiClient, AmiError
from hotline.telephony.live import Activity
from hotline.telephony.live_store import LiveStore
from hotline.telephony.model import CallRecord, Direction
from hotline.telephony.store import CallFilter, CallStore
from tests.switch.asterisk import Asterisk
from tests.switch.scenarios import Scenario, connect_manager, originate, quiet_switch
from tests.switch.sipp import SipPhone, have_sipp
from tests.switch.test_hotline_on_switch import switch_login

T = TypeVar("T")
QUEUE = "hotline-sip"
A1, A2, A3 = "PJSIP/1001", "PJSIP/1002", "PJSIP/1003"
SUPER_PHONE = "Local/super@sim-super"
NOW = datetime.now(UTC)


def _answered(rec: CallRecord) -> datetime:
    assert rec.answered_at is not None
    return rec.answered_at


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        await asyncio.sleep(0.2)


@dataclass
class Phones:
    by_ext: dict[str, SipPhone]

    def __getitem__(self, ext: str) -> SipPhone:
        return self.by_ext[ext]


@pytest.fixture
def phones(asterisk: Asterisk, tmp_path: Path) -> Iterator[Phones]:
    """1001 answers after 2 s, 1002 after 1 s; both registered."""
    have_sipp()
    out = Phones({})
    for ext, after in (("1001", 2.0), ("1002", 1.0)):
        phone = SipPhone(ext, asterisk.sip_port, tmp_path / "sipp")
        phone.register()
        phone.answer(after)
        out.by_ext[ext] = phone
    try:
        yield out
    finally:
        for phone in out.by_ext.values():
            phone.stop()
            phone.unregister()


@dataclass
class Hotline:
    client: httpx.AsyncClient
    pstn: Manager
    seen: list[dict[str, str]]
    ami: AmiClient
    tokens: dict[str, str] = field(default_factory=dict)
    calls: CallStore | None = None
    states: LiveStore | None = None

    async def talk_stretches(self, interface: str, number: str) -> list[tuple[str, float, float]]:
        """Issue 12's reconciliation: per ended call from `number` answered by `interface`,
        (call id, the agent's talking stretch in the state history, the call record's talk
        time), in seconds."""
        assert self.calls is not None and self.states is not None
        records, _ = await self.calls.search(CallFilter(number=number, direction=Direction.INBOUND))
        rows = await self.states.rows(NOW - timedelta(hours=1), datetime.now(UTC))
        talking = [
            r
            for r in rows
            if r.interface == interface and r.activity is Activity.TALKING and r.ended_at
        ]
        out = []
        for rec in records:
            if rec.is_open or rec.answered_at is None or rec.talk_seconds is None:
                continue
            stretch = min(talking, key=lambda r: abs(r.started_at - _answered(rec)))
            assert stretch.ended_at is not None
            state_s = (stretch.ended_at - stretch.started_at).total_seconds()
            out.append((rec.call_id, state_s, rec.talk_seconds))
        return out

    async def post(self, who: str, url: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return await asyncio.wait_for(self.client.post(url, json=body, headers=headers), 40)

    async def live(self) -> dict[str, Any]:
        r = await asyncio.wait_for(
            self.client.get(
                "/api/live", headers={"Authorization": f"Bearer {self.tokens['chen']}"}
            ),
            10,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def agent(self, interface: str) -> dict[str, Any] | None:
        return next((a for a in (await self.live())["agents"] if a["interface"] == interface), None)

    async def queue(self, name: str = QUEUE) -> dict[str, Any] | None:
        return next((q for q in (await self.live())["queues"] if q["queue"] == name), None)

    async def call(self, number: str, *variables: str) -> dict[str, str]:
        sc = Scenario("sip", number, "测试客户", (f"HOTLINE_QUEUE={QUEUE}", *variables))
        r = await originate(self.pstn, sc.originate(f"live-{uuid.uuid4().hex[:8]}"))
        assert r.get("Response") == "Success", r
        return r

    async def member_status(self, interface: str) -> dict[str, str]:
        """The switch's own word: QueueStatus's QueueMember for this interface."""
        reply = await self.ami.send_action({"Action": "QueueStatus", "Queue": QUEUE})
        for m in reply.events:
            if m.event == "QueueMember" and interface in (
                m.get("Location"),
                m.get("StateInterface"),
            ):
                return dict(m.headers)
        raise AssertionError(f"{interface} not in QueueStatus: {reply.events}")

    async def action(self, **headers: str) -> ActionReply:
        """An action of the test's own, on Hotline's AMI link (answers are parsed there)."""
        return await self.ami.send_action(headers)

    def trail(self, interface: str) -> str:
        """What the switch said about an agent's phone and the customers' calls (failures)."""
        keys = ("Channel", "Uniqueid", "Interface", "Device", "State", "Status", "InCall")

        def shown(e: dict[str, str]) -> bool:
            about = " ".join(e.get(k, "") for k in ("Interface", "Device", "Channel"))
            if e.get("Event", "").startswith(("Agent", "DeviceState", "QueueMember")):
                return interface in about
            return e.get("Event", "").startswith(("QueueCaller", "Hangup"))

        return "\n".join(
            f"{e.get('Event')} " + " ".join(f"{k}={e[k]}" for k in keys if k in e)
            for e in self.seen
            if shown(e)
        )

    def events(self, name: str, **match: str) -> list[dict[str, str]]:
        return [
            e
            for e in self.seen
            if e.get("Event") == name and all(e.get(k) == v for k, v in match.items())
        ]


@pytest.fixture
async def hotline(asterisk: Asterisk, phones: Phones, tmp_path: Path) -> AsyncIterator[Hotline]:
    await quiet_switch(asterisk)
    settings = Settings(
        data_dir=tmp_path,
        ami=switch_login(asterisk),
        live=LiveSettings(wrapup_by_queue={QUEUE: 3.0}, spy_ring_s=4.0),
    )
    settings.callback.enabled = False
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    seen: list[dict[str, str]] = []
    pstn = await connect_manager(asterisk, seen)
    async with app.router.lifespan_context(app):
        tokens = {}
        for name, role, agent, phone in [
            ("wang", Role.AGENT, A1, None),
            ("chen", Role.SUPERVISOR, None, SUPER_PHONE),
            ("liu", Role.SUPERVISOR, None, "Local/noanswer@sim-agent"),
        ]:
            await container.users.add(name, role, agent, NOW, phone=phone)
            tokens[name] = await container.users.issue_token(name, NOW)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
            assert container.ami is not None
            live = app.state.live.service
            h = Hotline(client, pstn, seen, container.ami, tokens, container.calls, live.store)
            await eventually(lambda: h.agent(A1), 15, "Hotline to see PJSIP/1001 logged in")
            try:
                yield h
            finally:
                for iface in (A1, A2):  # leave the members unpaused for the next test
                    with contextlib.suppress(AmiError):
                        await h.action(Action="QueuePause", Interface=iface, Paused="false")
                with contextlib.suppress(AmiError):  # a dynamic member a test left behind
                    await h.action(Action="QueueRemove", Queue=QUEUE, Interface=A3)
    h.pstn.close()


async def test_an_agent_pauses_with_a_reason_and_the_switch_says_so(hotline: Hotline) -> None:
    r = await hotline.post("wang", "/api/supervision/pause", {"reason": "用餐", "queue": QUEUE})
    assert r.status_code == 200, r.text
    member = await hotline.member_status(A1)
    assert (member.get("Paused"), member.get("PausedReason")) == ("1", "用餐"), member

    async def paused() -> dict[str, Any] | None:
        a = await hotline.agent(A1)
        return a if a and a["activity"] == "paused" and a["pause_reason"] == "用餐" else None

    await eventually(paused, 10, "the live state to show 1001 paused (用餐)")
    r = await hotline.post("wang", "/api/supervision/unpause", {})
    assert r.status_code == 200, r.text
    assert (await hotline.member_status(A1)).get("Paused") == "0"
    # the switch's refusals, in Chinese, with stable ids
    r = await hotline.post(
        "chen", "/api/supervision/pause", {"agent": "PJSIP/4040", "reason": "小休"}
    )
    assert (r.status_code, r.json()["error"]) == (409, "agent_not_in_queue"), r.text
    r = await hotline.post(
        "chen", "/api/supervision/logout", {"agent": A1, "queue": "no-such-queue"}
    )
    assert (r.status_code, r.json()["error"]) == (422, "no_such_queue"), r.text
    r = await hotline.post("chen", "/api/supervision/logout", {"agent": A1, "queue": QUEUE})
    assert (r.status_code, r.json()["error"]) == (409, "member_is_static"), r.text
    # a dynamic member (QueueAdd on Hotline's link) is logged out for real, and Hotline's
    # live state follows the switch
    added = await hotline.action(Action="QueueAdd", Queue=QUEUE, Interface=A3, Paused="true")
    assert added.message == "Added interface to queue", added
    await eventually(lambda: hotline.agent(A3), 10, "the live state to show 1003 logged in")
    r = await hotline.post("chen", "/api/supervision/logout", {"agent": A3, "queue": QUEUE})
    assert r.status_code == 200, r.text
    reply = await hotline.action(Action="QueueStatus", Queue=QUEUE)
    assert all(A3 not in (m.get("Location"), m.get("StateInterface")) for m in reply.events)

    async def logged_out() -> bool:
        a = await hotline.agent(A3)
        return a is None or a["activity"] == "logged_out"

    await eventually(logged_out, 10, "the live state to show 1003 logged out")


async def test_ringing_talking_wrapup_available_and_the_waiting_caller(hotline: Hotline) -> None:
    # only 1001 takes calls: 1002 paused
    r = await hotline.post("chen", "/api/supervision/pause", {"agent": A2, "reason": "培训"})
    assert r.status_code == 200, r.text
    seen: list[str] = []

    async def watch() -> None:
        while True:
            a = await hotline.agent(A1)
            if a and (not seen or seen[-1] != a["activity"]):
                seen.append(a["activity"])
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    try:
        await hotline.call("13800000021", "SIM_HANGUP_AFTER=6")

        async def waiting() -> dict[str, Any] | None:
            q = await hotline.queue()
            return q if q and q["waiting_count"] == 1 else None

        q = await eventually(waiting, 5, "the caller waiting in the live queue")
        assert q["waiting"][0]["caller_number"] == "13800000021"
        assert q["longest_wait_seconds"] >= 0

        async def answered() -> dict[str, Any] | None:
            q = await hotline.queue()
            return q if q and q["waiting_count"] == 0 and q["today"]["answered"] >= 1 else None

        await eventually(answered, 10, "the caller to leave the queue, answered")

        async def back() -> bool:
            return len(seen) > 1 and seen[-1] == "available" and "wrap_up" in seen

        try:
            await eventually(back, 20, "1001 to be available after wrap-up")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; seen {seen}\n{hotline.trail(A1)}") from None
    finally:
        watcher.cancel()
    i = seen.index("ringing")
    assert seen[i:] == ["ringing", "talking", "wrap_up", "available"], seen
    # the agent's talking stretch (AgentConnect to the call's end) is the call record's talk
    # time within a second, call by call (issue 12)
    compared = await hotline.talk_stretches(A1, "13800000021")
    for call_id, state_s, record_s in compared:
        print(
            f"talk {call_id}: state {state_s:.3f} s, record {record_s:.3f} s, "
            f"difference {state_s - record_s:+.3f} s"
        )
    assert len(compared) == 1 and all(abs(a - b) < 1 for _, a, b in compared), compared


async def test_a_listen_call_reaches_the_supervisor_and_spies_on_the_agent(
    hotline: Hotline, asterisk: Asterisk
) -> None:
    await hotline.call("13800000031", "SIM_HANGUP_AFTER=20")

    async def talking() -> str | None:
        a = await hotline.agent(A2) or {}
        b = await hotline.agent(A1) or {}
        return next((x["interface"] for x in (a, b) if x.get("activity") == "talking"), None)

    agent = await eventually(talking, 15, "an agent to talk")
    # a supervisor whose phone does not answer: a clear error, and nothing left behind
    r = await hotline.post("liu", "/api/supervision/spy", {"agent": agent})
    assert (r.status_code, r.json()["error"]) == (409, "spy_not_answered"), r.text
    await asyncio.sleep(1)
    channels = await asyncio.to_thread(asterisk.cli, "core show channels concise")
    assert "noanswer@sim-agent" not in channels, channels
    # the supervisor's phone answers and ChanSpy joins the agent's call
    r = await hotline.post("chen", "/api/supervision/spy", {"agent": agent, "mode": "listen"})
    assert r.status_code == 200, r.text

    async def spying() -> dict[str, str] | None:
        found = hotline.events("ChanSpyStart")
        return found[-1] if found else None

    start = await eventually(spying, 10, "ChanSpyStart")
    assert start["SpyeeChannel"].startswith(f"{agent}-"), start
    assert start["SpyerChannel"].startswith("Local/super@sim-super"), start
    actions = await hotline.client.get(
        "/api/supervision/actions", headers={"Authorization": f"Bearer {hotline.tokens['chen']}"}
    )
    assert [(e["actor"], e["action"], e["outcome"]) for e in actions.json()][:2] == [
        ("chen", "listen", "done"),
        ("liu", "listen", "refused"),
    ]


async def test_a_restart_mid_call_is_rebuilt_from_the_switch(
    hotline: Hotline, asterisk: Asterisk
) -> None:
    r = await hotline.post("wang", "/api/supervision/pause", {"reason": "小休"})
    assert r.status_code == 200, r.text
    await hotline.call("13800000041", "SIM_HANGUP_AFTER=30")

    async def talking() -> bool:
        a = await hotline.agent(A2)
        return bool(a and a["activity"] == "talking")

    await eventually(talking, 15, "1002 to talk")
    await asyncio.to_thread(asterisk.restart)
    hotline.pstn.close()
    hotline.pstn = await connect_manager(asterisk, hotline.seen)  # the test's own login, back

    async def rebuilt() -> dict[str, Any] | None:
        live = await hotline.live()
        a1 = next((a for a in live["agents"] if a["interface"] == A1), None)
        a2 = next((a for a in live["agents"] if a["interface"] == A2), None)
        ok = live["link_up"] and a1 and a2 and a2["activity"] != "talking"
        return {"a1": a1, "a2": a2} if ok else None

    got = await eventually(rebuilt, 30, "the live state rebuilt after the restart")
    # the switch's own QueueStatus after the restart: static members, none paused, no call
    for iface in (A1, A2):
        member = await hotline.member_status(iface)
        view = got["a1" if iface == A1 else "a2"]
        assert view["paused"] == (member.get("Paused") == "1"), (view, member)
        assert (member.get("InCall") == "1") == bool(view["calls"]), (view, member)
