"""Sign-in without a browser: the CLI sets passwords, the throttle brakes guessing, and the
one `current_user` takes a bearer token or the session cookie (with its CSRF token)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hotline.api import app as app_module
from hotline.api.cli import app as cli
from hotline.api.users import Role
from hotline.core.settings import Settings
from hotline.web.throttle import LoginThrottle
from tests.factories import answered_call

PASSWORD = "correct-horse-9"


def test_the_cli_sets_passwords_from_stdin_and_a_short_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    r = runner.invoke(
        cli, ["users", "add", "liu", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert r.exit_code == 0, r.output
    assert "password set" in r.output
    r = runner.invoke(cli, ["users", "passwd", "liu", "--password-stdin"], input="short\n")
    assert r.exit_code == 1 and "至少 8 个字符" in r.output
    r = runner.invoke(cli, ["users", "passwd", "liu"], input="another-pass-1\nanother-pass-1\n")
    assert r.exit_code == 0 and "password of liu set" in r.output
    r = runner.invoke(cli, ["users", "passwd", "nobody", "--password-stdin"], input=PASSWORD)
    assert r.exit_code == 1 and "no user named 'nobody'" in r.output


def test_the_throttle_refuses_after_five_failures_until_the_window_passes() -> None:
    t = LoginThrottle(limit=5, window=timedelta(minutes=10))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    keys = ("name:wang", "addr:10.0.0.1")
    for i in range(5):
        assert t.wait_for(keys, now + timedelta(seconds=i)) is None
        t.failed(keys, now + timedelta(seconds=i))
    assert t.wait_for(("name:wang", "addr:10.0.0.2"), now + timedelta(minutes=1)) is not None
    assert t.wait_for(("name:li", "addr:10.0.0.2"), now + timedelta(minutes=1)) is None
    assert t.wait_for(keys, now + timedelta(minutes=10, seconds=5)) is None


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    container = app_module.build(Settings(data_dir=tmp_path))
    app = app_module.create_app(container=container)
    await app_module.start(container)
    now = datetime.now(UTC)
    await container.users.add("wang", Role.AGENT, "PJSIP/1001", now)
    await container.users.set_password("wang", PASSWORD)
    token = await container.users.issue_token("wang", now)
    await container.calls.save([answered_call("1.1"), answered_call("1.2", agent="PJSIP/1002")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hotline") as c:
        yield c, token
    await app_module.stop(container)


async def test_bearer_tokens_and_the_session_cookie_share_one_permission_check(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    c, token = client
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await c.get("/api/calls/1.1", headers=bearer)).status_code == 200
    assert (await c.get("/api/calls/1.2", headers=bearer)).status_code == 404
    assert (await c.get("/api/calls/1.1")).status_code == 401

    r = await c.post("/login", data={"username": "wang", "password": PASSWORD, "next": "//evil"})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert (await c.get("/api/calls/1.1")).status_code == 200
    assert (await c.get("/api/calls/1.2")).json() == (
        await c.get("/api/calls/1.2", headers=bearer)
    ).json()
    # a state-changing API request with the cookie needs the CSRF token
    r = await c.post("/api/callbacks/1/cancel")
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    assert "防伪令牌" in r.json()["message"]
    # with a bearer token none is needed (the agent is refused for their role, not for CSRF)
    r = await c.post("/api/callbacks/1/cancel", headers=bearer)
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


async def test_the_cookie_is_secure_behind_a_tls_proxy(
    client: tuple[httpx.AsyncClient, str],
) -> None:
    c, _ = client
    r = await c.post(
        "/login",
        data={"username": "wang", "password": PASSWORD},
        headers={"X-Forwarded-Proto": "https"},
    )
    assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
