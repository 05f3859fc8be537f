"""The inspector's workflow in the database (SQLite and PostgreSQL): a call scored by the
pipeline, reviewed hit by hit, finalised, appealed; re-scores that keep a person's work;
and the migration that makes the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, InvalidInput, NotFound
from hotline.quality.model import Hit, Score
from hotline.quality.records import ScoreDetail
from hotline.quality.review import AppealAction, AppealState, ReviewStatus, Verdict
from hotline.quality.store import QualityStore
from hotline.telephony.store import CallStore
from tests.factories import answered_call

T0 = datetime(2024, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
QUALITY_TABLES = {
    "quality_scores", "quality_hits", "quality_comments", "quality_appeals", "quality_history",
}  # fmt: skip
# alembic compares an expression index by its text, which PostgreSQL gives back reformatted;
# tests/benchmarks/test_quality_report.py shows the worst calls' query reading this one
EXPRESSION_INDEXES = ("ix_quality_scores_worst",)

FORBIDDEN = Hit("forbidden_phrase", "agent", 42.3, 43.5, "我也没办法", 0.88, 15.0, False)
CLOSING = Hit("closing_missing", "agent", 170.0, 200.0, "（无结束语）", 0.9, 10.0, False)
UNSURE = Hit("forbidden_phrase", "agent", 95.0, 96.2, "我不知道", 0.42, 0.0, True)
ABUSE = Hit("abusive_language", "agent", 120.0, 120.6, "神经病", 0.8, 0.0, False)


def scored(call_id: str, *hits: Hit, score: float, band: str = "合格", fail: bool = False) -> Score:
    return Score(call_id, score, band, hits, instant_fail=fail, pack="zh-CN@1")


async def save(store: QualityStore, s: Score, *, agent: str = "PJSIP/1001", at: datetime = T0,
               within: bool | None = True, queue: str = "gas") -> ScoreDetail:  # fmt: skip
    await store.save_score(
        call_id=s.call_id, recording_id=7, agent=agent, queue=queue, call_started_at=at,
        ring_seconds=4.0, within_rule=within, score=s, now=at + timedelta(minutes=10),
    )  # fmt: skip
    detail = await store.get(s.call_id)
    assert detail is not None
    return detail


@pytest.fixture
def store(engine: AsyncEngine) -> QualityStore:
    return QualityStore(db.session_factory(engine))


async def test_the_migration_makes_the_quality_tables_as_the_models_declare(
    engine: AsyncEngine,
) -> None:
    def check(conn):  # type: ignore[no-untyped-def]
        assert set(inspect(conn).get_table_names()) >= QUALITY_TABLES
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        ours = [
            d
            for d in diff
            if any(t in repr(d) for t in QUALITY_TABLES)
            and not any(f"Index({i!r}" in repr(d) for i in EXPRESSION_INDEXES)
        ]
        assert ours == []

    async with engine.connect() as conn:
        await conn.run_sync(check)


async def test_a_call_is_stored_once_per_pack_with_its_hits(store: QualityStore) -> None:
    s = scored("1.1", FORBIDDEN, UNSURE, score=85.0, band="良好")
    d = await save(store, s)
    again = await save(store, s)  # the pipeline ran twice
    c = again.call
    assert (c.call_id, c.pack, c.agent, c.queue, c.recording_id) == (
        "1.1", "zh-CN@1", "PJSIP/1001", "gas", 7,
    )  # fmt: skip
    assert (c.score, c.band, c.auto_score, c.status) == (85.0, "良好", 85.0, ReviewStatus.OPEN)
    assert [(h.rule, h.start, h.evidence, h.verdict) for h in again.hits] == [
        ("forbidden_phrase", 42.3, "我也没办法", Verdict.PENDING),
        ("forbidden_phrase", 95.0, "我不知道", Verdict.PENDING),
    ]
    assert [h.points for h in again.hits] == [15.0, 15.0]  # the unsure one: the rule's weight
    assert again.pending_review == 1 and len(d.hits) == 2
    assert [(e.actor, e.action, e.before, e.after) for e in again.history] == [
        ("system", "scored", None, "85.0"),
        ("system", "rescored", "85.0", "85.0"),
    ]
    assert await store.get("9.9") is None


async def test_an_inspector_reviews_and_finalises_a_call(store: QualityStore) -> None:
    d = await save(store, scored("1.1", FORBIDDEN, CLOSING, UNSURE, score=75.0))
    forbidden, unsure, closing = d.hits  # in time order
    t = T0 + timedelta(hours=1)

    with pytest.raises(Conflict, match="待复核") as err:
        await store.finalise("1.1", actor="zhao", now=t)
    assert err.value.error_id == "review_pending"

    d = await store.set_verdict(
        "1.1", forbidden.id, Verdict.OVERTURNED, actor="zhao", now=t, comment="客户原话，非坐席"
    )
    assert d.call.score == 90.0 and d.call.band == "优秀"
    d = await store.set_verdict("1.1", unsure.id, Verdict.CONFIRMED, actor="zhao", now=t)
    assert d.call.score == 75.0  # 100 - 10 (closing, as scored) - 15 (unsure, confirmed)
    d = await store.comment("1.1", "注意结束语", actor="zhao", now=t)
    d = await store.finalise("1.1", actor="zhao", now=t + timedelta(minutes=1))
    c = d.call
    assert (c.status, c.final_score, c.score, c.finalised_by) == (
        ReviewStatus.FINALISED, 75.0, 75.0, "zhao",
    )  # fmt: skip
    assert {h.rule: h.verdict for h in d.hits if h.id == closing.id} == {
        "closing_missing": Verdict.CONFIRMED
    }
    assert [(c.author, c.text, c.hit_id) for c in d.comments] == [
        ("zhao", "客户原话，非坐席", forbidden.id),
        ("zhao", "注意结束语", None),
    ]
    steps = [(e.actor, e.action, e.hit_id, e.before, e.after) for e in d.history]
    assert steps[1:] == [
        ("zhao", "overturned", forbidden.id, "pending", "overturned"),
        ("zhao", "score", None, "75.0", "90.0"),
        ("zhao", "confirmed", unsure.id, "pending", "confirmed"),
        ("zhao", "score", None, "90.0", "75.0"),
        ("zhao", "comment", None, None, "注意结束语"),
        ("zhao", "confirmed", closing.id, "pending", "confirmed"),
        ("zhao", "finalise", None, "75.0", "75.0"),
    ]
    with pytest.raises(Conflict, match="已定稿"):
        await store.finalise("1.1", actor="zhao", now=t)
    with pytest.raises(NotFound, match="9999"):
        await store.set_verdict("1.1", 9999, Verdict.CONFIRMED, actor="zhao", now=t)
    with pytest.raises(InvalidInput, match="评语"):
        await store.comment("1.1", "  ", actor="zhao", now=t)
    with pytest.raises(NotFound, match="尚未评分"):
        await store.finalise("2.2", actor="zhao", now=t)


async def test_a_confirmed_abusive_call_scores_zero(store: QualityStore) -> None:
    d = await save(store, scored("1.1", ABUSE, CLOSING, score=0.0, band="不合格", fail=True))
    abuse = next(h for h in d.hits if h.rule == "abusive_language")
    assert abuse.instant_fail and d.call.score == 0.0
    d = await store.set_verdict("1.1", abuse.id, Verdict.OVERTURNED, actor="zhao", now=T0)
    assert d.call.score == 90.0
    d = await store.set_verdict("1.1", abuse.id, Verdict.CONFIRMED, actor="zhao", now=T0)
    assert (d.call.score, d.call.band) == (0.0, "不合格")


async def test_a_rescore_keeps_what_the_inspector_decided(store: QualityStore) -> None:
    d = await save(store, scored("1.1", FORBIDDEN, UNSURE, score=85.0))
    forbidden, _unsure = d.hits
    await store.set_verdict("1.1", forbidden.id, Verdict.OVERTURNED, actor="zhao", now=T0)
    # the new transcript still hears 我也没办法, no longer 我不知道, and a missing closing
    d = await save(store, scored("1.1", FORBIDDEN, CLOSING, score=75.0))
    assert [(h.id == forbidden.id, h.rule, h.verdict) for h in d.hits] == [
        (True, "forbidden_phrase", Verdict.OVERTURNED),
        (False, "closing_missing", Verdict.PENDING),
    ]
    assert d.call.score == 90.0 and d.call.auto_score == 75.0
    assert d.history[-1].action == "rescored"

    await store.finalise("1.1", actor="zhao", now=T0)
    d = await save(store, scored("1.1", score=100.0, band="优秀"))
    assert d.call.final_score == 90.0 and len(d.hits) == 2  # finalised: kept as it is
    assert (d.history[-1].action, d.history[-1].after) == ("rescore_kept", "100.0")


async def test_an_agent_appeals_and_an_inspector_decides(store: QualityStore) -> None:
    d = await save(store, scored("1.1", FORBIDDEN, CLOSING, score=75.0))
    forbidden, closing = d.hits
    t = T0 + timedelta(days=1)

    first = await store.open_appeal(
        "1.1", forbidden.id, "我说的是“我也没办法马上到”", actor="wang", now=t
    )
    assert first.state is AppealState.OPEN and first.agent == "PJSIP/1001"
    with pytest.raises(Conflict, match="处理中的申诉"):
        await store.open_appeal("1.1", forbidden.id, "再次申诉", actor="wang", now=t)
    with pytest.raises(Conflict, match="只有申诉人"):
        await store.move_appeal(first.id, AppealAction.WITHDRAW, actor="li", now=t)
    withdrawn = await store.move_appeal(first.id, AppealAction.WITHDRAW, actor="wang", now=t)
    assert withdrawn.state is AppealState.WITHDRAWN and withdrawn.closed_by == "wang"
    with pytest.raises(Conflict, match="已撤销，不能同意"):
        await store.move_appeal(first.id, AppealAction.ACCEPT, actor="zhao", now=t, reason="好")

    second = await store.open_appeal("1.1", forbidden.id, "请听录音 42 秒", actor="wang", now=t)
    with pytest.raises(InvalidInput, match="处理理由"):
        await store.move_appeal(second.id, AppealAction.ACCEPT, actor="zhao", now=t)
    accepted = await store.move_appeal(
        second.id, AppealAction.ACCEPT, actor="zhao", now=t, reason="录音确认为完整句，不属忌语"
    )
    assert accepted.state is AppealState.ACCEPTED
    d2 = await store.finalise("1.1", actor="zhao", now=t)
    assert d2.call.final_score == 90.0 and d2.call.status is ReviewStatus.FINALISED
    assert next(h for h in d2.hits if h.id == forbidden.id).verdict is Verdict.OVERTURNED

    third = await store.open_appeal("1.1", closing.id, "我说了再见", actor="wang", now=t)
    rejected = await store.move_appeal(
        third.id, AppealAction.REJECT, actor="zhao", now=t, reason="录音中未听到再见"
    )
    assert (rejected.state, rejected.decision_reason) == (AppealState.REJECTED, "录音中未听到再见")
    with pytest.raises(Conflict, match="已处理"):
        await store.open_appeal("1.1", closing.id, "再试一次", actor="wang", now=t)
    assert [a.id for a in await store.appeals(state=AppealState.OPEN)] == []
    assert [a.state for a in await store.appeals(only_agent="PJSIP/1001")] == [
        AppealState.WITHDRAWN, AppealState.ACCEPTED, AppealState.REJECTED,
    ]  # fmt: skip
    assert await store.appeals(only_agent="PJSIP/1002") == []
    d3 = await store.get("1.1")
    assert d3 is not None
    assert [e.action for e in d3.history if e.appeal_id] == [
        "appeal_open", "appeal_withdraw", "appeal_open", "appeal_accept", "overturned",
        "appeal_open", "appeal_reject",
    ]  # fmt: skip


async def test_a_finalised_score_stays_frozen_until_an_inspector_reopens_it(
    store: QualityStore,
) -> None:
    d = await save(store, scored("1.1", FORBIDDEN, CLOSING, score=75.0))
    forbidden, closing = d.hits
    t = T0 + timedelta(days=1)
    await store.finalise("1.1", actor="zhao", now=t)

    # a second inspector disagrees with the finalised score: refused, nothing changes
    for verdict in (Verdict.OVERTURNED, Verdict.CONFIRMED):
        with pytest.raises(Conflict, match=r"已由 zhao 定稿.*请先重开 \(.*reopen it first") as err:
            await store.set_verdict("1.1", forbidden.id, verdict, actor="qian", now=t)
        assert err.value.error_id == "score_finalised"
    # the agent may still appeal and be rejected; accepting would change the score: refused
    appeal = await store.open_appeal("1.1", closing.id, "我说了再见", actor="wang", now=t)
    with pytest.raises(Conflict, match="请先重开") as err:
        await store.move_appeal(appeal.id, AppealAction.ACCEPT, actor="qian", now=t, reason="好")
    assert err.value.error_id == "score_finalised"
    d = await store.get("1.1")
    assert d is not None
    assert (d.call.status, d.call.score, d.call.final_score) == (ReviewStatus.FINALISED, 75.0, 75.0)
    assert [a.state for a in d.appeals] == [AppealState.OPEN]

    # reopened on purpose, with a reason: the appeal goes through and it is finalised anew
    with pytest.raises(InvalidInput, match="重开理由"):
        await store.reopen("1.1", " ", actor="qian", now=t)
    d = await store.reopen("1.1", "录音 199 秒有再见，需更正", actor="qian", now=t)
    assert (d.call.status, d.call.final_score, d.call.finalised_by) == (
        ReviewStatus.OPEN,
        None,
        None,
    )
    reopened = d.history[-1]
    assert (reopened.actor, reopened.action, reopened.at, reopened.before, reopened.detail) == (
        "qian", "reopen", t, "75.0", "录音 199 秒有再见，需更正",
    )  # fmt: skip
    with pytest.raises(Conflict, match="尚未定稿") as err:
        await store.reopen("1.1", "再开一次", actor="qian", now=t)
    assert err.value.error_id == "not_finalised"
    await store.move_appeal(appeal.id, AppealAction.ACCEPT, actor="qian", now=t, reason="属实")
    d = await store.finalise("1.1", actor="qian", now=t + timedelta(minutes=5))
    assert (d.call.final_score, d.call.finalised_by) == (85.0, "qian")


async def test_a_call_scored_again_with_a_new_pack_counts_once_with_its_newest_score(
    store: QualityStore,
) -> None:
    await save(store, scored("1.1", FORBIDDEN, UNSURE, score=85.0, band="良好"))
    await save(store, scored("2.2", score=100.0, band="优秀"), at=T0 + timedelta(hours=1))
    # the hotline moves to zh-CN@2 and the pipeline scores call 1.1 again
    newer = Score("1.1", 90.0, "优秀", (CLOSING,), pack="zh-CN@2")
    await save(store, newer)

    listed = await store.list_scores()
    assert [(c.call_id, c.pack, c.score) for c in listed] == [
        ("2.2", "zh-CN@1", 100.0), ("1.1", "zh-CN@2", 90.0),
    ]  # fmt: skip
    assert [c.call_id for c in await store.list_scores(band="良好")] == []
    day = (T0, T0 + timedelta(days=1))
    queue = await store.candidates(*day)
    assert sorted((c.call_id, c.score, c.pending_review) for c, _ in queue) == [
        ("1.1", 90.0, 0), ("2.2", 100.0, 0),
    ]  # fmt: skip
    details = await store.period_details(*day)
    assert [(d.call.call_id, [h.rule for h in d.hits]) for d in details] == [
        ("1.1", ["closing_missing"]), ("2.2", []),
    ]  # fmt: skip
    d = await store.get("1.1")
    assert d is not None and d.call.pack == "zh-CN@2"
    old = await store.get("1.1", pack="zh-CN@1")  # kept for audit
    assert old is not None and old.call.score == 85.0 and len(old.hits) == 2


async def test_agents_list_their_own_scored_calls(store: QualityStore, engine: AsyncEngine) -> None:
    calls = CallStore(db.session_factory(engine))
    # the score names the interface; the call says which member answered
    await calls.save([answered_call("2.2", agent="Local/1002@agents", at=T0)])
    await save(store, scored("1.1", FORBIDDEN, score=85.0, band="良好"), agent="PJSIP/1001")
    await save(store, scored("2.2", score=100.0, band="优秀"), agent="PJSIP/1002",
               at=T0 + timedelta(hours=1))  # fmt: skip
    await save(store, scored("3.3", CLOSING, score=90.0, band="优秀"), agent="PJSIP/1001",
               at=T0 + timedelta(days=2), queue="water")  # fmt: skip

    def ids(items: list) -> list[str]:  # type: ignore[type-arg]
        return [c.call_id for c in items]

    assert ids(await store.list_scores()) == ["3.3", "2.2", "1.1"]
    assert ids(await store.list_scores(only_agent="PJSIP/1001")) == ["3.3", "1.1"]
    assert ids(await store.list_scores(only_agent="Local/1002@agents")) == ["2.2"]
    assert ids(await store.list_scores(queue="water")) == ["3.3"]
    assert ids(await store.list_scores(band="良好")) == ["1.1"]
    assert ids(await store.list_scores(since=T0, until=T0 + timedelta(days=1))) == ["2.2", "1.1"]
    assert ids(await store.list_scores(status=ReviewStatus.FINALISED)) == []
    cands = await store.candidates(T0, T0 + timedelta(days=1))
    assert sorted((c.call_id, c.score, c.pending_review) for c, _ in cands) == [
        ("1.1", 85.0, 0), ("2.2", 100.0, 0),
    ]  # fmt: skip
