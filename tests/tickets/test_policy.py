"""A hotline's 管理办法 as one policy file: what a bad file is told, and each shipped
regulation walked through with a ticket of each kind (over a weekend and National Day)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hotline.core.roles import Role
from hotline.core.settings import TicketSettings
from hotline.tickets import followup, sla
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.lifecycle import Action
from hotline.tickets.model import Category, ComplaintLevel, Source
from hotline.tickets.policy import POLICIES, HotlinePolicy, PolicyError, load_policy
from hotline.tickets.spans import Span, Unit

SH = ZoneInfo("Asia/Shanghai")
CAL = WorkCalendar()


def sh(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SH)


def policy(name: str) -> HotlinePolicy:
    return load_policy(POLICIES / f"{name}.yaml", CAL)


def deadlines(
    p: HotlinePolicy,
    category: Category,
    at: datetime,
    level: ComplaintLevel | None = None,
    dispatched: datetime | None = None,
) -> dict[str, datetime | None]:
    d = sla.deadlines(p.sla, category, level, at, unit_clock_at=dispatched)
    return {"dispatch": d.dispatch_by, "contact": d.contact_by, "done": d.done_by}


BEFORE_NATIONAL_DAY = sh(9, 30, 16, 0)  # Wednesday; Oct 1–7 off, Saturday Oct 10 worked
FRIDAY = sh(11, 20, 15, 0)


# --- bad files ---------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD_HEAD = "policy: 测试\ncategories:\n  complaint: {dispatch: 5min, done: 3wd}\n"


@pytest.mark.parametrize(
    ("text", "line", "says"),
    [
        (GOOD_HEAD + "  gas_leak: {dispatch: 5min}\n", 4, "未知的工单分类 'gas_leak'"),
        (GOOD_HEAD + "  repair: {dispatch: 3x}\n", 4, "时限 '3x' 无法识别"),
        (GOOD_HEAD + "  repair: {dispatch: 5min, finish: 3wd}\n", 4, "未知的设置 'finish'"),
        (
            GOOD_HEAD + "complaint_levels:\n  - {level: 1, name: 重大, done: 48h}\n"
            "  - {level: 2, name: 一般}\n",
            6,
            "2级投诉没有办结时限",
        ),
        (GOOD_HEAD + "followup: {unsatisfied: escalate}\n", 4, "没有指定部门"),
        (GOOD_HEAD + "dispatch_role: boss\n", 4, "派发角色 'boss' 无效"),
        ("policy: 测试\ncategories:\n  repair: {dispatch: 5min}\n", 2, "投诉没有办结时限"),
        (GOOD_HEAD + "wishes: 1\n", 4, "未知的设置 'wishes'"),
    ],
)
def test_a_bad_policy_is_refused_with_file_line_and_what_to_write(
    tmp_path: Path, text: str, line: int, says: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path, CAL)
    msg = err.value.message
    assert f"{path}:{line}" in msg and says in msg
    assert "应改为" in msg  # says what to write instead


def test_a_span_is_hours_minutes_working_days_or_business_hours() -> None:
    assert Span.parse("24h") == Span(24, Unit.HOURS)
    assert Span.parse("3wd") == Span(3, Unit.WORKDAYS)
    assert Span.parse("20min") == Span(20, Unit.MINUTES)
    assert Span.parse("4bh") == Span(4, Unit.BUSINESS_HOURS)
    assert Span.parse("3x") is None and Span.parse("1.5wd") is None
    assert Span(3, Unit.WORKDAYS).label == "3个工作日"


def test_business_hours_count_only_working_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD_HEAD + 'business_hours: "08:30-17:30"\n  \n',
    )
    text = path.read_text(encoding="utf-8").replace(
        "  complaint: {dispatch: 5min, done: 3wd}", "  complaint: {dispatch: 5min, done: 4bh}"
    )
    path.write_text(text, encoding="utf-8")
    p = load_policy(path, CAL)
    # Friday 16:00–17:30 is 1.5 h; Monday 08:30 + 2.5 h
    assert deadlines(p, Category.COMPLAINT, sh(11, 20, 16, 0))["done"] == sh(11, 23, 11, 0)
    # over National Day: Sep 30 16:00–17:30, then Thursday Oct 8 from 08:30
    assert deadlines(p, Category.COMPLAINT, BEFORE_NATIONAL_DAY)["done"] == sh(10, 8, 11, 0)


def test_every_shipped_policy_loads() -> None:
    names = sorted(p.stem for p in POLICIES.glob("*.yaml"))
    assert names == ["bank", "gas-company", "highway", "transport-group", "wuhan-gas"]
    for name in names:
        assert policy(name).name


# --- 燃气公司客服热线管理办法 (002, the default) -------------------------------------------


def test_the_gas_company_file_is_todays_numbers() -> None:
    gas = policy("gas-company")
    settings = sla.SlaPolicy.from_settings(TicketSettings(), CAL, SH)
    for category in Category:
        for level in (None, *ComplaintLevel):
            assert sla.deadlines(gas.sla, category, level, BEFORE_NATIONAL_DAY) == sla.deadlines(
                settings, category, level, BEFORE_NATIONAL_DAY
            )


def test_gas_company_walk_through() -> None:
    gas = policy("gas-company")
    # dispatch within 20 min, 5 for repairs and complaints
    assert deadlines(gas, Category.CONSULT, BEFORE_NATIONAL_DAY) == {
        "dispatch": sh(9, 30, 16, 20),
        "contact": None,
        "done": None,
    }
    # a repair: contacted within 2 h, done within 3 working days (over National Day)
    assert deadlines(gas, Category.REPAIR, BEFORE_NATIONAL_DAY) == {
        "dispatch": sh(9, 30, 16, 5),
        "contact": sh(9, 30, 18, 0),
        "done": sh(10, 10, 16, 0),
    }
    # complaint levels 3/2/1 within 3/24/48 h
    for level, done in (
        (ComplaintLevel.MINOR, sh(9, 30, 19, 0)),
        (ComplaintLevel.GENERAL, sh(10, 1, 16, 0)),
        (ComplaintLevel.MAJOR, sh(10, 2, 16, 0)),
    ):
        got = deadlines(gas, Category.COMPLAINT, BEFORE_NATIONAL_DAY, level)
        assert got["dispatch"] == sh(9, 30, 16, 5) and got["done"] == done
    # counting rules as data: 5 complainants in a month -> 2; 5 repeats or exposure -> 1
    minor = ComplaintLevel.MINOR

    def level(c: int = 1, r: int = 1, x: bool = False, people: int = 1) -> ComplaintLevel:
        return sla.escalate(
            minor,
            complainants_same_issue=c,
            repeats_same_event=r,
            exposure=x,
            people_together=people,
            policy=gas.sla,
        )

    assert level(c=4) is minor and level(c=5) is ComplaintLevel.GENERAL
    assert level(people=5) is ComplaintLevel.GENERAL
    assert level(r=5) is ComplaintLevel.MAJOR and level(x=True) is ComplaintLevel.MAJOR
    assert gas.sla.level2_window_days == 30
    assert [gas.level_name(lv) for lv in ComplaintLevel] == ["重大", "一般", "轻度"]
    # 回访: repairs yes, consultations no; 3 attempts 2 h apart, never 21:00–08:00
    rules = gas.followup_rules
    assert rules.wanted(Category.REPAIR, Source.PHONE, declined=False)
    assert not rules.wanted(Category.CONSULT, Source.PHONE, declined=False)
    assert not rules.wanted(Category.REPAIR, Source.PHONE, declined=True)
    fp = gas.followup
    assert (fp.attempts, fp.interval_h) == (3, 2.0)
    replied = sh(10, 9, 18, 30)
    first = followup.next_attempt_at(fp, replied, [])
    assert first == sh(10, 9, 20, 30)
    second = followup.next_attempt_at(
        fp, replied, [followup.PastAttempt(first, followup.Result.UNREACHABLE)]
    )
    assert second == sh(10, 10, 8, 0)  # 22:30 is quiet: the next morning at 08:00
    # agents dispatch (首问负责); 即时办结 for consultations and praise
    assert gas.min_role(Action.DISPATCH) is Role.AGENT
    assert gas.on_spot == {Category.CONSULT, Category.PRAISE}
    assert gas.verification.share == 0.2 and gas.verification.categories == {Category.REPAIR}


# --- 交通集团 -------------------------------------------------------------------------------


def test_transport_group_walk_through() -> None:
    tg = policy("transport-group")
    dispatched = sh(11, 20, 15, 10)  # Friday
    # a complaint: investigated within 2, closed within 3 working days of the dispatch
    got = deadlines(tg, Category.COMPLAINT, FRIDAY, dispatched=dispatched)
    assert got == {
        "dispatch": sh(11, 20, 15, 20),
        "contact": sh(11, 24, 15, 10),
        "done": sh(11, 25, 15, 10),
    }
    # not yet dispatched: the unit's clock has not started
    assert deadlines(tg, Category.COMPLAINT, FRIDAY)["done"] is None
    # a consultation the unit answers: 1 working day (over the weekend)
    assert deadlines(tg, Category.CONSULT, FRIDAY, dispatched=dispatched)["done"] == sh(
        11, 23, 15, 10
    )
    # a service request (refused: explained within 2 working days), over National Day
    got = deadlines(tg, Category.SERVICE, BEFORE_NATIONAL_DAY, dispatched=BEFORE_NATIONAL_DAY)
    assert got["contact"] == sh(10, 9, 16, 0)
    # every complaint the same 3 working days: one level
    assert [r.name for r in tg.sla.levels] == ["投诉"]
    # 不满意 escalated to a named department
    assert tg.followup_rules.unsatisfied == "escalate"
    assert tg.followup_rules.escalate_to == "服务质量监督部"


# --- 高速公路 -------------------------------------------------------------------------------


def test_highway_walk_through() -> None:
    hw = policy("highway")
    ordinary = deadlines(hw, Category.COMPLAINT, BEFORE_NATIONAL_DAY)  # base level: 一般
    assert ordinary["done"] == sh(10, 13, 16, 0)  # 5 working days: 8, 9, 10, 12, 13
    major = deadlines(hw, Category.COMPLAINT, BEFORE_NATIONAL_DAY, ComplaintLevel.MAJOR)
    assert major["done"] == sh(10, 20, 16, 0)  # 10 working days
    assert hw.sla.base_level is ComplaintLevel.GENERAL
    assert (
        sla.escalate(
            ComplaintLevel.GENERAL,
            complainants_same_issue=1,
            repeats_same_event=1,
            exposure=True,
            policy=hw.sla,
        )
        is ComplaintLevel.MAJOR
    )
    assert hw.level_name(None) == "一般投诉"
    repair = deadlines(hw, Category.REPAIR, FRIDAY)
    assert repair["done"] == sh(11, 25, 15, 0)  # Mon, Tue, Wed


# --- 银行式客户管理制度 -------------------------------------------------------------------


def test_bank_style_walk_through() -> None:
    bank = policy("bank")
    for category in (Category.COMPLAINT, Category.SERVICE, Category.CONSULT):
        got = deadlines(bank, category, FRIDAY)
        assert got["contact"] == sh(11, 21, 15, 0)  # answered within 24 h, weekend or not
        assert got["done"] == sh(11, 25, 15, 0)  # closed within 3 working days
    holiday = deadlines(bank, Category.COMPLAINT, BEFORE_NATIONAL_DAY)
    assert holiday["done"] == sh(10, 10, 16, 0)


# --- 武汉燃气客户诉求管理规定 (004) ---------------------------------------------------------


def test_wuhan_gas_walk_through() -> None:
    wh = policy("wuhan-gas")
    # a valid complaint's handling opinion within 5 working days
    assert wh.complaint_opinion == Span(5, Unit.WORKDAYS)
    assert wh.sla.due(wh.complaint_opinion, BEFORE_NATIONAL_DAY) == sh(10, 13, 16, 0)
    # an extension asked at least a day ahead
    assert wh.extension_lead == Span(24, Unit.HOURS)
    # 100 % manual 回访 for government and online channels, whatever the category
    rules = wh.followup_rules
    for source in (Source.GOVERNMENT, Source.WECHAT, Source.WEB):
        assert rules.wanted(Category.CONSULT, source, declined=False) and rules.manual(source)
    assert not rules.wanted(Category.CONSULT, Source.PHONE, declined=False)
    assert not rules.manual(Source.PHONE)
    assert deadlines(wh, Category.REPAIR, FRIDAY)["done"] == sh(11, 25, 15, 0)
