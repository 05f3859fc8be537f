"""The knowledge base in the database (SQLite and PostgreSQL): an article goes 采编 → 审核 →
发布, by two different people; the customer's own words find it; an article past its
validity, retired or not yet published is never suggested."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, InvalidInput
from hotline.core.roles import Role
from hotline.knowledge.model import Action, ArticleIn, VersionState
from hotline.knowledge.store import KnowledgeBase
from tests.customers.factories import T0

ARREARS = ArticleIn(
    category="燃气缴费",
    title="IC卡燃气表余额不足自动关阀的处理",
    body="燃气表内余额用完后表具自动关阀停止供气。请客户通过微信公众号或营业厅充值，"
    "充值后将IC卡插入燃气表，听到阀门打开声后即可恢复用气。",
    keywords=("欠费", "余额不足", "充值", "插卡"),
    valid_from=T0 - timedelta(days=30),
    valid_until=None,
)
LEAK = ArticleIn(
    category="安全",
    title="燃气泄漏应急处置",
    body="闻到燃气异味时立即关闭燃气总阀，打开门窗通风，不要开关电器，到室外拨打抢修电话。",
    keywords=("泄漏", "异味", "煤气味", "抢修"),
    valid_from=T0 - timedelta(days=30),
    valid_until=None,
)
WINTER = ArticleIn(
    category="缴费",
    title="冬季充值优惠活动",
    body="活动期间通过微信充值燃气费可享受优惠，余额不足时请及时充值。",
    keywords=("充值", "优惠", "余额不足"),
    valid_from=T0 - timedelta(days=90),
    valid_until=T0 - timedelta(days=1),  # ended yesterday
)
# what a caller said (as the recogniser wrote it): no word of the title, 冲值 for 充值,
# 于额 for 余额, 插咔 for 插卡, and fillers
CALLER = [
    "喂 你好 我家 煤气 突然 打不着火 了",
    "是不是 卡里 没 钱 了 于额 不足 那个 冲值 以后 要 怎么 插咔",
]


@pytest.fixture
def kb(engine: AsyncEngine) -> KnowledgeBase:
    return KnowledgeBase(db.session_factory(engine))


async def publish(kb: KnowledgeBase, article: ArticleIn, author: str = "liu") -> int:
    v = await kb.draft(article, author=author, now=T0)
    await kb.act(v.article_id, 1, Action.SUBMIT, actor=author, role=Role.INSPECTOR, now=T0)
    await kb.act(v.article_id, 1, Action.APPROVE, actor="chen", role=Role.SUPERVISOR, now=T0)
    await kb.act(v.article_id, 1, Action.PUBLISH, actor="chen", role=Role.SUPERVISOR, now=T0)
    return v.article_id


async def test_the_customers_own_words_find_the_article(kb: KnowledgeBase) -> None:
    arrears = await publish(kb, ARREARS)
    await publish(kb, LEAK)
    winter = await publish(kb, WINTER)
    found = await kb.suggest(CALLER, T0)
    assert [s.version.article_id for s in found] == [arrears]
    assert {"cong-zi", "yu-e", "ca-ka"} <= set(found[0].matched)
    assert winter not in [s.version.article_id for s in await kb.search("冬季充值优惠", T0)]
    # a caller smelling gas finds the leak article by 煤气味 / 味道 / 泄露 (a homophone)
    leak = await kb.suggest(["屋里 有 一股 煤气 味道 是不是 泄露 了"], T0)
    assert leak[0].version.title == "燃气泄漏应急处置"
    assert await kb.suggest(["好的 谢谢 再见"], T0) == []


async def test_review_by_another_person_then_publish_and_new_versions(kb: KnowledgeBase) -> None:
    v = await kb.draft(ARREARS, author="liu", now=T0)
    assert v.state is VersionState.DRAFT and await kb.suggest(CALLER, T0) == []
    aid = v.article_id
    with pytest.raises(Conflict, match="不能执行"):
        await kb.act(aid, 1, Action.PUBLISH, actor="chen", role=Role.SUPERVISOR, now=T0)
    await kb.act(aid, 1, Action.SUBMIT, actor="liu", role=Role.INSPECTOR, now=T0)
    with pytest.raises(Conflict, match="审核人不能是采编人本人"):
        await kb.act(aid, 1, Action.APPROVE, actor="liu", role=Role.SUPERVISOR, now=T0)
    with pytest.raises(InvalidInput, match="supervisor"):
        await kb.act(aid, 1, Action.APPROVE, actor="zhao", role=Role.INSPECTOR, now=T0)
    back = await kb.act(
        aid, 1, Action.REJECT, actor="chen", role=Role.SUPERVISOR, now=T0, note="补充营业厅地址"
    )
    assert back.state is VersionState.DRAFT and back.review_note == "补充营业厅地址"
    await kb.act(aid, 1, Action.SUBMIT, actor="liu", role=Role.INSPECTOR, now=T0)
    await kb.act(aid, 1, Action.APPROVE, actor="chen", role=Role.SUPERVISOR, now=T0)
    one = await kb.act(aid, 1, Action.PUBLISH, actor="chen", role=Role.SUPERVISOR, now=T0)
    assert (one.state, one.reviewer, one.published_at) == (VersionState.PUBLISHED, "chen", T0)
    assert [s.version.version for s in await kb.suggest(CALLER, T0)] == [1]

    # version 2 is written while version 1 keeps answering, and replaces it once published
    two = await kb.draft(
        replace(ARREARS, body=ARREARS.body + "也可拨打热线充值。"),
        author="liu",
        now=T0,
        article_id=aid,
    )
    with pytest.raises(Conflict, match="未发布的第2版"):
        await kb.draft(ARREARS, author="liu", now=T0, article_id=aid)
    assert [s.version.version for s in await kb.suggest(CALLER, T0)] == [1]
    await kb.act(aid, two.version, Action.SUBMIT, actor="liu", role=Role.INSPECTOR, now=T0)
    await kb.act(aid, two.version, Action.APPROVE, actor="chen", role=Role.SUPERVISOR, now=T0)
    await kb.act(aid, two.version, Action.PUBLISH, actor="chen", role=Role.SUPERVISOR, now=T0)
    assert [s.version.version for s in await kb.suggest(CALLER, T0)] == [2]
    assert [v.state for v in await kb.versions(aid)] == [
        VersionState.SUPERSEDED,
        VersionState.PUBLISHED,
    ]
    await kb.act(aid, 2, Action.RETIRE, actor="chen", role=Role.SUPERVISOR, now=T0)
    assert await kb.suggest(CALLER, T0) == []


async def test_an_article_past_its_validity_is_never_suggested(kb: KnowledgeBase) -> None:
    until = T0 + timedelta(hours=1)
    await publish(kb, replace(ARREARS, valid_until=until))
    assert len(await kb.suggest(CALLER, T0)) == 1
    assert await kb.suggest(CALLER, until) == []
    assert await kb.suggest(CALLER, T0 - timedelta(days=31)) == []  # not yet valid
