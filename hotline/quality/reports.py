"""Quality reports for a period: daily summary, weekly analysis, monthly quality meeting.
Rule: a report is a pure aggregation of the period's scored calls (by the call's start in
the hotline's time zone); a call's score is its final score once finalised, and a hit counts
when it stands: not overturned, and a needs-review hit only once an inspector confirmed it.

`to_xlsx` writes it as a workbook with the sheets 汇总 / 坐席 / 班组 / 规则 / 最差通话.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hotline.core import sheets
from hotline.core.periods import REPORT_LABELS, Period
from hotline.core.sheets import add_sheet
from hotline.quality.records import ScoreDetail
from hotline.quality.review import ReviewStatus, Verdict

WORST = 10
NO_AGENT = "（无坐席）"
NO_TEAM = "（无班组）"
RULE_ZH = {
    "greeting_missing": "开场白缺失",
    "greeting_agent_number": "未报工号",
    "closing_missing": "结束语缺失",
    "forbidden_phrase": "服务忌语",
    "abusive_language": "辱骂客户",
    "politeness": "文明用语缺失",  # the pack's required words: 三要, 十字 or its own
    "speech_rate_fast": "语速过快",
    "speech_rate_slow": "语速过慢",
    "interruption": "抢话",
    "silence_long": "长时间静默",
    "answer_late": "接听超时",  # beyond the ring limit of the settings (3 rings by default)
}
STATUS_ZH = {ReviewStatus.OPEN: "待定稿", ReviewStatus.FINALISED: "已定稿"}


def rule_name(rule: str) -> str:
    return RULE_ZH.get(rule, rule)


def average(total: float, n: int) -> float | None:
    """The mean score to one decimal, half up, the same whether the sum came from Python or
    from the database (whose float sum may differ in the last bits: 74.35 vs 74.3499…)."""
    if not n:
        return None
    mean = Decimal(f"{total / n:.6f}")
    return float(mean.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class ReportCall:
    """One scored call as reports see it."""

    call_id: str
    agent: str | None
    queue: str | None
    started_at: datetime
    score: float  # the final score once finalised
    band: str
    finalised: bool
    within_rule: bool | None  # answered within 3 rings; None when unknown
    rules: tuple[str, ...]  # rule of each hit that stands (review.HitState.counts)
    confirmed: tuple[str, ...]  # rule of each confirmed hit


def report_call(detail: ScoreDetail) -> ReportCall:
    c = detail.call
    finalised = c.status is ReviewStatus.FINALISED
    return ReportCall(
        call_id=c.call_id,
        agent=c.agent,
        queue=c.queue,
        started_at=c.call_started_at,
        score=c.final_score if finalised and c.final_score is not None else c.score,
        band=c.band,
        finalised=finalised,
        within_rule=c.within_rule,
        rules=tuple(h.rule for h in detail.hits if h.state.counts),
        confirmed=tuple(h.rule for h in detail.hits if h.verdict is Verdict.CONFIRMED),
    )


@dataclass(frozen=True, slots=True)
class GroupStats:
    name: str
    calls: int
    finalised: int
    average: float | None
    ring_known: int  # calls whose 3-ring result is known
    within_rule: int
    hits: dict[str, int]  # rule -> hits that count

    @property
    def ring_rate(self) -> float | None:
        return self.within_rule / self.ring_known if self.ring_known else None

    @property
    def hit_total(self) -> int:
        return sum(self.hits.values())


@dataclass(frozen=True, slots=True)
class RuleStats:
    rule: str
    hits: int  # that stand
    confirmed: int
    calls: int  # calls with at least one such hit


@dataclass(frozen=True, slots=True)
class Report:
    period: Period  # in the hotline's time zone
    generated_at: datetime
    total: GroupStats
    agents: tuple[GroupStats, ...]
    teams: tuple[GroupStats, ...]
    rules: tuple[RuleStats, ...]
    worst: tuple[ReportCall, ...]


def _group(name: str, calls: Sequence[ReportCall]) -> GroupStats:
    known = [c for c in calls if c.within_rule is not None]
    hits: Counter[str] = Counter()
    for c in calls:
        hits.update(c.rules)
    return GroupStats(
        name=name,
        calls=len(calls),
        finalised=sum(1 for c in calls if c.finalised),
        average=average(sum(c.score for c in calls), len(calls)),
        ring_known=len(known),
        within_rule=sum(1 for c in known if c.within_rule),
        hits=dict(sorted(hits.items())),
    )


def _by(calls: Sequence[ReportCall], key: str, none: str) -> tuple[GroupStats, ...]:
    groups: dict[str, list[ReportCall]] = {}
    for c in calls:
        groups.setdefault(getattr(c, key) or none, []).append(c)
    return tuple(_group(name, members) for name, members in sorted(groups.items()))


def build_report(calls: Iterable[ReportCall], period: Period, now: datetime) -> Report:
    """Aggregate the calls that started within the period (others are ignored)."""
    inside = [c for c in calls if period.contains(c.started_at)]
    rules: dict[str, list[int]] = {}
    for c in inside:
        for rule, n in Counter(c.rules).items():
            stats = rules.setdefault(rule, [0, 0, 0])
            stats[0] += n
            stats[2] += 1
        for rule, n in Counter(c.confirmed).items():
            rules.setdefault(rule, [0, 0, 0])[1] += n
    worst = sorted(inside, key=lambda c: (c.score, c.started_at, c.call_id))[:WORST]
    return Report(
        period=period,
        generated_at=now,
        total=_group("全部", inside),
        agents=_by(inside, "agent", NO_AGENT),
        teams=_by(inside, "queue", NO_TEAM),
        rules=tuple(
            RuleStats(rule, h, c, n)
            for rule, (h, c, n) in sorted(rules.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ),
        worst=tuple(worst),
    )


def report_from_totals(
    period: Period,
    now: datetime,
    *,
    pairs: Sequence[Any],
    pair_hits: Sequence[Any],
    worst: Sequence[ReportCall],
) -> Report:
    """The same Report as `build_report`, from totals the database summed in one pass per
    table, by (agent, queue): `pairs` as (agent, queue, calls, finalised, score sum, ring
    known, within rule); `pair_hits` as (agent, queue, rule, hits, confirmed, calls) for the
    hits that stand. A call is in exactly one pair, so the pairs' distinct calls per rule add
    up to the rule's. The worst calls come as they are."""
    agents: dict[str, list[Any]] = {}
    teams: dict[str, list[Any]] = {}
    everyone: list[Any] = [0, 0, 0.0, 0, 0, Counter()]

    def into(groups: dict[str, list[Any]], name: str) -> list[Any]:
        return groups.setdefault(name, [0, 0, 0.0, 0, 0, Counter()])

    for agent, queue, *totals in pairs:
        for m in (into(agents, agent or NO_AGENT), into(teams, queue or NO_TEAM), everyone):
            for i, v in enumerate(totals):
                m[i] += v or 0
    rules: dict[str, list[int]] = {}
    for agent, queue, rule, n, confirmed, calls in pair_hits:
        for m in (into(agents, agent or NO_AGENT), into(teams, queue or NO_TEAM), everyone):
            m[5][rule] += n
        r = rules.setdefault(rule, [0, 0, 0])
        r[0] += n
        r[1] += confirmed or 0
        r[2] += calls

    def stats(name: str, m: list[Any]) -> GroupStats:
        n, fin, total, known, within, hits = m
        return GroupStats(
            name=name,
            calls=int(n),
            finalised=int(fin),
            average=average(float(total), int(n)),
            ring_known=int(known),
            within_rule=int(within),
            hits=dict(sorted(hits.items())),
        )

    return Report(
        period=period,
        generated_at=now,
        total=stats("全部", everyone),
        agents=tuple(stats(name, m) for name, m in sorted(agents.items())),
        teams=tuple(stats(name, m) for name, m in sorted(teams.items())),
        rules=tuple(
            RuleStats(rule, int(h), int(c), int(n))
            for rule, (h, c, n) in sorted(rules.items(), key=lambda kv: (-kv[1][0], kv[0]))
        ),
        worst=tuple(worst),
    )


