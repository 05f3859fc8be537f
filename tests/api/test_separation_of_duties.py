"""Separation of duties (issue 13): nobody decides their own appeal, closes a complaint
against themselves or enters the satisfaction of their own ticket; and the 抽查 sample is
keyed by a secret of this install, so agents cannot compute which calls are checked."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

from hotline.core import keys
from hotline.core.roles import Role
from hotline.quality.review import Candidate, decides_own, sample
from hotline.tickets.duties import Actor, refusal
from hotline.tickets.lifecycle import Action
from hotline.tickets.model import Category
from tests.api import test_quality_api as quality
from tests.api import test_tickets_api as tickets
from tests.api.test_tickets_api import drafted

api = tickets.api
quality_api = quality.api

__all__ = ["api", "quality_api"]


async def test_an_inspector_who_also_answers_calls_cannot_decide_an_appeal_on_their_call(
    quality_api: quality.Api,
) -> None:
    q = quality_api
    now = datetime.now(UTC)
    await q.container.users.add("ma", Role.INSPECTOR, "PJSIP/1001", now)  # also wang's seat
    q.tokens["ma"] = await q.container.users.issue_token("ma", now)
    hits = (await q.get("zhao", "/api/quality/scores/1.1")).json()["hits"]
    closing = next(h["id"] for h in hits if h["evidence"] == "（无结束语）")
    r = await q.post("wang", f"/api/quality/scores/1.1/hits/{closing}/appeal", {"reason": "说了"})
    assert r.status_code == 201, r.text
    appeal = r.json()["id"]

    r = await q.post("ma", f"/api/quality/appeals/{appeal}/accept", {"reason": "同意"})
    assert r.status_code == 403 and r.json()["error"] == "own_appeal"
    assert "自己的申诉" in r.json()["message"]
    r = await q.post("zhao", f"/api/quality/appeals/{appeal}/reject", {"reason": "录音无再见"})
    assert r.status_code == 200 and r.json()["state"] == "rejected"


async def test_an_agent_cannot_close_a_complaint_about_themselves(api: tickets.Api) -> None:
    tid = await drafted(api)
    url = f"/api/tickets/{tid}"
    about_wang = {"category": "complaint", "summary": "客户投诉1001号客服态度差"}
    r = await api.client.patch(url, json=about_wang, headers=api._h("wang"))
    assert r.status_code == 200, r.text
    r = await api.act("wang", tid, "close_out_of_scope", reason="不属于受理范围")
    assert r.status_code == 403 and r.json()["error"] == "own_complaint"
    assert (await api.get("wang", url)).json()["state"] == "draft"  # nothing changed
    r = await api.act("boss", tid, "close_out_of_scope", reason="经核实不属于受理范围")
    assert r.status_code == 200 and r.json()["state"] == "closed"


async def test_an_agent_cannot_enter_the_satisfaction_of_their_own_ticket(
    api: tickets.Api,
) -> None:
    tid = await drafted(api)
    body = {"result": "reached", "satisfaction": "satisfied"}
    r = await api.post("wang", f"/api/tickets/{tid}/followups", body)
    assert r.status_code == 403 and r.json()["error"] == "own_satisfaction"
    r = await api.post("boss", f"/api/tickets/{tid}/followups", body)
    assert r.status_code != 403  # someone else may (here: not due yet, 409)


def test_the_rules_read_plainly() -> None:
    from tests.tickets.test_reports import ticket

    at = datetime(2026, 11, 23, 2, tzinfo=UTC)
    t = ticket(1, at, Category.COMPLAINT, agent="PJSIP/8001", summary="投诉8001号")
    seat = Actor("wang", "PJSIP/8001")
    other = Actor("li", "PJSIP/8002")
    assert refusal(t, Action.CLOSE, seat) is not None
    assert refusal(t, Action.CLOSE, other) is None
    assert refusal(t, Action.DISPATCH, seat) is None  # only closing is refused
    assert refusal(t, None, seat, satisfaction=True) is not None
    assert refusal(t, None, other, satisfaction=True) is None
    assert decides_own("wang", "PJSIP/8001", "wang", None)
    assert decides_own("wang", "PJSIP/8001", "ma", "PJSIP/8001")
    assert not decides_own("wang", "PJSIP/8001", "zhao", None)


def test_the_sample_key_is_made_once_per_install_and_kept_private(tmp_path: Path) -> None:
    first = keys.sample_key("", tmp_path / "a")
    assert len(first) == 64 and keys.sample_key("", tmp_path / "a") == first  # kept
    mode = stat.S_IMODE((tmp_path / "a" / keys.SAMPLE_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    assert keys.sample_key("", tmp_path / "b") != first  # another install, another key
    assert keys.sample_key("configured", tmp_path / "c") == "configured"
    assert not (tmp_path / "c").exists()


def test_two_installs_sample_different_calls_and_each_keeps_its_own() -> None:
    at = datetime(2026, 11, 23, 2, tzinfo=UTC)
    calls = [Candidate(f"c{i}", "PJSIP/8001", 100.0, at, 0, False) for i in range(200)]
    a = sample(calls, "2026-W48", 5.0, seed="key-of-install-a")
    b = sample(calls, "2026-W48", 5.0, seed="key-of-install-b")
    assert len(a) == len(b) == 10 and a != b
    assert sample(calls, "2026-W48", 5.0, seed="key-of-install-a") == a
    public = sample(calls, "2026-W48", 5.0)  # the old public constant: what agents could compute
    assert a != public
