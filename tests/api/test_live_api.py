"""The live API as its users meet it: the snapshot by role, the SSE stream (a supervisor
sees everything, an agent their own state and the calls offered to them), state reports."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook

from hotline.api import app as app_module
from hotline.api.live_feed import LiveFeed, View, stream
from hotline.api.live_wiring import Live
from hotline.api.users import Role, User
from hotline.core.bus import Message
from hotline.core.settings import Settings
from hotline.telephony import events as ev
from hotline.telephony.events import DeviceState, MemberChange

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date().isoformat()


def t(seconds: float) -> datetime:
    return NOW - timedelta(minutes=10) + timedelta(seconds=seconds)


def member(s: float, interface: str, queue: str = "kefu", **kw: object) -> ev.MemberStatus:
    change = kw.pop("change", MemberChange.ADDED)
    return ev.MemberStatus(
        t(s),
        change,
        queue,
        interface,
        "工号" + interface[-4:],
        device=DeviceState.NOT_INUSE,
        **kw,  # type: ignore[arg-type]
    )


def chan(uid: str) -> tuple[str, str, str]:
    return (f"PJSIP/pstn-{uid}", uid, uid)


def called(s: float, uid: str, interface: str) -> ev.AgentCalled:
    return ev.AgentCalled(
        t(s), *chan(uid), queue="kefu", member="工号" + interface[-4:], interface=interface
    )


@dataclass
class Api:
    client: httpx.AsyncClient
    live: Live
    tokens: dict[str, str]

    async def get(self, who: str, url: str, **params: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return await self.client.get(url, params=params or None, headers=headers)

    async def feed(self, *events: ev.AmiEvent) -> None:
        for e in events:
            self.live.service.feed(e)
        await self.live.service.commit()


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    await app_module.start(container)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("zhao", Role.INSPECTOR, None),
        ("chen", Role.SUPERVISOR, None),
    ]:
        await container.users.add(name, role, agent, NOW)
        tokens[name] = await container.users.issue_token(name, NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, app.state.live, tokens)
    await app_module.stop(container)


async def test_the_snapshot_by_role(api: Api) -> None:
    await api.feed(
        member(0, "PJSIP/1001"),
        member(0, "PJSIP/1002"),
        member(0, "PJSIP/1002", queue="投诉"),
        member(5, "PJSIP/1002", change=MemberChange.PAUSE, paused=True, paused_reason="小休"),
        member(
            5, "PJSIP/1002", "投诉", change=MemberChange.PAUSE, paused=True, paused_reason="小休"
        ),
        ev.QueueCallerJoin(t(10), *chan("1.1"), queue="kefu", position=1, caller_num="13800"),
        called(10, "1.1", "PJSIP/1001"),
    )
    r = await api.get("chen", "/api/live")
    assert r.status_code == 200
    body = r.json()
    agents = {a["interface"]: a for a in body["agents"]}
    assert agents["PJSIP/1001"]["activity"] == "ringing"
    assert agents["PJSIP/1002"]["activity"] == "paused"
    assert agents["PJSIP/1002"]["pause_reason"] == "小休"
    assert agents["PJSIP/1002"]["activity_label"] == "示忙"
    kefu = next(q for q in body["queues"] if q["queue"] == "kefu")
    assert kefu["waiting"][0]["caller_number"] == "13800" and kefu["waiting_count"] == 1
    assert kefu["longest_wait_seconds"] >= 590
    assert kefu["today"]["offered"] == 1
    # an agent: their own state, their queues' counts, no caller numbers
    mine = (await api.get("wang", "/api/live")).json()
    assert [a["interface"] for a in mine["agents"]] == ["PJSIP/1001"]
    assert mine["agents"][0]["ringing"][0]["call_id"] == "1.1"
    assert [q["queue"] for q in mine["queues"]] == ["kefu"]
    assert "waiting" not in mine["queues"][0] and mine["queues"][0]["waiting_count"] == 1
    assert (await api.get("zhao", "/api/live")).json()["agents"] == []
    assert (await api.get("", "/api/live")).status_code == 401


async def test_state_reports(api: Api) -> None:
    await api.feed(
        member(0, "PJSIP/1001"),
        member(60, "PJSIP/1001", change=MemberChange.PAUSE, paused=True, paused_reason="用餐"),
        member(180, "PJSIP/1001", change=MemberChange.PAUSE, paused=False),
        called(200, "1.1", "PJSIP/1001"),
        ev.AgentConnect(
            t(204), *chan("1.1"), queue="kefu", member="工号1001", interface="PJSIP/1001"
        ),
        ev.AgentComplete(
            t(264), *chan("1.1"), queue="kefu", member="工号1001", interface="PJSIP/1001"
        ),
    )
    assert (await api.get("wang", "/api/live/reports")).status_code == 403
    r = await api.get("chen", "/api/live/reports", period="day", date=TODAY)
    if r.json()["agents"] == []:  # run across local midnight: the rows are yesterday's
        pytest.skip("the test's ten minutes span the hotline's midnight")
    [a] = r.json()["agents"]
    assert a["paused_seconds"] == 120 and a["pause_by_reason"] == [
        {"reason": "用餐", "seconds": 120}
    ]
    assert (a["ringing_seconds"], a["talk_seconds"], a["answered"]) == (4, 60, 1)
    assert a["logged_in_seconds"] >= 264
    assert r.json()["team"]["talk_seconds"] == 60
    x = await api.get("chen", "/api/live/reports", format="xlsx", date=TODAY)
    assert x.status_code == 200 and "attachment" in x.headers["content-disposition"]
    wb = load_workbook(io.BytesIO(x.content))
    assert wb.sheetnames == ["汇总", "坐席", "示忙原因"]
    assert wb["示忙原因"]["B2"].value == "用餐"


def events_of(text: str) -> list[tuple[str, dict[str, object]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n") if ": " in line)
        if "event" in lines:
            out.append((lines["event"], json.loads(lines["data"])))
    return out


async def test_the_stream_an_agent_sees(api: Api) -> None:
    wang = User(1, "wang", Role.AGENT, "PJSIP/1001")
    feed = api.live.feed
    chunks: list[str] = []

    async def read() -> None:
        body = stream(feed, View(wang), api.live.service.snapshot, lambda: NOW, _never, 0.05)
        async with contextlib.aclosing(body):  # as Starlette closes it when the client goes
            async for chunk in body:
                chunks.append(chunk)
                if "call/answered" in chunk:
                    return

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.1)
    assert feed.clients == 1
    await api.feed(
        member(0, "PJSIP/1001"),
        member(0, "PJSIP/1002"),
        ev.QueueCallerJoin(t(10), *chan("1.1"), queue="kefu", position=1),
        called(10, "1.1", "PJSIP/1001"),
        called(10, "1.1", "PJSIP/1002"),
    )
    bus = api.live.service.bus
    call = {"call_id": "1.1", "agent_member": None, "agent_interface": None}
    await bus.publish(Message("call/agent_ringing", call, t(10)))
    await bus.publish(Message("call/agent_ringing", {**call, "call_id": "9.9"}, t(10)))
    await bus.publish(Message("call/answered", {**call, "agent_interface": "PJSIP/1001"}, t(12)))
    async with asyncio.timeout(5):
        await reader
    text = "".join(chunks)
    assert text.startswith("retry: 3000\n\n") and ": keepalive" in text
    seen = events_of(text)
    assert seen[0][0] == "snapshot"
    topics = [e for e, _ in seen[1:]]
    assert set(topics) <= {"agent/state", "queue/changed", "call/agent_ringing", "call/answered"}
    assert all(p.get("interface") in (None, "PJSIP/1001") for _, p in seen[1:])
    ringing = [p for e, p in seen if e == "call/agent_ringing"]
    assert [p["call_id"] for p in ringing] == ["1.1"]  # offered to wang; 9.9 was not
    assert "queue/caller_joined" not in topics  # callers' numbers are for supervisors
    assert "id: " in text
    assert feed.clients == 0


async def test_a_supervisor_gets_everything_and_a_slow_client_is_cut() -> None:
    feed = LiveFeed(backlog=2)
    boss = feed.open(View(User(2, "chen", Role.SUPERVISOR, None)))
    for i in range(3):
        await feed.handle(Message("queue/caller_joined", {"queue": "kefu", "i": i}))
    assert feed.cut == 1 and feed.clients == 0
    assert boss.queue.qsize() == 2  # one change, then the end mark


async def test_a_change_is_encoded_once_for_all_supervisors() -> None:
    feed = LiveFeed()
    chen = feed.open(View(User(2, "chen", Role.SUPERVISOR, None)))
    li = feed.open(View(User(3, "li", Role.SUPERVISOR, None)))
    await feed.handle(Message("queue/caller_joined", {"queue": "kefu", "position": 1}))
    text = chen.queue.get_nowait()
    assert text is li.queue.get_nowait()
    assert text == 'id: 1\nevent: queue/caller_joined\ndata: {"queue":"kefu","position":1}\n\n'


async def _never() -> bool:
    return False