# --- XLSX -----------------------------------------------------------------------------------


def report_title(report: Report) -> str:
    """e.g. 质检周报_2024-W47"""
    return f"质检{REPORT_LABELS[report.period.kind]}_{report.period.key}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _group_rows(groups: Sequence[GroupStats], rules: Sequence[str]) -> list[list[Any]]:
    return [
        [
            g.name,
            g.calls,
            g.average,
            _pct(g.ring_rate),
            g.hit_total,
            g.finalised,
            *(g.hits.get(r, 0) for r in rules),
        ]
        for g in groups
    ]


def to_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook (Chinese headers, frozen header row, fitted widths)."""
    tz = report.period.zone
    wb = sheets.workbook()
    t = report.total
    add_sheet(
        wb,
        "汇总",
        ["项目", "数值"],
        [
            ["报表", report_title(report)],
            ["期间", report.period.key],
            ["起始日期", report.period.first.isoformat()],
            ["截止日期", report.period.last.isoformat()],
            ["生成时间", report.generated_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")],
            ["评分通话数", t.calls],
            ["已定稿", t.finalised],
            ["平均分", t.average if t.average is not None else "—"],
            ["三声接通率", _pct(t.ring_rate)],
            ["命中总数", t.hit_total],
            ["坐席数", len(report.agents)],
        ],
    )
    rules = [r.rule for r in report.rules]
    head = ["评分通话数", "平均分", "三声接通率", "命中数", "已定稿", *map(rule_name, rules)]
    add_sheet(wb, "坐席", ["坐席", *head], _group_rows(report.agents, rules))
    add_sheet(wb, "班组", ["班组", *head], _group_rows(report.teams, rules))
    add_sheet(
        wb,
        "规则",
        ["规则", "规则编号", "命中数", "已确认", "涉及通话数"],
        [[rule_name(r.rule), r.rule, r.hits, r.confirmed, r.calls] for r in report.rules],
    )
    add_sheet(
        wb,
        "最差通话",
        ["排名", "通话编号", "坐席", "班组", "通话时间", "得分", "等级", "状态", "命中规则"],
        [
            [
                i,
                c.call_id,
                c.agent or NO_AGENT,
                c.queue or NO_TEAM,
                c.started_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                c.score,
                c.band,
                STATUS_ZH[ReviewStatus.FINALISED if c.finalised else ReviewStatus.OPEN],
                "、".join(rule_name(r) for r in dict.fromkeys(c.rules)) or "—",
            ]
            for i, c in enumerate(report.worst, start=1)
        ],
    )
    return sheets.to_bytes(wb)
