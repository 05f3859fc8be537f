"""Users and tokens (issue 13): an admin disables a user (their tokens, sessions and sign-in
stop working), changes a role, lists a user's tokens, revokes one; tokens expire; every such
change is in the audit log with who and from where. The same from the command line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from hotline.api.cli import app as cli
from tests.api.test_api import Api, api

__all__ = ["api"]  # the fixture


def h(api: Api, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.tokens[who]}"}


async def test_a_disabled_user_is_refused_until_enabled_again(api: Api) -> None:
    await api.container.users.set_password("wang", "correct horse battery")
    assert (await api.get("wang", "/api/calls")).status_code == 200

    r = await api.client.post("/api/users/wang/disable", headers=h(api, "root"))
    assert r.status_code == 200 and r.json()["active"] is False
    r = await api.get("wang", "/api/calls")
    assert r.status_code == 401 and "停用" in r.json()["message"]
    assert await api.container.users.by_password("wang", "correct horse battery") is None
    r = await api.client.post("/api/users/wang/tokens", json={}, headers=h(api, "root"))
    assert r.status_code == 409 and "已停用" in r.json()["message"]

    assert (await api.client.post("/api/users/wang/enable", headers=h(api, "root"))).is_success
    assert (await api.get("wang", "/api/calls")).status_code == 200
    # only admins manage users
    assert (
        await api.client.post("/api/users/li/disable", headers=h(api, "chen"))
    ).status_code == 403


async def test_an_admin_lists_a_users_tokens_and_revokes_just_one(api: Api) -> None:
    r = await api.client.post(
        "/api/users/li/tokens", json={"label": "wallboard"}, headers=h(api, "root")
    )
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["label"] == "wallboard" and issued["usable"] and issued["token"]
    expires = datetime.fromisoformat(issued["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)  # default
    api.tokens["li2"] = issued["token"]

    listed = (await api.client.get("/api/users/li/tokens", headers=h(api, "root"))).json()
    assert listed[0]["id"] == issued["id"] and len(listed) == 2
    assert all("token" not in t for t in listed)  # never shown again

    r = await api.client.post(f"/api/tokens/{issued['id']}/revoke", headers=h(api, "root"))
    assert r.status_code == 200 and r.json()["revoked"] is True and not r.json()["usable"]
    assert (await api.get("li2", "/api/calls")).status_code == 401
    assert (await api.get("li", "/api/calls")).status_code == 200  # the other one still works


async def test_a_token_past_its_expiry_is_refused(api: Api) -> None:
    users = api.container.users
    long_ago = datetime.now(UTC) - timedelta(days=91)
    api.tokens["old"] = await users.issue_token("li", long_ago)
    assert await users.by_token(api.tokens["old"], long_ago + timedelta(days=1)) is not None
    r = await api.get("old", "/api/calls")
    assert r.status_code == 401 and "过期" in r.json()["message"]


async def test_role_changes_and_token_changes_are_audited(api: Api) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    root = h(api, "root")
    r = await api.client.put("/api/users/li/role", json={"role": "inspector"}, headers=root)
    assert r.status_code == 200 and r.json()["role"] == "inspector"
    issued = (await api.client.post("/api/users/li/tokens", json={}, headers=root)).json()
    await api.client.post(f"/api/tokens/{issued['id']}/revoke", headers=root)
    await api.client.post("/api/users/li/disable", headers=root)
    log = await api.container.recordings.audit_log(since=start)
    got = [(e.actor, e.action, e.detail, e.remote) for e in sorted(log, key=lambda e: e.id)]
    assert got == [
        ("root", "user_role", "user=li; agent -> inspector", "127.0.0.1"),
        ("root", "token_issue", f"user=li; token={issued['id']}", "127.0.0.1"),
        ("root", "token_revoke", f"user=li; token={issued['id']}", "127.0.0.1"),
        ("root", "user_disable", "user=li", "127.0.0.1"),
    ]


def test_the_cli_disables_lists_and_revokes_one_token(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {
        "HOTLINE_DATA_DIR": str(tmp_path),
        "HOTLINE_DATABASE_URL": f"postgresql://hotline:s3cret-pw@127.0.0.1/none?x={tmp_path}",
    }
    r = runner.invoke(cli, ["settings"], env=env)
    assert r.exit_code == 0 and "s3cret-pw" not in r.output and "***" in r.output
    env.pop("HOTLINE_DATABASE_URL")

    assert (
        runner.invoke(cli, ["users", "add", "sun", "--role", "supervisor"], env=env).exit_code == 0
    )
    r = runner.invoke(cli, ["tokens", "create", "sun", "--label", "大屏"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["tokens", "list", "sun"], env=env)
    rows = [line.split("\t") for line in r.output.strip().splitlines()]
    assert [row[1] for row in rows] == ["大屏", "first"] and {row[4] for row in rows} == {"ok"}
    r = runner.invoke(cli, ["tokens", "revoke", "--id", rows[0][0]], env=env)
    assert r.exit_code == 0 and "revoked token" in r.output
    r = runner.invoke(cli, ["tokens", "list", "sun"], env=env)
    assert [line.split("\t")[4] for line in r.output.strip().splitlines()] == ["revoked", "ok"]
    assert runner.invoke(cli, ["users", "disable", "sun"], env=env).exit_code == 0
    r = runner.invoke(cli, ["users", "list"], env=env)
    assert "停用" in r.output
    assert runner.invoke(cli, ["tokens", "revoke"], env=env).exit_code == 2
