"""The audit trail (issue 13): reading a conversation in any form (transcript, search hit,
score detail), every export and 投诉转接单, every callback cancel and retrigger leaves an
entry with who, when and from where; and the API can only add to the log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline.recording.store import AuditEntry
from tests.api.test_authorization_table import route_keys
from tests.api.test_quality_api import Api, api
from tests.factories import abandoned_call

__all__ = ["api"]  # the fixture


async def entries(api: Api, since: datetime) -> list[AuditEntry]:
    found = await api.container.recordings.audit_log(since=since, limit=1000)
    return sorted(found, key=lambda e: e.id)


async def test_every_way_of_reading_a_conversation_is_audited(api: Api) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    rid = (await api.container.recordings.by_call("1.1")).id  # type: ignore[union-attr]

    assert (await api.get("zhao", "/api/calls/1.1/transcript")).status_code == 200
    assert (await api.get("wang", f"/api/recordings/{rid}/transcript")).status_code == 200
    hits = await api.get("zhao", "/api/transcripts/search", q="燃气")
    assert hits.status_code == 200 and len(hits.json()["items"]) == 3
    assert (await api.get("wang", "/api/quality/scores/1.1")).status_code == 200
    assert (await api.get("li", "/api/quality/scores/1.1")).status_code == 404  # not theirs

    log = await entries(api, start)
    got = [(e.actor, e.action, e.recording_id) for e in log]
    assert got[:2] == [("zhao", "transcript", rid), ("wang", "transcript", rid)]
    searched = [e for e in log if e.action == "search_hit"]
    assert len(searched) == 3 and {e.actor for e in searched} == {"zhao"}
    assert all(e.detail == "q=燃气" for e in searched)
    assert got[-1] == ("wang", "score_detail", rid)  # li saw nothing, so nothing is logged
    assert all(e.remote == "127.0.0.1" and e.at >= start for e in log)


async def test_exports_are_audited_with_who_and_what(api: Api) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    r = await api.get("sun", "/api/quality/reports", period="day", date="2024-11-23")
    assert r.status_code == 200  # the JSON view is not an export
    r = await api.get("sun", "/api/quality/reports", period="day", date="2024-11-23", format="xlsx")
    assert r.status_code == 200
    r = await api.get("sun", "/api/ticket-reports", period="week", format="xlsx")
    assert r.status_code == 200
    r = await api.get("sun", "/api/live/reports", format="xlsx")
    assert r.status_code == 200
    log = await entries(api, start)
    assert [(e.actor, e.action) for e in log] == [("sun", "export")] * 3
    assert log[0].detail is not None and "quality-day-2024-11-23.xlsx" in log[0].detail


async def test_callback_cancel_and_retrigger_say_who(api: Api) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1)
    cb = await api.container.callbacks.on_call_ended(abandoned_call("9.9"))
    assert cb is not None
    assert (await api.post("sun", f"/api/callbacks/{cb.id}/cancel")).status_code == 200
    assert (await api.post("sun", f"/api/callbacks/{cb.id}/retrigger")).status_code == 200
    log = await entries(api, start)
    assert [(e.actor, e.action, e.detail) for e in log] == [
        ("sun", "callback_cancel", f"callback={cb.id}"),
        ("sun", "callback_retrigger", f"callback={cb.id}"),
    ]


async def test_the_api_can_only_append_to_the_audit_log(api: Api) -> None:
    app = api.client._transport.app  # type: ignore[attr-defined]
    keys = route_keys(app)
    audit_routes = [k for k in keys if "/audit" in k]
    assert audit_routes == ["GET /api/audit", "GET /audit"]
    # issue 16: the customer file's own log (checks, links, views) is read-only too
    assert [k for k in keys if "/api/customer-audit" in k] == ["GET /api/customer-audit"]
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        for url in ("/api/audit", "/api/customer-audit"):
            r = await api.client.request(method, url, headers=api._headers("sun"))
            assert r.status_code == 405, (method, url, r.status_code)
