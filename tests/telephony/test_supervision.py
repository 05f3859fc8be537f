"""The supervision service: who may pause, log out and spy on whom; what reaches the
switch; what the switch's refusals become; every action recorded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, InvalidInput, Unavailable
from hotline.core.roles import Role
from hotline.telephony.supervision import (
    Actor,
    Kind,
    NotPermitted,
    SpyDialPlan,
    SupervisionService,
    spy_prefix,
)
from hotline.telephony.supervision_store import SupervisionStore

from .fake_switch import FakeSwitch

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CHEN = Actor("chen", Role.SUPERVISOR, None, "PJSIP/9001")
WANG = Actor("wang", Role.AGENT, "PJSIP/1001")
LI = Actor("li", Role.AGENT, "PJSIP/1002")


@pytest.fixture
def switch() -> FakeSwitch:
    return FakeSwitch(members={"kefu": {"PJSIP/1001": True, "PJSIP/1002": False}})


@pytest.fixture
def service(engine: AsyncEngine, switch: FakeSwitch) -> SupervisionService:
    return SupervisionService(
        switch,
        SupervisionStore(db.session_factory(engine)),
        pause_reasons=("小休", "用餐", "培训", "话后整理"),
        spy=SpyDialPlan("hotline-spy", 20, "监听 <spy>"),
        clock=lambda: NOW,
    )


async def test_an_agent_pauses_themselves_with_a_listed_reason(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    entry = await service.pause(WANG, None, "用餐")
    assert switch.actions[-1] == {
        "Action": "QueuePause",
        "Interface": "PJSIP/1001",
        "Paused": "true",
        "Reason": "用餐",
    }
    assert (entry.actor, entry.action, entry.agent, entry.reason, entry.outcome) == (
        "wang",
        "pause",
        "PJSIP/1001",
        "用餐",
        "done",
    )
    await service.unpause(WANG, "PJSIP/1001")
    assert switch.paused["PJSIP/1001"] is None


async def test_an_agent_may_not_pause_others_nor_invent_reasons(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    with pytest.raises(NotPermitted, match="只能为自己"):
        await service.pause(WANG, "PJSIP/1002", "小休")
    with pytest.raises(InvalidInput, match="不在可选列表") as caught:
        await service.pause(WANG, None, "打游戏")
    assert caught.value.error_id == "pause_reason_unknown"
    with pytest.raises(InvalidInput) as missing:
        await service.pause(WANG, None, "  ")
    assert missing.value.error_id == "pause_reason_missing"
    with pytest.raises(NotPermitted):
        await service.logout(WANG, "PJSIP/1001", "kefu")
    with pytest.raises(NotPermitted):
        await service.spy(WANG, "PJSIP/1002", Kind.LISTEN)
    assert switch.actions == [] and switch.originated == []


async def test_a_supervisor_pauses_anyone_in_one_queue_with_any_reason(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    await service.pause(CHEN, "PJSIP/1002", "班长约谈", queue="kefu")
    assert switch.actions[-1]["Queue"] == "kefu"
    assert switch.paused["PJSIP/1002"] == "班长约谈"


async def test_refusals_of_the_switch_become_clear_errors_and_are_recorded(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    with pytest.raises(Conflict, match="不在任何队列") as unknown:
        await service.pause(CHEN, "PJSIP/7777", "小休")
    assert unknown.value.error_id == "agent_not_in_queue"
    with pytest.raises(InvalidInput) as no_queue:
        await service.logout(CHEN, "PJSIP/1001", "没有这个队列")
    assert no_queue.value.error_id == "no_such_queue"
    with pytest.raises(Conflict) as static:
        await service.logout(CHEN, "PJSIP/1002", "kefu")
    assert static.value.error_id == "member_is_static"
    done = await service.logout(CHEN, "PJSIP/1001", "kefu")
    assert done.outcome == "done" and "PJSIP/1001" not in switch.members["kefu"]
    log = await service.store.find()
    assert [(e.action, e.outcome) for e in log] == [
        ("logout", "done"),
        ("logout", "refused"),
        ("logout", "refused"),
        ("pause", "refused"),
    ]
    assert log[1].detail == "Member not dynamic"
    assert [e.id for e in await service.store.find(agent="PJSIP/1002")] == [log[1].id]


async def test_a_link_down_is_unavailable_and_recorded(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    switch.up = False
    with pytest.raises(Unavailable, match="交换机") as caught:
        await service.pause(WANG, None, "小休")
    assert caught.value.error_id == "switch_unavailable"
    assert [e.outcome for e in await service.store.find()] == ["unavailable"]


async def test_spy_rings_the_supervisors_phone_into_chanspy(
    service: SupervisionService, switch: FakeSwitch
) -> None:
    call = await service.spy(CHEN, "PJSIP/1001", Kind.WHISPER)
    assert call.phone == "PJSIP/9001" and call.channel == "PJSIP/9001-00000009"
    sent = switch.originated[-1]
    assert sent["channel"] == "PJSIP/9001" and sent["context"] == "hotline-spy"
    assert sent["variables"] == {
        "HOTLINE_SPY_TARGET": "PJSIP/1001-",
        "HOTLINE_SPY_OPTIONS": "bqESw",
        "HOTLINE_SPY_AGENT": "PJSIP/1001",
    }
    (entry,) = await service.store.find()
    assert (entry.action, entry.outcome) == ("whisper", "done")


@pytest.mark.parametrize(
    ("code", "error_id"),
    [(3, "spy_not_answered"), (0, "spy_phone_unreachable"), (-1, "spy_refused")],
)
async def test_a_spy_call_not_answered_is_a_clear_error(
    service: SupervisionService, switch: FakeSwitch, code: int, error_id: str
) -> None:
    switch.originate_code = code
    with pytest.raises(Conflict) as caught:
        await service.spy(CHEN, "PJSIP/1001", Kind.LISTEN)
    assert caught.value.error_id == error_id
    assert [e.outcome for e in await service.store.find()] == ["refused"]


async def test_spy_needs_the_supervisors_phone(service: SupervisionService) -> None:
    with pytest.raises(InvalidInput, match="hotline users phone chen") as caught:
        await service.spy(Actor("chen", Role.SUPERVISOR), "PJSIP/1001", Kind.BARGE)
    assert caught.value.error_id == "no_phone"


async def test_no_switch_configured(engine: AsyncEngine) -> None:
    service = SupervisionService(
        None,
        SupervisionStore(db.session_factory(engine)),
        pause_reasons=("小休",),
        spy=SpyDialPlan(),
    )
    with pytest.raises(Unavailable, match="HOTLINE_AMI__HOST"):
        await service.pause(WANG, None, "小休")


def test_spy_prefix_does_not_match_longer_extensions() -> None:
    assert spy_prefix("PJSIP/1001") == "PJSIP/1001-"
    assert spy_prefix("Local/pickup-3@sim-agent") == "Local/pickup-3@sim-agent-"
