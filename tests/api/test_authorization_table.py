"""Who may call what (issue 13): every route of the app, as nobody and as each role, against
one table of expected statuses. The table is checked against the app's own route list, so a
new route without an entry fails here until someone decides who may call it.

Columns: anonymous, agent, inspector, supervisor, admin. Ids in paths name nothing that
exists (so "allowed" reads 404 where the route is per-object) and bodies are empty (so
"allowed" reads 422 where a body is required). 401 = who are you (API), 303 = the page sends
the browser to sign in, 403 = not for your role. "S" is a live stream (SSE), not read to its
end here; tests/api/test_live_api.py reads it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from hotline.api import app as app_module
from hotline.core.roles import Role
from hotline.core.settings import Settings

WHO = ("", "agent", "inspector", "supervisor", "admin")
PATH_VALUES = {"call_id": "no-such-call", "action": "confirm"}  # any other id: 999999
STREAM = "S"

TABLE: dict[str, str] = {
    "GET /api/health": "200 200 200 200 200",
    "GET /api/ready": "200 200 200 200 200",
    "GET /api/calls": "401 200 200 200 200",
    "GET /api/calls/{call_id}": "401 404 404 404 404",
    "GET /api/stats/service-level": "401 403 403 200 200",
    "GET /api/callbacks": "401 403 403 200 200",
    "GET /api/callbacks/{callback_id}": "401 403 403 404 404",
    "POST /api/callbacks/{callback_id}/cancel": "401 403 403 404 404",
    "POST /api/callbacks/{callback_id}/retrigger": "401 403 403 404 404",
    "GET /api/recordings": "401 200 200 200 200",
    "GET /api/recordings/{recording_id}": "401 404 404 404 404",
    "GET /api/calls/{call_id}/recording": "401 404 404 404 404",
    "GET /api/recordings/{recording_id}/audio": "401 404 404 404 404",
    "HEAD /api/recordings/{recording_id}/audio": "401 404 404 404 404",
    "GET /api/recordings/{recording_id}/peaks": "401 404 404 404 404",
    "GET /api/audit": "401 403 403 403 200",
    "PUT /api/recordings/{recording_id}/hold": "401 403 403 403 422",
    "PUT /api/recordings/{recording_id}/important": "401 403 403 403 422",
    "PUT /api/recordings/{recording_id}/retention": "401 403 403 403 422",
    "POST /api/recordings/purge": "401 403 403 403 200",
    "POST /api/recordings/{recording_id}/retry": "401 403 403 404 404",
    "GET /api/calls/{call_id}/transcript": "401 404 404 404 404",
    "GET /api/recordings/{recording_id}/transcript": "401 404 404 404 404",
    "GET /api/transcripts/search": "401 422 422 422 422",
    "GET /api/jobs/stats": "401 403 403 200 200",
    "GET /api/jobs": "401 403 403 200 200",
    "GET /api/recordings/{recording_id}/jobs": "401 403 403 200 200",
    "POST /api/jobs/{job_id}/retry": "401 403 403 409 409",
    "POST /api/jobs/retry": "401 403 403 200 200",
    "GET /api/quality/scores": "401 200 200 200 200",
    "GET /api/quality/scores/{call_id}": "401 404 404 404 404",
    "GET /api/quality/review-queue": "401 403 200 200 200",
    "POST /api/quality/scores/{call_id}/hits/{hit_id}/confirm": "401 403 404 404 404",
    "POST /api/quality/scores/{call_id}/hits/{hit_id}/overturn": "401 403 404 404 404",
    "POST /api/quality/scores/{call_id}/comments": "401 403 422 422 422",
    "POST /api/quality/scores/{call_id}/finalise": "401 403 404 404 404",
    "POST /api/quality/scores/{call_id}/reopen": "401 403 422 422 422",
    "POST /api/quality/scores/{call_id}/hits/{hit_id}/appeal": "401 422 422 422 422",
    "POST /api/quality/appeals/{appeal_id}/withdraw": "401 404 404 404 404",
    "POST /api/quality/appeals/{appeal_id}/accept": "401 403 422 422 422",
    "POST /api/quality/appeals/{appeal_id}/reject": "401 403 422 422 422",
    "GET /api/quality/appeals": "401 200 200 200 200",
    "GET /api/quality/reports": "401 403 403 200 200",
    "GET /api/tickets": "401 200 200 200 200",
    "GET /api/tickets/{ticket_id}": "401 404 404 404 404",
    "POST /api/tickets": "401 422 422 422 422",
    "POST /api/tickets/{ticket_id}/attachments": "401 422 422 422 422",
    "GET /api/tickets/{ticket_id}/attachments": "401 404 404 404 404",
    "POST /api/tickets/{ticket_id}/judgement": "401 403 403 422 422",
    "POST /api/ticket-verification/draw": "401 403 403 200 200",
    "GET /api/ticket-verification": "401 403 403 200 200",
    "POST /api/tickets/{ticket_id}/verification": "401 403 403 422 422",
    "PATCH /api/tickets/{ticket_id}": "401 404 404 404 404",
    "POST /api/tickets/{ticket_id}/actions/{action}": "401 404 404 404 404",
    "POST /api/tickets/{ticket_id}/split": "401 422 422 422 422",
    "POST /api/tickets/{ticket_id}/extension": "401 422 422 422 422",
    "POST /api/tickets/{ticket_id}/extension/approve": "401 403 403 404 404",
    "GET /api/tickets/{ticket_id}/followups": "401 404 404 404 404",
    "POST /api/tickets/{ticket_id}/followups": "401 422 422 422 422",
    "POST /api/tickets/{ticket_id}/followups/dial": "401 404 404 404 404",
    "GET /api/ticket-reports": "401 403 403 200 200",
    "GET /api/ticket-reports/jobs/{job_id}": "401 403 403 404 404",
    "GET /api/ticket-reports/jobs/{job_id}/file": "401 403 403 404 404",
    "GET /api/surveys": "401 403 403 200 200",
    "GET /api/survey-reports": "401 403 403 200 200",
    "GET /api/tickets/{ticket_id}/transfer-slip": "401 403 403 404 404",
    "GET /api/live": "401 200 200 200 200",
    "GET /api/live/events": "401 S S S S",
    "GET /api/live/reports": "401 403 403 200 200",
    "GET /api/supervision/pause-reasons": "401 200 200 200 200",
    "POST /api/supervision/pause": "401 422 422 422 422",
    "POST /api/supervision/unpause": "401 503 422 422 422",
    "POST /api/supervision/logout": "401 403 403 422 422",
    "POST /api/supervision/spy": "401 403 403 422 422",
    "GET /api/supervision/actions": "401 403 403 200 200",
    "GET /api/users": "401 403 403 403 200",
    "POST /api/users/{name}/disable": "401 403 403 403 404",
    "POST /api/users/{name}/enable": "401 403 403 403 404",
    "PUT /api/users/{name}/role": "401 403 403 403 422",
    "GET /api/users/{name}/tokens": "401 403 403 403 404",
    "POST /api/users/{name}/tokens": "401 403 403 403 404",
    "POST /api/tokens/{token_id}/revoke": "401 403 403 403 404",
    "GET /login": "200 200 200 200 200",
    "POST /login": "400 400 400 400 400",
    "POST /logout": "303 303 303 303 303",
    "GET /": "303 200 200 200 200",
    "GET /calls": "303 200 200 200 200",
    "GET /calls/{call_id}": "303 404 404 404 404",
    "GET /recordings": "303 200 200 200 200",
    "GET /recordings/{recording_id}": "303 404 404 404 404",
    "POST /recordings/{recording_id}/hold": "303 403 403 403 404",
    "POST /recordings/{recording_id}/important": "303 403 403 403 404",
    "POST /recordings/{recording_id}/retention": "303 403 403 403 404",
    "GET /audit": "303 403 403 403 200",
    "GET /quality": "303 200 200 200 200",
    "GET /quality/calls/{call_id}": "303 404 404 404 404",
    "POST /quality/calls/{call_id}/hits/{hit_id}/confirm": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/hits/{hit_id}/overturn": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/comments": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/finalise": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/reopen": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/appeals/{appeal_id}/decide": "303 403 404 404 404",
    "POST /quality/calls/{call_id}/hits/{hit_id}/appeal": "303 404 404 404 404",
    "GET /wallboard": "303 403 403 200 200",
    "GET /callbacks": "303 403 403 200 200",
    "POST /callbacks/{callback_id}/cancel": "303 403 403 404 404",
    "POST /callbacks/{callback_id}/retrigger": "303 403 403 404 404",
    "GET /attention": "303 403 403 200 200",
    "GET /reports": "303 303 303 303 303",
    "GET /reports/service-level": "303 403 403 200 200",
    "GET /reports/quality": "303 403 403 200 200",
    "GET /reports/tickets": "303 403 403 200 200",
    "GET /reports/jobs/{job_id}": "303 403 403 404 404",
    "GET /reports/satisfaction": "303 403 403 200 200",
    "GET /reports/agents": "303 403 403 200 200",
    "GET /workspace": "303 200 200 200 200",
    "GET /workspace/pop/{call_id}": "303 404 404 404 404",
    "GET /tickets": "303 200 200 200 200",
    "GET /my/quality": "303 200 200 200 200",
    "GET /my/quality/{call_id}": "303 404 404 404 404",
    "POST /my/quality/{call_id}/hits/{hit_id}/appeal": "303 404 404 404 404",
    "POST /my/quality/{call_id}/appeals/{appeal_id}/withdraw": "303 404 404 404 404",
    "GET /tickets/new": "303 200 200 200 200",
    "POST /tickets/new": "303 422 422 422 422",
    "GET /tickets/{ticket_id}": "303 404 404 404 404",
    "POST /tickets/{ticket_id}/edit": "303 404 404 404 404",
    "POST /tickets/{ticket_id}/actions/{action}": "303 404 404 404 404",
    "POST /tickets/{ticket_id}/followups/dial": "303 404 404 404 404",
    "POST /tickets/{ticket_id}/followups": "303 404 404 404 404",
    "GET /workspace/events": "303 S S S S",
    "GET /supervision/actions": "303 403 403 200 200",
    # issue 16, the agent's desk: the file is the supervisors'; an agent reaches a customer
    # only through their own call (404 for others), the account only after the identity check
    "GET /api/customers": "401 403 403 422 422",
    "POST /api/customers": "401 403 403 422 422",
    "GET /api/customer-audit": "401 403 403 200 200",
    "GET /api/customers/import-template.csv": "401 403 403 200 200",
    "POST /api/customers/imports": "401 403 403 422 422",
    "GET /api/customers/imports": "401 403 403 200 200",
    "GET /api/customers/imports/{import_id}": "401 403 403 404 404",
    "POST /api/customers/imports/{import_id}/resume": "401 403 403 404 404",
    "GET /api/customers/imports/{import_id}/rejects": "401 403 403 404 404",
    "GET /api/customers/{customer_id}": "401 403 403 404 404",
    "PUT /api/customers/{customer_id}": "401 403 403 422 422",
    "DELETE /api/customers/{customer_id}": "401 403 403 404 404",
    "GET /api/calls/{call_id}/customer": "401 404 404 404 404",
    "PUT /api/calls/{call_id}/customer": "401 422 422 422 422",
    "POST /api/calls/{call_id}/identity": "401 404 404 404 404",
    "GET /api/calls/{call_id}/customer/account": "401 404 404 404 404",
    "GET /api/knowledge": "401 200 200 200 200",
    "GET /api/knowledge/search": "401 422 422 422 422",
    "POST /api/knowledge/suggest": "401 422 422 422 422",
    "POST /api/knowledge": "401 403 422 422 422",
    "GET /api/knowledge/{article_id}": "401 404 404 404 404",
    "POST /api/knowledge/{article_id}/versions": "401 403 422 422 422",
    "PUT /api/knowledge/{article_id}/versions/{version}": "401 403 422 422 422",
    "POST /api/knowledge/{article_id}/versions/{version}/{action}": "401 403 422 422 422",
    "GET /api/calls/{call_id}/suggestions": "401 404 404 404 404",
    "GET /api/notices": "401 200 200 200 200",
    "POST /api/notices": "401 403 403 422 422",
    "GET /api/notices/{notice_id}": "401 404 404 404 404",
    "POST /api/notices/{notice_id}/withdraw": "401 403 403 404 404",
    "GET /workspace/pop/{call_id}/customer": "303 404 404 404 404",
    "POST /workspace/pop/{call_id}/customer": "303 404 404 404 404",
    "POST /workspace/pop/{call_id}/identity": "303 404 404 404 404",
    "GET /workspace/notices": "303 200 200 200 200",
    "GET /workspace/knowledge": "303 200 200 200 200",
    "GET /knowledge": "303 200 200 200 200",
    "GET /notices": "303 200 200 200 200",
    "POST /notices": "303 403 403 404 404",
    "GET /customers": "303 403 403 200 200",
    "POST /customers/imports": "303 403 403 404 404",
    "GET /customers/imports/{import_id}": "303 403 403 404 404",
}

# routes that answer without anyone signed in
PUBLIC = {
    "GET /api/health",
    "GET /api/ready",
    "GET /login",
    "POST /login",
    "POST /logout",
    "GET /reports",
}


def route_keys(app: FastAPI) -> list[str]:
    """ "METHOD /path" of every route a client can call (HEAD only where there is no GET)."""
    keys = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or route.path.startswith(("/openapi", "/docs", "/redoc")):
            continue
        methods = route.methods - ({"HEAD"} if "GET" in route.methods else set())
        keys += [f"{m} {route.path}" for m in sorted(methods)]
    return keys


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    tokens: dict[str, str]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    container = app_module.build(Settings(data_dir=tmp_path))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    tokens = {}
    for role in (Role.AGENT, Role.INSPECTOR, Role.SUPERVISOR, Role.ADMIN):
        agent = "PJSIP/1001" if role is Role.AGENT else None
        await container.users.add(role.value, role, agent, now)
        tokens[role.value] = await container.users.issue_token(role.value, now)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as client:
        yield World(app, client, tokens)
    await app_module.stop(container)


async def test_every_route_has_an_entry_in_the_table(world: World) -> None:
    keys = route_keys(world.app)
    missing = [k for k in keys if k not in TABLE]
    assert not missing, f"new routes: decide who may call them and add them to TABLE: {missing}"
    gone = [k for k in TABLE if k not in keys]
    assert not gone, f"TABLE names routes the app no longer has: {gone}"


def test_the_table_never_lets_a_lower_role_in_where_a_higher_is_refused() -> None:
    for key, row in TABLE.items():
        codes = row.split()
        assert len(codes) == len(WHO), key
        if key not in PUBLIC:
            assert codes[0] in ("401", "303"), f"{key}: anyone may call it"
        refused = [i for i, c in enumerate(codes) if c == "403"]
        if refused:
            assert refused == list(range(1, max(refused) + 1)), f"{key}: {row}"


async def test_every_route_as_every_role(world: World) -> None:
    got: dict[str, str] = {}
    for key in route_keys(world.app):
        method, path = key.split(" ", 1)
        url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES.get(m[1], "999999"), path)
        codes = []
        for who in WHO:
            if who and key.endswith("/events"):
                codes.append(STREAM)
                continue
            headers = {"Authorization": f"Bearer {world.tokens[who]}"} if who else {}
            body = {} if method in ("POST", "PUT", "PATCH") else None
            r = await asyncio.wait_for(
                world.client.request(method, url, headers=headers, json=body), 10
            )
            codes.append(str(r.status_code))
        got[key] = " ".join(codes)
    wrong = {k: f"expected {TABLE.get(k)}, got {v}" for k, v in got.items() if TABLE.get(k) != v}
    assert not wrong, wrong
