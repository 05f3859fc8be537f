"""The 质检 pages over HTTP (no browser): the same permission checks as the quality API,
a repeated click that acts once, and a recording that is not there said in words."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from hotline.api import app as app_module
from hotline.api.users import Role
from hotline.asr.transcript import Channel
from hotline.core.settings import Settings
from hotline.recording.store import Status
from tests.recording import audio_fixtures as af
from tests.web.review_seed import said, seed_scored_call, two_channel_transcript

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, app_module.Container]]:
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/h.db")
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    await app_module.start(container)
    kit = af.session_kit(tmp_path.parent)
    transcript = two_channel_transcript(
        customer=[said("我 家 燃气 坏 了", 0.3, Channel.CUSTOMER)],
        agent=[said("我 不 知道", kit.customer_s + 0.2, Channel.AGENT)],
        duration_s=kit.customer_s + kit.agent_s,
    )
    await seed_scored_call(
        container.sessions,
        settings,
        call_id="9.1",
        agent="PJSIP/1001",
        number="13600136000",
        at=AT,
        customer_leg=kit.leg_in,
        agent_leg=kit.leg_out,
        transcript=transcript,
    )
    now = datetime.now(UTC)
    headers = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhao", Role.INSPECTOR, None),
    ]:
        await container.users.add(name, role, agent, now)
        headers[name] = {"Authorization": f"Bearer {await container.users.issue_token(name, now)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as c:
        c.headers.update({"X-Test": "1"})
        c.auth_headers = headers  # type: ignore[attr-defined]
        yield c, container
    await app_module.stop(container)


def who(c: httpx.AsyncClient, name: str) -> dict[str, str]:
    return c.auth_headers[name]  # type: ignore[attr-defined, no-any-return]


async def test_a_second_click_acts_once(
    client: tuple[httpx.AsyncClient, app_module.Container],
) -> None:
    c, container = client
    detail = await container.quality.get("9.1")
    assert detail is not None and detail.hits
    hit = detail.hits[0].id
    for _ in range(2):
        r = await c.post(f"/quality/calls/9.1/hits/{hit}/confirm", headers=who(c, "zhao"))
        assert r.status_code == 200 and 'hx-swap-oob="outerHTML"' in r.text
    after = await container.quality.get("9.1")
    assert after is not None
    assert [h.action for h in after.history].count("confirmed") == 1
    for _ in range(2):
        r = await c.post("/quality/calls/9.1/finalise", headers=who(c, "zhao"))
        assert r.status_code == 200, r.text
    # agents may not decide: the API's own role check
    r = await c.post(f"/quality/calls/9.1/hits/{hit}/overturn", headers=who(c, "wang"))
    assert r.status_code == 403
    # a reason is asked for, next to the field
    r = await c.post("/quality/calls/9.1/reopen", headers=who(c, "zhao"), data={"reason": " "})
    assert r.status_code == 422 and "请填写重新打开的理由" in r.text


async def test_the_page_shows_the_recording_state_and_hides_others_calls(
    client: tuple[httpx.AsyncClient, app_module.Container],
) -> None:
    c, container = client
    r = await c.get("/quality/calls/9.1", headers=who(c, "zhao"))
    assert r.status_code == 200 and 'id="waveform"' in r.text and "服务忌语" in r.text
    assert (await c.get("/quality/calls/9.1", headers=who(c, "li"))).status_code == 404
    r = await c.get("/quality/calls/9.1", headers=who(c, "wang"))
    assert r.status_code == 200 and "推翻" not in r.text and "申诉理由" in r.text
    rec = await container.recordings.by_call("9.1")
    assert rec is not None
    await container.recordings.update(rec.id, status=Status.FAILED, reason="交换机录音文件不存在")
    r = await c.get("/quality/calls/9.1", headers=who(c, "zhao"))
    assert (
        "录音归档失败，不能播放：交换机录音文件不存在" in r.text and 'id="waveform"' not in r.text
    )
    r = await c.get("/quality", headers=who(c, "zhao"), params={"period": "nonsense"})
    assert r.status_code == 200 and "期间格式" in r.text
