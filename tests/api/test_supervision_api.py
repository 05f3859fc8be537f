"""The supervision routes as their users meet them: roles (401/403), the switch's refusals
as 409/422 with a stable error id and a Chinese message, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.api import app as app_module
from hotline.api.users import Role
from hotline.core.settings import Settings
from hotline.telephony.supervision import SpyDialPlan, SupervisionService
from hotline.telephony.supervision_store import SupervisionStore
from tests.telephony.fake_switch import FakeSwitch

NOW = datetime.now(UTC)


@dataclass
class Api:
    client: httpx.AsyncClient
    switch: FakeSwitch
    tokens: dict[str, str]

    async def post(self, who: str, url: str, body: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return await self.client.post(url, json=body, headers=headers)

    async def get(self, who: str, url: str) -> httpx.Response:
        return await self.client.get(url, headers={"Authorization": f"Bearer {self.tokens[who]}"})


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    container = app_module.build(Settings(data_dir=tmp_path))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    switch = FakeSwitch(members={"kefu": {"PJSIP/1001": True, "PJSIP/1002": True}})
    real: SupervisionService = app.state.supervision
    app.state.supervision = SupervisionService(
        switch,
        SupervisionStore(container.sessions),
        pause_reasons=real.pause_reasons,
        spy=SpyDialPlan(),
    )
    tokens = {}
    for name, role, agent, phone in [
        ("wang", Role.AGENT, "PJSIP/1001", None),
        ("chen", Role.SUPERVISOR, None, "PJSIP/9001"),
    ]:
        await container.users.add(name, role, agent, NOW, phone=phone)
        tokens[name] = await container.users.issue_token(name, NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, switch, tokens)
    await app_module.stop(container)


async def test_an_agent_pauses_themselves_and_not_others(api: Api) -> None:
    r = await api.get("wang", "/api/supervision/pause-reasons")
    assert r.json() == ["小休", "用餐", "培训", "话后整理"]
    r = await api.post("wang", "/api/supervision/pause", {"reason": "小休"})
    assert r.status_code == 200, r.text
    assert r.json()["agent"] == "PJSIP/1001" and r.json()["outcome"] == "done"
    assert api.switch.paused == {"PJSIP/1001": "小休"}
    r = await api.post("wang", "/api/supervision/pause", {"agent": "PJSIP/1002", "reason": "小休"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    r = await api.post("wang", "/api/supervision/logout", {"agent": "PJSIP/1001", "queue": "kefu"})
    assert r.status_code == 403
    r = await api.post("", "/api/supervision/unpause", {})
    assert r.status_code == 401


async def test_refusals_are_409_or_422_with_stable_ids(api: Api) -> None:
    r = await api.post("chen", "/api/supervision/pause", {"agent": "PJSIP/404", "reason": "小休"})
    assert r.status_code == 409 and r.json()["error"] == "agent_not_in_queue"
    assert "不在任何队列" in r.json()["message"]
    r = await api.post("chen", "/api/supervision/logout", {"agent": "PJSIP/1001", "queue": "无"})
    assert r.status_code == 422 and r.json()["error"] == "no_such_queue"
    api.switch.originate_code = 3
    r = await api.post("chen", "/api/supervision/spy", {"agent": "PJSIP/1001", "mode": "barge"})
    assert r.status_code == 409 and r.json()["error"] == "spy_not_answered"
    api.switch.up = False
    r = await api.post("chen", "/api/supervision/unpause", {"agent": "PJSIP/1001"})
    assert r.status_code == 503 and r.json()["error"] == "switch_unavailable"


async def test_a_supervisor_spies_and_sees_the_log(api: Api) -> None:
    r = await api.post("chen", "/api/supervision/spy", {"agent": "PJSIP/1002"})
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == "listen" and r.json()["phone"] == "PJSIP/9001"
    assert api.switch.originated[-1]["variables"]["HOTLINE_SPY_OPTIONS"] == "bqES"  # type: ignore[index]
    r = await api.get("chen", "/api/supervision/actions")
    assert [(e["actor"], e["action"], e["outcome"]) for e in r.json()] == [
        ("chen", "listen", "done")
    ]
    r = await api.get("wang", "/api/supervision/actions")
    assert r.status_code == 403
