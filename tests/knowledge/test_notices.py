"""Outage notices (SQLite and PostgreSQL): shown for a caller in the area and not for one
outside; refused without an end time or when the area covers nobody; they expire by
themselves and stay in the history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import InvalidInput
from hotline.customers.model import CustomerIn
from hotline.customers.store import CustomerStore
from hotline.knowledge.notices import Area, NoticeBoard, NoticeIn, NoticeKind, NoticeState
from tests.customers.factories import T0

WORDING = "因文三路燃气管道施工，今日9时至17时停气，预计17时恢复供气，请您关闭燃气阀门。"


def outage(area: Area, ends_in_h: float | None = 8) -> NoticeIn:
    return NoticeIn(
        NoticeKind.GAS,
        "文三路停气通知",
        WORDING,
        area,
        T0,
        None if ends_in_h is None else T0 + timedelta(hours=ends_in_h),
    )


def test_the_area_covers_a_district_a_street_or_a_listed_account() -> None:
    area = Area.make(["上城区"], ["文三路"], ["a-100009"])
    assert area.accounts == ("A-100009",)
    assert area.covers(district=None, street=None, address="西湖区文三路1号", account_no="1")
    assert area.covers(district="上城区", street=None, address="解放路", account_no="1")
    assert area.covers(district=None, street=None, address="某路", account_no="A-100009")
    assert not area.covers(
        district="西湖区", street="天目山路", address="天目山路2号", account_no="2"
    )


@pytest.fixture
async def world(engine: AsyncEngine) -> tuple[CustomerStore, NoticeBoard]:
    sessions = db.session_factory(engine)
    customers = CustomerStore(sessions)
    for account, address, district, street in [
        ("100001", "西湖区文三路1号", "西湖区", None),
        ("100002", "西湖区天目山路2号", "西湖区", "天目山路"),
        ("100003", "上城区解放路3号", None, None),
    ]:
        await customers.create(
            CustomerIn.make(account, "客户", address, [], district, street), actor="boss", at=T0
        )
    return customers, NoticeBoard(sessions)


async def test_a_caller_in_the_area_is_shown_the_notice_and_one_outside_is_not(
    world: tuple[CustomerStore, NoticeBoard],
) -> None:
    customers, board = world
    notice = await board.publish(outage(Area.make([], ["文三路"], [])), actor="chen", now=T0)
    assert notice.affected == 1 and notice.warnings == ()
    inside = await customers.by_account("100001")
    outside = await customers.by_account("100002")
    assert inside is not None and outside is not None
    assert [n.id for n in await board.for_customer(inside.id, T0 + timedelta(hours=1))] == [
        notice.id
    ]
    assert await board.for_customer(outside.id, T0 + timedelta(hours=1)) == []
    # it expires by itself at the expected recovery, and stays in the history
    later = T0 + timedelta(hours=8)
    assert await board.for_customer(inside.id, later) == []
    assert await board.in_force(later) == []
    [kept] = await board.history()
    assert kept.state(later) is NoticeState.EXPIRED and kept.wording == WORDING
    assert kept.state(T0 - timedelta(minutes=1)) is NoticeState.SCHEDULED


async def test_a_notice_without_an_end_or_covering_nobody_is_refused(
    world: tuple[CustomerStore, NoticeBoard],
) -> None:
    _, board = world
    with pytest.raises(InvalidInput) as exc:
        await board.publish(outage(Area.make(["西湖区"], [], []), None), actor="chen", now=T0)
    assert exc.value.error_id == "notice_without_end" and "预计恢复时间" in exc.value.message
    nowhere = outage(Area.make(["余杭区"], ["不存在路"], []))
    with pytest.raises(InvalidInput) as exc:
        await board.publish(nowhere, actor="chen", now=T0)
    assert exc.value.error_id == "notice_area_matches_nobody"
    warned = await board.publish(nowhere, actor="chen", now=T0, allow_no_customers=True)
    assert warned.affected == 0 and "没有任何客户档案" in warned.warnings[0]
    with pytest.raises(InvalidInput, match="影响范围"):
        await board.publish(outage(Area.make([" "], [], [])), actor="chen", now=T0)


async def test_a_withdrawn_notice_is_no_longer_in_force(
    world: tuple[CustomerStore, NoticeBoard],
) -> None:
    _, board = world
    district = await board.publish(outage(Area.make(["西湖区"], [], [])), actor="chen", now=T0)
    listed = await board.publish(outage(Area.make([], [], ["100003"])), actor="chen", now=T0)
    assert (district.affected, listed.affected) == (2, 1)
    assert {n.id for n in await board.in_force(T0)} == {district.id, listed.id}
    await board.withdraw(district.id, actor="chen", now=T0 + timedelta(hours=1))
    assert [n.id for n in await board.in_force(T0 + timedelta(hours=2))] == [listed.id]
    assert len(await board.history()) == 2
