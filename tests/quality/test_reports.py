"""Quality reports: a week of scored calls aggregated per agent, team and rule, and the
XLSX a supervisor takes to the quality meeting."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

from openpyxl import load_workbook

from hotline.core.periods import Period, PeriodKind
from hotline.quality.reports import ReportCall, build_report, report_title, to_xlsx

TZ = "Asia/Shanghai"
MON = datetime(2024, 11, 18, 1, 0, tzinfo=UTC)  # 09:00 Monday in Shanghai


def call(n: int, agent: str | None, queue: str | None, score: float, *rules: str,
         day: int = 0, within: bool | None = True, done: bool = False,
         confirmed: tuple[str, ...] = ()) -> ReportCall:  # fmt: skip
    return ReportCall(
        call_id=f"c{n}", agent=agent, queue=queue, started_at=MON + timedelta(days=day, hours=n),
        score=score, band="优秀" if score >= 90 else "合格", finalised=done, within_rule=within,
        rules=rules, confirmed=confirmed,
    )  # fmt: skip


WEEK = [
    call(1, "PJSIP/1001", "gas", 100.0),
    call(
        2,
        "PJSIP/1001",
        "gas",
        70.0,
        "forbidden_phrase",
        "silence_long",
        within=False,
        done=True,
        confirmed=("forbidden_phrase",),
    ),
    call(3, "PJSIP/1002", "gas", 85.0, "forbidden_phrase", day=2),
    call(4, "PJSIP/1002", "water", 0.0, "abusive_language", day=6, within=None),
    call(5, None, None, 90.0, "closing_missing", day=3),
    call(6, "PJSIP/1003", "water", 95.0, day=6, within=True),
]
NEXT_WEEK = call(7, "PJSIP/1001", "gas", 10.0, "answer_late", day=7)


def test_a_weekly_report_aggregates_per_agent_team_and_rule() -> None:
    week = Period.of(PeriodKind.WEEK, date(2024, 11, 20), TZ)
    now = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)
    r = build_report([*WEEK, NEXT_WEEK], week, now)
    assert (r.total.calls, r.total.average, r.total.finalised) == (6, 73.3, 1)
    assert (r.total.within_rule, r.total.ring_known) == (4, 5)
    assert r.total.ring_rate == 0.8
    agents = {g.name: g for g in r.agents}
    assert sorted(agents) == ["PJSIP/1001", "PJSIP/1002", "PJSIP/1003", "（无坐席）"]
    a1 = agents["PJSIP/1001"]
    assert (a1.calls, a1.average, a1.ring_rate) == (2, 85.0, 0.5)
    assert a1.hits == {"forbidden_phrase": 1, "silence_long": 1}
    teams = {g.name: (g.calls, g.average) for g in r.teams}
    assert teams == {"gas": (3, 85.0), "water": (2, 47.5), "（无班组）": (1, 90.0)}
    assert [(x.rule, x.hits, x.confirmed, x.calls) for x in r.rules] == [
        ("forbidden_phrase", 2, 1, 2),
        ("abusive_language", 1, 0, 1),
        ("closing_missing", 1, 0, 1),
        ("silence_long", 1, 0, 1),
    ]
    assert [c.call_id for c in r.worst] == ["c4", "c2", "c3", "c5", "c6", "c1"]
    assert report_title(r) == "质检周报_2024-W47"


def test_the_report_opens_in_excel_with_chinese_sheets_and_headers() -> None:
    month = Period.of(PeriodKind.MONTH, date(2024, 11, 1), TZ)
    r = build_report(WEEK, month, datetime(2024, 12, 1, 1, 0, tzinfo=UTC))
    wb = load_workbook(io.BytesIO(to_xlsx(r)))
    assert wb.sheetnames == ["汇总", "坐席", "班组", "规则", "最差通话"]
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["报表"] == "质检月报_2024-11"
    assert summary["评分通话数"] == 6 and summary["平均分"] == 73.3
    assert summary["三声接通率"] == "80.0%" and summary["生成时间"] == "2024-12-01 09:00"

    agents = wb["坐席"]
    header = [c.value for c in agents[1]]
    assert header[:6] == ["坐席", "评分通话数", "平均分", "三声接通率", "命中数", "已定稿"]
    assert "服务忌语" in header and "辱骂客户" in header
    rows = {row[0]: row for row in agents.iter_rows(min_row=2, values_only=True)}
    assert rows["PJSIP/1001"][1:6] == (2, 85.0, "50.0%", 2, 1)
    assert rows["PJSIP/1001"][header.index("服务忌语")] == 1
    assert agents.freeze_panes == "A2" and agents[1][0].font.bold
    assert agents.column_dimensions["A"].width >= len("PJSIP/1001")

    rules = list(wb["规则"].iter_rows(values_only=True))
    assert rules[0] == ("规则", "规则编号", "命中数", "已确认", "涉及通话数")
    assert rules[1] == ("服务忌语", "forbidden_phrase", 2, 1, 2)
    worst = list(wb["最差通话"].iter_rows(values_only=True))
    assert worst[0][:6] == ("排名", "通话编号", "坐席", "班组", "通话时间", "得分")
    assert worst[1] == (1, "c4", "PJSIP/1002", "water", "2024-11-24 13:00", 0.0, "合格", "待定稿",
                        "辱骂客户")  # fmt: skip
    assert worst[2][7] == "已定稿" and worst[2][8] == "服务忌语、长时间静默"
    assert [ws.freeze_panes for ws in wb] == ["A2"] * 5


def test_a_day_without_calls_is_an_empty_report_not_an_error() -> None:
    r = build_report(WEEK, Period.of(PeriodKind.DAY, date(2024, 12, 25), TZ), MON)
    assert r.total.calls == 0 and r.total.average is None and r.agents == ()
    wb = load_workbook(io.BytesIO(to_xlsx(r)))
    summary = {row[0]: row[1] for row in wb["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["评分通话数"] == 0 and summary["平均分"] == "—"
    assert wb["最差通话"].max_row == 1
