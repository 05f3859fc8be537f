"""No lost updates (issue 13): a ticket edit and a review decision carry the version the
client read (ETag out, If-Match in); on another version the answer is 409 with the current
state and nothing changes, on SQLite and PostgreSQL alike, even for two at the same moment."""

from __future__ import annotations

import asyncio

import httpx

from hotline.api.etag import parse_if_match
from tests.api import test_quality_api as quality
from tests.api import test_tickets_api as tickets
from tests.api.test_tickets_api import drafted

api = tickets.api
quality_api = quality.api

__all__ = ["api", "quality_api"]


async def test_two_agents_edit_one_ticket_the_second_gets_409_with_the_first_ones_text(
    api: tickets.Api,
) -> None:
    tid = await drafted(api)
    url = f"/api/tickets/{tid}"
    first = await api.get("wang", url)
    tag = first.headers["etag"]
    assert tag == f'"{first.json()["version"]}"'

    mine = {"If-Match": tag, **api._h("wang")}
    r = await api.client.patch(url, json={"summary": "幸福路12号燃气泄漏"}, headers=mine)
    assert r.status_code == 200 and r.headers["etag"] != tag
    # the second edit was made on what the first reader saw: refused, nothing overwritten
    r = await api.client.patch(url, json={"summary": "另一个摘要"}, headers=mine)
    assert r.status_code == 409 and r.json()["error"] == "version_conflict"
    assert "已被他人修改" in r.json()["message"]
    assert r.json()["current"]["summary"] == "幸福路12号燃气泄漏"
    assert r.headers["etag"] == f'"{r.json()["current_version"]}"'
    assert (await api.get("wang", url)).json()["summary"] == "幸福路12号燃气泄漏"

    # an action on a stale version is refused the same way; on the current one it goes
    r = await api.act_as("wang", tid, "confirm", tag)
    assert r.status_code == 409 and r.json()["current"]["state"] == "draft"
    r = await api.act_as("wang", tid, "confirm", r.headers["etag"])
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    # without If-Match an edit still works (old clients), against the server's read
    r = await api.client.patch(url, json={"topic": "燃气泄漏"}, headers=api._h("wang"))
    assert r.status_code == 200


async def test_a_garbled_if_match_is_explained() -> None:
    assert parse_if_match('W/"7"') == 7 and parse_if_match("*") is None
    import pytest

    from hotline.core.errors import InvalidInput

    with pytest.raises(InvalidInput, match="ETag"):
        parse_if_match("yesterday")


async def test_two_inspectors_decide_the_same_hit_at_once_one_wins(
    quality_api: quality.Api,
) -> None:
    q = quality_api
    r = await q.get("zhao", "/api/quality/scores/1.1")
    tag, hit = r.headers["etag"], r.json()["hits"][0]["id"]
    base = f"/api/quality/scores/1.1/hits/{hit}"

    async def decide(who: str, verdict: str) -> httpx.Response:
        headers = {"If-Match": tag, **q._headers(who)}
        return await q.client.post(f"{base}/{verdict}", json=None, headers=headers)

    results = await asyncio.gather(decide("zhao", "confirm"), decide("qian", "overturn"))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    winner = next(r for r in results if r.status_code == 200)
    assert loser.json()["current"]["call"]["version"] == winner.json()["call"]["version"]
    shown = (await q.get("zhao", "/api/quality/scores/1.1")).json()
    assert shown["hits"][0]["verdict"] == winner.json()["hits"][0]["verdict"]


async def test_review_decisions_without_if_match_never_both_win(quality_api: quality.Api) -> None:
    q = quality_api
    r = await q.get("zhao", "/api/quality/scores/1.1")
    hits = [h["id"] for h in r.json()["hits"]]
    v0 = r.json()["call"]["version"]
    rounds = await asyncio.gather(
        *(q.post("zhao", f"/api/quality/scores/1.1/hits/{h}/confirm") for h in hits)
    )
    ok = [x for x in rounds if x.status_code == 200]
    assert all(x.status_code in (200, 409) for x in rounds)
    after = (await q.get("zhao", "/api/quality/scores/1.1")).json()["call"]["version"]
    assert after == v0 + len(ok)  # each decision that answered 200 moved the version once
