"""The HTTP API as its users meet it: tokens, roles, call search, service level, callbacks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hotline.api import app as app_module
from hotline.api.cli import app as cli
from hotline.api.sessions import SessionStore
from hotline.core.errors import InvalidInput
from hotline.core.roles import Role
from hotline.core.settings import Settings
from hotline.telephony.callbacks import adjust_for_quiet_hours
from hotline.telephony.model import Direction
from tests.factories import abandoned_call, answered_call


@dataclass
class Api:
    client: httpx.AsyncClient
    container: app_module.Container
    tokens: dict[str, str]

    async def get(self, who: str, url: str, **params: object) -> httpx.Response:
        return await self.client.get(url, params=params or None, headers=self._auth(who))

    async def post(self, who: str, url: str) -> httpx.Response:
        return await self.client.post(url, headers=self._auth(who))

    def _auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}


@pytest.fixture
async def api(db_url: str, tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path, database_url=db_url)
    container = app_module.build(settings)
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    users = container.users
    tokens = {}
    for name, role, agent in [
        ("wang", Role.AGENT, "PJSIP/1001"),
        ("li", Role.AGENT, "PJSIP/1002"),
        ("zhao", Role.INSPECTOR, None),
        ("chen", Role.SUPERVISOR, None),
        ("root", Role.ADMIN, None),
    ]:
        await users.add(name, role, agent, now)
        tokens[name] = await users.issue_token(name, now)
    await container.calls.save(
        [
            answered_call("1.1", ring_s=4.0, agent="PJSIP/1001"),
            answered_call("1.2", ring_s=21.0, agent="PJSIP/1002", number="13700137000"),
            abandoned_call("1.3"),
        ]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield Api(client, container, tokens)
    await app_module.stop(container)


async def test_without_a_token_the_api_says_how_to_get_one(api: Api) -> None:
    r = await api.get("", "/api/calls")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "hotline tokens create" in r.json()["message"]
    api.tokens["nobody"] = "not-a-token"
    r = await api.get("nobody", "/api/calls")
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"


async def test_an_agent_sees_only_their_own_calls(api: Api) -> None:
    r = await api.get("wang", "/api/calls")
    assert r.status_code == 200
    assert [c["call_id"] for c in r.json()["items"]] == ["1.1"]
    assert (await api.get("wang", "/api/calls/1.1")).status_code == 200
    assert (await api.get("wang", "/api/calls/1.2")).status_code == 404
    r = await api.get("wang", "/api/calls", agent="PJSIP/1002")
    assert r.json()["total"] == 0  # asking for a colleague's calls gives nothing


async def test_an_agent_may_not_read_service_level_or_callbacks(api: Api) -> None:
    r = await api.get("wang", "/api/stats/service-level")
    assert r.status_code == 403 and "supervisor" in r.json()["message"]
    assert (await api.get("zhao", "/api/callbacks")).status_code == 403


async def test_an_inspector_finds_the_calls_answered_too_late(api: Api) -> None:
    r = await api.get("zhao", "/api/calls", within_rule="false")
    (late,) = r.json()["items"]
    assert late["call_id"] == "1.2" and late["rings"] == 5 and late["within_rule"] is False
    assert late["attempts"][0]["member"] == "PJSIP/1002"
    r = await api.get("zhao", "/api/calls", outcome="abandoned", number="139")
    assert [c["call_id"] for c in r.json()["items"]] == ["1.3"]
    r = await api.get("zhao", "/api/calls", limit=2, offset=0)
    assert r.json()["total"] == 3 and len(r.json()["items"]) == 2


async def test_times_without_a_zone_are_shanghai_time(api: Api) -> None:
    # T0 is 10:00 in Shanghai; the calls entered at 10:00 (two) and 10:00 (abandoned)
    r = await api.get(
        "zhao", "/api/calls", since="2026-11-23T10:00:00", until="2026-11-23T10:00:01"
    )
    assert r.json()["total"] == 3
    r = await api.get("zhao", "/api/calls", since="2026-11-23T10:00:01")
    assert r.json()["total"] == 0


async def test_bad_input_is_explained(api: Api) -> None:
    r = await api.get(
        "zhao", "/api/calls", since="2026-11-24T00:00:00", until="2026-11-23T00:00:00"
    )
    assert r.status_code == 422 and "must be before" in r.json()["message"]
    r = await api.get("zhao", "/api/calls", outcome="lost")
    assert r.status_code == 422


async def test_a_supervisor_reads_the_service_level_per_queue_and_agent(api: Api) -> None:
    r = await api.get("chen", "/api/stats/service-level", by="queue")
    assert r.status_code == 200
    (row,) = r.json()["rows"]
    assert row["key"] == "hotline" and row["calls"] == 3 and row["answered"] == 2
    assert row["within_rule_pct"] == 50.0 and row["abandoned_pct"] == 33.3
    assert row["average_speed_of_answer_s"] == 12.5
    r = await api.get("chen", "/api/stats/service-level", by="agent")
    by_agent = {row["key"]: row for row in r.json()["rows"]}
    assert by_agent["PJSIP/1001"]["within_rule_pct"] == 100.0
    assert by_agent["PJSIP/1002"]["within_rule_pct"] == 0.0


async def test_a_supervisor_lists_cancels_and_retriggers_callbacks(api: Api) -> None:
    cb = await api.container.callbacks.on_call_ended(abandoned_call("1.3"))
    assert cb is not None
    r = await api.get("chen", "/api/callbacks", status="scheduled")
    assert [c["call_id"] for c in r.json()] == ["1.3"]
    r = await api.post("chen", f"/api/callbacks/{cb.id}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await api.post("chen", f"/api/callbacks/{cb.id}/cancel")
    assert r.status_code == 409 and "已取消" in r.json()["message"]
    r = await api.post("chen", f"/api/callbacks/{cb.id}/retrigger")
    assert r.json()["status"] == "scheduled" and r.json()["updated_by"] == "chen"
    r = await api.get("chen", "/api/callbacks/999")
    assert r.status_code == 404 and "GET /api/callbacks" in r.json()["message"]


async def test_health_needs_no_token(api: Api) -> None:
    r = await api.client.get("/api/health")
    assert r.json()["database"] == "ok" and r.json()["ami"] == "disabled"


def test_the_cli_creates_a_user_whose_token_the_api_accepts(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"HOTLINE_DATA_DIR": str(tmp_path)}
    r = runner.invoke(cli, ["users", "add", "sun", "--role", "supervisor"], env=env)
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    r = runner.invoke(cli, ["users", "add", "sun", "--role", "agent"], env=env)
    assert r.exit_code == 1 and "--agent" in r.output
    r = runner.invoke(cli, ["users", "add", "sun", "--role", "admin"], env=env)
    assert r.exit_code == 1 and "exists already" in r.output

    async def ask() -> int:
        container = app_module.build(Settings(data_dir=tmp_path))
        app = app_module.create_app(container=container)
        await app_module.start(container)
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://h") as client:
                r = await client.get(
                    "/api/stats/service-level", headers={"Authorization": f"Bearer {token}"}
                )
                return r.status_code
        finally:
            await app_module.stop(container)

    assert asyncio.run(ask()) == 200


async def test_no_user_gets_the_system_role(api: Api) -> None:
    with pytest.raises(InvalidInput, match="system"):
        await api.container.users.add("robot", Role.SYSTEM, None, datetime.now(UTC))


async def test_callback_legs_are_not_counted_among_the_customers_calls(api: Api) -> None:
    """Three customer calls and two callback legs: the call list and the service level
    show the three; the legs are there on request."""
    legs = [
        replace(
            answered_call(f"9.{i}", number="13900139000"),
            direction=Direction.CALLBACK,
            callback_id=i,
        )
        for i in (1, 2)
    ]
    await api.container.calls.save(legs)
    r = await api.get("zhao", "/api/calls")
    assert r.json()["total"] == 3
    assert {c["direction"] for c in r.json()["items"]} == {"inbound"}
    r = await api.get("zhao", "/api/calls", direction="callback")
    assert r.json()["total"] == 2 and {c["call_id"] for c in r.json()["items"]} == {"9.1", "9.2"}
    r = await api.get("zhao", "/api/calls", direction="all")
    assert r.json()["total"] == 5
    r = await api.get("zhao", "/api/calls", direction="outbound")
    assert r.status_code == 422
    r = await api.get("chen", "/api/stats/service-level", by="all")
    (row,) = r.json()["rows"]
    assert row["calls"] == 3 and row["answered"] == 2


async def test_the_callback_list_shows_each_callbacks_attempts(api: Api) -> None:
    cb = await api.container.callbacks.on_call_ended(abandoned_call("1.3"))
    assert cb is not None
    store = api.container.callbacks.store
    assert await store.begin_attempt(cb.id, action_id="hotline-cb-1-a", now=datetime.now(UTC))
    r = await api.get("chen", "/api/callbacks")
    (listed,) = r.json()
    (attempt,) = listed["attempts"]
    assert attempt["action_id"] == "hotline-cb-1-a" and attempt["stage"] == "originated"
    assert listed == (await api.get("chen", f"/api/callbacks/{cb.id}")).json()


async def test_a_supervisor_retriggers_a_scheduled_callback_to_dial_now(api: Api) -> None:
    later = datetime.now(UTC) + timedelta(days=2)  # its first try is two days away
    cb = await api.container.callbacks.on_call_ended(abandoned_call("1.3", at=later))
    assert cb is not None and cb.status == "scheduled"
    policy = api.container.callbacks.policy
    before = adjust_for_quiet_hours(policy, datetime.now(UTC))
    r = await api.post("chen", f"/api/callbacks/{cb.id}/retrigger")
    after = adjust_for_quiet_hours(policy, datetime.now(UTC))
    assert r.status_code == 200 and r.json()["status"] == "scheduled"
    assert before <= datetime.fromisoformat(r.json()["next_attempt_at"]) <= after  # now


async def test_health_and_readiness_say_each_part_without_error_text_to_strangers(
    api: Api,
) -> None:
    loops = {
        "call-consumer",
        "pipeline-worker",
        "archive-sweep",
        "leader",
        "tickets",
        "session-purge",
    }
    r = await api.client.get("/api/health")
    body = r.json()
    assert r.status_code == 200 and body["database"] == "ok"
    assert body["ami"] == "disabled" and body["broker"] == "disabled"
    assert body["archive_disk"] == "ok"
    assert loops <= set(body["loops"]) and set(body["loops"].values()) == {"running"}
    assert "details" not in body and body["instance"] is None
    r = await api.client.get("/api/ready")
    assert r.status_code == 200 and r.json()["not_ready"] == []

    # the database goes away: not ready, and a stranger learns no more than that
    real = api.container.sessions

    def broken() -> object:
        raise ConnectionRefusedError("connect to 10.0.0.5:5432 as hotline_admin refused")

    api.container.sessions = broken  # type: ignore[assignment]
    try:
        r = await api.client.get("/api/ready")
        assert r.status_code == 503 and r.json()["not_ready"] == ["database"]
        assert r.json()["database"] == "unavailable"
        assert "10.0.0.5" not in r.text and "hotline_admin" not in r.text
        r = await api.client.get("/api/health")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        assert "10.0.0.5" not in r.text
        r = await api.get("wang", "/api/ready")  # an agent: no details either
        assert r.status_code == 503 and "10.0.0.5" not in r.text
        r = await api.get("chen", "/api/ready")  # a supervisor sees why
    finally:
        api.container.sessions = real
    assert r.status_code == 503
    assert "10.0.0.5" in r.json()["details"]["database"]
    assert r.json()["instance"] == api.container.instance


async def test_a_browser_session_left_idle_is_purged_and_a_recent_one_stays(api: Api) -> None:
    # a supervisor closed the laptop yesterday without signing out; a colleague is still at work
    store = SessionStore(api.container.sessions, timedelta(minutes=30))
    now = datetime.now(UTC)
    chen, _ = await api.container.users.status("chen")
    wang, _ = await api.container.users.status("wang")
    old, _ = await store.open(chen, now - timedelta(days=1))
    recent, _ = await store.open(wang, now - timedelta(minutes=5))
    assert await store.purge_idle(now) == 1
    assert (await store.find(old, now)).session is None
    found = (await store.find(recent, now)).session
    assert found is not None and found.user.name == "wang"
