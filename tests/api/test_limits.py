"""Limits (issue 13): an oversized body is refused unread and before the token is checked;
a year like 9999 anywhere a time is asked for is a 422 in Chinese, never a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from hotline.api.limits import BodyLimit
from hotline.core.errors import InvalidInput
from hotline.core.periods import Period, PeriodKind
from tests.api.test_api import Api
from tests.api.test_api import api as api


async def test_a_huge_declared_body_is_refused_before_the_token_is_checked(api: Api) -> None:
    body = b"x" * (2 * 1024 * 1024)
    r = await api.client.post("/api/tickets/1/actions/close", content=body)
    assert r.status_code == 413  # not 401: nothing was read, not even the token
    assert r.json()["error"] == "body_too_large" and "请求内容过大" in r.json()["message"]


async def test_a_chunked_body_is_counted_as_it_streams_and_cut_at_the_limit() -> None:
    read: list[int] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        read.append(len(body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"y" * 4096  # 400 KiB, no Content-Length

    transport = httpx.ASGITransport(app=BodyLimit(app, max_bytes=64 * 1024))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.post("/", content=chunks())
        assert r.status_code == 413
        ok = await client.post("/", content=b"small")
        assert ok.status_code == 200
    assert read[-1] == 5


async def test_a_small_body_still_reaches_auth(api: Api) -> None:
    r = await api.client.post("/api/tickets/1/actions/close", json={"reason": "好"})
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/api/calls", {"since": "9999-12-31T23:59:59"}),
        ("/api/calls", {"until": "9999-12-31T23:59:59+14:00"}),
        ("/api/calls", {"since": "0001-01-01T00:00:00"}),
        ("/api/stats/service-level", {"since": "9999-12-31T00:00:00"}),
        ("/api/recordings", {"until": "9999-12-31T23:59:59"}),
        ("/api/audit", {"since": "9999-12-31T23:59:59"}),
        ("/api/transcripts/search", {"q": "燃气", "since": "9999-12-31T23:59:59"}),
        ("/api/tickets", {"until": "9999-12-31T23:59:59"}),
        ("/api/ticket-reports", {"period": "month", "date": "9999-12-31"}),
        ("/api/quality/reports", {"period": "month", "date": "9999-12-31"}),
        ("/api/quality/scores", {"since": "9999-12-31T23:59:59"}),
        ("/api/live/reports", {"period": "week", "date": "9999-12-31"}),
        ("/api/calls", {"offset": str(10**19)}),
    ],
)
async def test_year_9999_is_a_422_in_chinese(api: Api, url: str, params: dict[str, str]) -> None:
    r = await api.get("root", url, **params)
    assert r.status_code == 422, r.text
    assert "请" in r.json()["message"]


def test_a_period_in_year_9999_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidInput, match="年份须在"):
        Period.of(PeriodKind.MONTH, date(9999, 12, 31))


async def test_lists_and_fields_have_sizes(api: Api) -> None:
    h = {"Authorization": f"Bearer {api.tokens['chen']}"}
    r = await api.client.post("/api/tickets/1/split", json={"units": ["单位"] * 21}, headers=h)
    assert r.status_code == 422 and "units" in r.json()["message"]
    many = [{"kind": "phone", "value": "1", "evidence": {"text": "x"}}] * 51
    r = await api.client.patch("/api/tickets/1", json={"fields": many}, headers=h)
    assert r.status_code == 422
    r = await api.client.patch("/api/tickets/1", json={"summary": "长" * 2001}, headers=h)
    assert r.status_code == 422
