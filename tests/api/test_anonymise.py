"""Retention for personal data (issue 13): after security.anonymise_after_years the
caller's number, the 户号/address fields and the numbers in texts are masked in tickets,
call rows, recording rows and quality evidence, except for calls under legal hold."""

from __future__ import annotations

from datetime import timedelta

from hotline.api.privacy import anonymise
from hotline.quality.model import Hit, Score
from tests.api.test_api import Api, api
from tests.api.test_tickets_api import T0, drafted
from tests.factories import pending_recording

__all__ = ["api"]


async def test_old_personal_data_is_masked_but_a_legal_hold_keeps_it(api: Api) -> None:
    c = api.container
    tid = await drafted(api, "7.7")  # type: ignore[arg-type]
    held = await drafted(api, "8.8")  # type: ignore[arg-type]
    rec = await pending_recording(c.recordings, "8.8", at=T0)
    await c.recordings.update(rec.id, legal_hold=True, hold_reason="诉讼 2024-001")
    said = Hit("forbidden_phrase", "agent", 8.4, 9.6, "你打13800138000问", 0.9, 15.0, False)
    await c.quality.save_score(
        call_id="7.7", recording_id=None, agent="PJSIP/1001", queue="gas",
        call_started_at=T0, ring_seconds=4.0, within_rule=True,
        score=Score("7.7", 85.0, "良好", (said,), pack="zh-CN@1"), now=T0,
    )  # fmt: skip

    # three years on, nothing is due yet
    early = await anonymise(c.sessions, 5.0, now=T0 + timedelta(days=3 * 365))
    assert (early.calls, early.tickets, early.evidence) == (0, 0, 0)

    done = await anonymise(c.sessions, 5.0, now=T0 + timedelta(days=6 * 365))
    assert done.tickets == 1 and done.evidence == 1 and done.calls >= 1 and done.held >= 1

    old = await c.tickets.store.get(tid)
    assert old is not None and old.ticket.caller_number == "138****8000"
    assert all("13800138000" not in f.value for f in old.ticket.fields)
    kept = await c.tickets.store.get(held)
    assert kept is not None and kept.ticket.caller_number == "13800138000"
    call = await c.calls.get("7.7")
    assert call is not None and call.caller_number == "138****8000"
    assert (await c.calls.get("8.8")).caller_number == "13800138000"  # type: ignore[union-attr]
    detail = await c.quality.get("7.7")
    assert detail is not None and detail.hits[0].evidence == "你打138****8000问"

    again = await anonymise(c.sessions, 5.0, now=T0 + timedelta(days=6 * 365))
    assert (again.calls, again.tickets, again.evidence, again.recordings) == (0, 0, 0, 0)
