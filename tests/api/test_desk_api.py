"""The agent's desk over HTTP, with roles: supervisors keep the customer file and import it;
an agent on a call sees who is calling (found by the number or the 户号 they said), confirms
it, records the identity check and only then gets the account; inspectors may look at the
call but not check identities; notices and knowledge suggestions reach the agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hotline.api import app as app_module
from hotline.api.desk_wiring import DeskParts
from hotline.core.roles import Role
from hotline.core.settings import Settings
from tests.asr.test_store import transcript
from tests.factories import answered_call, pending_recording

NOW = datetime.now(UTC)


@dataclass
class Api:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]
    desk: DeskParts

    async def call(self, who: str, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        return await self.client.request(method, url, headers=headers, **kw)


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    container = app_module.build(Settings(data_dir=tmp_path, database_url=db_url))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhao", Role.INSPECTOR, None),
        ("chen", Role.SUPERVISOR, None),
        ("zhou", Role.SUPERVISOR, None),
    ]:
        await container.users.add(name, role, agent, NOW)
        tokens[name] = await container.users.issue_token(name, NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, container, tokens, app.state.desk)
    await app.state.desk.importer.stop()  # the app's lifespan does it when served
    await app_module.stop(container)


ZHANG = {
    "account_no": "100001",
    "name": "张三",
    "address": "西湖区文三路1号",
    "phones": ["13800138000", "0571-88886666"],
    "district": "西湖区",
}
SHOP = {**ZHANG, "account_no": "100002", "name": "张记小吃", "phones": ["057188886666"]}


async def test_supervisors_keep_the_file_and_agents_and_inspectors_may_not(api: Api) -> None:
    r = await api.call("chen", "POST", "/api/customers", json=ZHANG)
    assert r.status_code == 201, r.text
    zhang = r.json()
    assert zhang["phones"] == ["057188886666", "13800138000"]
    for who in ("wang", "zhao"):
        assert (await api.call(who, "POST", "/api/customers", json=SHOP)).status_code == 403
        assert (
            await api.call(who, "GET", "/api/customers", params={"q": "100001"})
        ).status_code == 403
    r = await api.call("chen", "POST", "/api/customers", json={**SHOP, "account_no": "100001"})
    assert r.status_code == 409 and r.json()["error"] == "duplicate_account"
    r = await api.call("chen", "POST", "/api/customers", json={**SHOP, "phones": ["12"]})
    assert r.status_code == 422 and "电话号码「12」不对" in r.json()["message"]
    r = await api.call(
        "chen", "PUT", f"/api/customers/{zhang['id']}", json={**ZHANG, "name": "张叁"}
    )
    assert r.json()["name"] == "张叁"
    r = await api.call("chen", "GET", "/api/customers", params={"q": "+86 138 0013 8000"})
    assert [c["account_no"] for c in r.json()] == ["100001"]
    assert (await api.call("chen", "DELETE", f"/api/customers/{zhang['id']}")).status_code == 204
    assert (await api.call("chen", "GET", f"/api/customers/{zhang['id']}")).status_code == 404
    audit = (await api.call("chen", "GET", "/api/customer-audit")).json()
    assert [a["action"] for a in audit][:3] == ["delete", "search", "update"]


async def test_an_import_over_http_shows_its_progress_and_rejects(api: Api) -> None:
    csv = "户号,姓名,地址,电话\n200001,赵六,某路1号,13500000001\n200001,赵六,某路1号,\n"
    files = {"file": ("客户.csv", csv.encode(), "text/csv")}
    assert (
        await api.call("wang", "POST", "/api/customers/imports", files=files)
    ).status_code == 403
    r = await api.call("chen", "POST", "/api/customers/imports", files=files)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    await api.desk.importer.wait(job_id)  # the import runs in the background
    r = await api.call("chen", "GET", f"/api/customers/imports/{job_id}")
    body = r.json()
    assert (body["status"], body["percent"], body["accepted"], body["rejected"]) == (
        "done",
        100.0,
        1,
        1,
    )
    rejects = (await api.call("chen", "GET", f"/api/customers/imports/{job_id}/rejects")).json()
    assert rejects[0]["row_no"] == 3 and "第2行重复" in rejects[0]["reason"]
    bad = {"file": ("x.csv", "编号,名字\n1,张\n".encode(), "text/csv")}
    r = await api.call("chen", "POST", "/api/customers/imports", files=bad)
    assert r.status_code == 422 and "必需列：户号、姓名、地址、电话" in r.json()["message"]


async def call_with_words(api: Api, call_id: str, number: str, said: list[str]) -> None:
    c = api.container
    await c.calls.save([answered_call(call_id, number=number, agent="PJSIP/1001", at=NOW)])
    rec = await pending_recording(c.recordings, call_id, agent="PJSIP/1001", at=NOW)
    words = transcript(customer=[(s, 2.0 + i) for i, s in enumerate(said)], agent=[("您好", 0.5)])
    await c.transcripts.save(rec.id, call_id, words, NOW)


async def test_identity_is_checked_before_the_account_is_shown(api: Api) -> None:
    zhang = (await api.call("chen", "POST", "/api/customers", json=ZHANG)).json()
    shop = (await api.call("chen", "POST", "/api/customers", json=SHOP)).json()
    # from the shared landline: two customers; the caller says the shop's 户号
    await call_with_words(api, "1.1", "057188886666", ["我 的 户号 是 幺 零 零 零 零 二"])
    r = await api.call("wang", "GET", "/api/calls/1.1/customer")
    assert r.status_code == 200, r.text
    body = r.json()
    assert [(c["customer"]["id"], c["source"]) for c in body["candidates"]] == [
        (shop["id"], "spoken"),
        (zhang["id"], "number"),
    ]
    assert body["customer"] == {
        "id": shop["id"],
        "account_no": "100002",
        "name": "张***",
        "district": "西湖区",
    }
    assert body["link"]["confirmed"] is False and body["verified"] is False
    assert [d["label"] for d in body["policy"]["details"]] == ["姓名", "地址", "户号", "预留电话"]

    # the agent corrects the link: it is 张三 calling from the shop's phone
    r = await api.call("wang", "PUT", "/api/calls/1.1/customer", json={"customer_id": zhang["id"]})
    assert r.json()["confirmed"] is True and r.json()["source"] == "agent"
    r = await api.call("wang", "GET", "/api/calls/1.1/customer/account")
    assert r.status_code == 403 and r.json()["error"] == "identity_not_checked"
    assert "未通过身份核实" in r.json()["message"]

    r = await api.call("wang", "POST", "/api/calls/1.1/identity", json={"confirmed": ["name"]})
    assert r.status_code == 201 and r.json()["passed"] is False
    assert (await api.call("wang", "GET", "/api/calls/1.1/customer/account")).status_code == 403
    r = await api.call("wang", "POST", "/api/calls/1.1/identity", json={"confirmed": ["shoe"]})
    assert r.status_code == 422 and "不在核实规则内" in r.json()["message"]
    # inspectors see the call but do not check identities; other agents do not see it
    assert (await api.call("zhao", "GET", "/api/calls/1.1/customer")).status_code == 200
    r = await api.call("zhao", "POST", "/api/calls/1.1/identity", json={"confirmed": ["name"]})
    assert r.status_code == 403
    assert (await api.call("li", "GET", "/api/calls/1.1/customer")).status_code == 404
    assert (await api.call("li", "GET", "/api/calls/1.1/customer/account")).status_code == 404

    r = await api.call(
        "wang", "POST", "/api/calls/1.1/identity", json={"confirmed": ["name", "address"]}
    )
    assert r.json()["passed"] is True and r.json()["confirmed"] == ["name", "address"]
    r = await api.call("wang", "GET", "/api/calls/1.1/customer/account")
    assert r.status_code == 200 and r.json()["customer"]["name"] == "张三"
    # the history spans all of 张三's numbers
    await api.container.calls.save(
        [answered_call("0.9", number="13800138000", at=NOW - timedelta(days=3))]
    )
    history = (await api.call("wang", "GET", "/api/calls/1.1/customer/account")).json()["history"]
    assert [c["call_id"] for c in history["calls"]] == ["0.9"]
    audit = (await api.call("chen", "GET", "/api/customer-audit", params={"call_id": "1.1"})).json()
    assert [a["action"] for a in audit] == [
        "view_account",
        "view_account",
        "identity_passed",
        "identity_failed",
        "link_correct",
        "link_found",
    ]
    assert audit[2]["actor"] == "wang" and audit[2]["detail"] == "name,address"
    # and in the service's one audit trail, with where from (issue 13's log)
    trail = await api.container.recordings.audit_log(action="identity_check")
    assert [(e.actor, e.detail) for e in reversed(trail)] == [
        ("wang", f"call=1.1 customer={zhang['id']} failed: name"),
        ("wang", f"call=1.1 customer={zhang['id']} passed: name,address"),
    ]
    shown = await api.container.recordings.audit_log(action="customer_account")
    assert len(shown) == 2 and shown[0].remote is not None


async def test_a_notice_reaches_the_caller_in_the_area_and_not_one_outside(api: Api) -> None:
    await api.call("chen", "POST", "/api/customers", json=ZHANG)
    await api.call(
        "chen",
        "POST",
        "/api/customers",
        json={
            **SHOP,
            "account_no": "300001",
            "address": "上城区解放路9号",
            "district": "上城区",
            "phones": ["13900139000"],
        },
    )
    notice = {
        "kind": "gas",
        "title": "文三路停气",
        "wording": "因管道施工停气，预计今天17时恢复。",
        "streets": ["文三路"],
        "ends_at": (NOW + timedelta(hours=6)).isoformat(),
    }
    assert (await api.call("wang", "POST", "/api/notices", json=notice)).status_code == 403
    r = await api.call("chen", "POST", "/api/notices", json={**notice, "ends_at": None})
    assert r.status_code == 422 and r.json()["error"] == "notice_without_end"
    r = await api.call("chen", "POST", "/api/notices", json={**notice, "streets": ["无此路"]})
    assert r.status_code == 422 and r.json()["error"] == "notice_area_matches_nobody"
    r = await api.call("chen", "POST", "/api/notices", json=notice)
    assert r.status_code == 201 and r.json()["affected"] == 1 and r.json()["state"] == "in_force"

    await call_with_words(api, "2.1", "13800138000", ["我 家 没 气 了"])
    await call_with_words(api, "2.2", "13900139000", ["我 家 没 气 了"])
    inside = (await api.call("wang", "GET", "/api/calls/2.1/customer")).json()
    assert [n["title"] for n in inside["notices"]] == ["文三路停气"]
    assert inside["notices"][0]["wording"] == notice["wording"]
    outside = (await api.call("wang", "GET", "/api/calls/2.2/customer")).json()
    assert outside["notices"] == []
    assert [n["title"] for n in (await api.call("wang", "GET", "/api/notices")).json()] == [
        "文三路停气"
    ]
    assert (
        await api.call("wang", "GET", "/api/notices", params={"history": True})
    ).status_code == 403


async def test_articles_are_written_reviewed_published_and_suggested_for_a_call(api: Api) -> None:
    article = {
        "category": "缴费",
        "title": "IC卡燃气表余额不足",
        "body": "余额用完后燃气表自动关阀，请充值后插卡恢复用气。",
        "keywords": ["欠费", "充值", "插卡"],
    }
    assert (await api.call("wang", "POST", "/api/knowledge", json=article)).status_code == 403
    v = (await api.call("zhao", "POST", "/api/knowledge", json=article)).json()
    base = f"/api/knowledge/{v['article_id']}/versions/1"
    assert (await api.call("zhao", "POST", f"{base}/submit")).json()["state"] == "submitted"
    r = await api.call("zhao", "POST", f"{base}/approve")
    assert r.status_code == 403
    r = await api.call("chen", "POST", f"{base}/approve", json={"note": "可以"})
    assert r.json()["state_label"] == "待发布" and r.json()["reviewer"] == "chen"
    assert (await api.call("chen", "POST", f"{base}/publish")).json()["state"] == "published"

    await call_with_words(api, "3.1", "13700137000", ["卡 里 没 钱 了 要 去 哪里 冲值 于额 不足"])
    r = await api.call("wang", "GET", "/api/calls/3.1/suggestions")
    body = r.json()
    assert body["source"] == "transcript"
    assert [s["article"]["title"] for s in body["suggestions"]] == ["IC卡燃气表余额不足"]
    r = await api.call(
        "wang", "POST", "/api/knowledge/suggest", json={"utterances": ["于额不足了", "怎么冲值"]}
    )
    assert [s["article"]["title"] for s in r.json()["suggestions"]] == ["IC卡燃气表余额不足"]
    assert (await api.call("li", "GET", "/api/calls/3.1/suggestions")).status_code == 404
    listed = (await api.call("wang", "GET", "/api/knowledge")).json()
    assert [a["state"] for a in listed] == ["published"]
