"""A hotline's 管理办法 as one policy file. Rule: every number and choice of the ticket
workflow that differs between regulations is read here, once, at start; a file with an
unknown key or category, a level without a deadline or a span like `3x` is refused with
the file, the line and what to write instead. Nothing else reads the file.

The file (YAML; see hotline/tickets/policies/ for one per regulation, README "running
Hotline under your own 管理办法")::

    policy: 某燃气公司客服热线管理办法
    business_hours: "08:30-17:30"      # for spans written in `bh`
    dispatch_role: agent               # who may 派发: agent (002) or supervisor
    extension_lead: 1d                 # 延期 asked at least this long before the deadline
    on_spot: [consult, praise]         # 即时办结 allowed for these categories
    reply: 1wd                         # reply to the customer after the unit's answer
    categories:                        # per category: dispatch, contact, done, clock
      repair: {dispatch: 5min, contact: 2h, done: 3wd}
      service: {dispatch: 20min, contact: 1wd, done: 7wd, clock: dispatch}
    complaint_levels:                  # most severe first; done is required
      - {level: 1, name: 重大, done: 48h, repeats: 5, exposure: true}
      - {level: 2, name: 一般, done: 24h, complainants: 5, within_days: 30}
      - {level: 3, name: 轻度, done: 3h}
    complaint_opinion: 5wd             # a valid complaint's handling opinion (004)
    followup: {categories: [...], sources: [...], manual_sources: [...], attempts: 3,
               delay: 2h, interval: 2h, quiet: "21:00-08:00",
               unsatisfied: reopen | escalate, escalate_to: 客户服务部}
    verification: {share: 0.2, categories: [repair]}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from hotline.core.errors import InvalidInput
from hotline.core.roles import Role
from hotline.core.yamlfile import read_yaml
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.lifecycle import MIN_ROLE, Action
from hotline.tickets.model import CATEGORY_LABELS, Category, ComplaintLevel, Source
from hotline.tickets.sla import CategoryRule, Clock, LevelRule, SlaPolicy
from hotline.tickets.spans import SPAN_HELP, BusinessHours, Span

POLICIES = Path(__file__).parent / "policies"
DEFAULT_POLICY = POLICIES / "gas-company.yaml"

_TOP = {
    "policy",
    "version",
    "business_hours",
    "dispatch_role",
    "extension_lead",
    "on_spot",
    "reply",
    "categories",
    "complaint_levels",
    "complaint_opinion",
    "followup",
    "verification",
}
_CATEGORY_KEYS = {"dispatch", "contact", "done", "clock"}
_LEVEL_KEYS = {
    "level",
    "name",
    "done",
    "contact",
    "complainants",
    "within_days",
    "repeats",
    "exposure",
    "people",
}
_FOLLOWUP_KEYS = {
    "categories",
    "sources",
    "manual_sources",
    "attempts",
    "delay",
    "interval",
    "quiet",
    "unsatisfied",
    "escalate_to",
}
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class PolicyError(InvalidInput):
    error_id = "bad_policy"


@dataclass(frozen=True, slots=True)
class FollowupRules:
    """Which tickets get a 回访, how, and what a 不满意 does."""

    categories: frozenset[Category]
    sources: frozenset[Source]
    manual_sources: frozenset[Source]  # 100% manual 回访: never dialled by the system
    unsatisfied: str = "reopen"  # reopen (不满意重办) or escalate (to `escalate_to`)
    escalate_to: str | None = None

    def wanted(self, category: Category | None, source: Source, declined: bool) -> bool:
        """Whether this ticket gets a 回访: never when the customer declined it."""
        if declined:
            return False
        if source in self.manual_sources:
            return True
        return category in self.categories and source in self.sources

    def manual(self, source: Source) -> bool:
        return source in self.manual_sources


@dataclass(frozen=True, slots=True)
class Verification:
    share: float = 0.0  # of closed tickets drawn for a check of the outcome
    categories: frozenset[Category] = frozenset()  # empty: every category


@dataclass(frozen=True, slots=True)
class HotlinePolicy:
    name: str
    source: str  # the file it came from
    sla: SlaPolicy
    followup: FollowupPolicy
    followup_rules: FollowupRules
    dispatch_role: Role = Role.AGENT
    extension_lead: Span | None = None
    on_spot: frozenset[Category] = frozenset({Category.CONSULT, Category.PRAISE})
    complaint_opinion: Span | None = None
    verification: Verification = field(default_factory=Verification)

    def min_role(self, action: Action) -> Role:
        """Who may take `action` under this policy (派发: `dispatch_role`)."""
        return self.dispatch_role if action is Action.DISPATCH else MIN_ROLE[action]

    def level_name(self, level: ComplaintLevel | None) -> str:
        return self.sla.level_rule(level).name

    @classmethod
    def of(cls, sla: SlaPolicy, followup: FollowupPolicy) -> HotlinePolicy:
        """The settings' numbers (no policy file): the gas company's 管理办法 otherwise."""
        return cls(
            name="燃气公司客服热线管理办法",
            source="settings",
            sla=sla,
            followup=followup,
            followup_rules=FollowupRules(
                categories=frozenset(Category) - {Category.CONSULT, Category.PRAISE},
                sources=frozenset(Source),
                manual_sources=frozenset(),
            ),
            verification=Verification(0.2, frozenset({Category.REPAIR})),  # 003
        )


class _Reader:
    """Values of one parsed file, with the line each came from."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines: dict[tuple[Any, ...], int] = {}
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:  # read_yaml already said what is wrong
            node = None
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, at: tuple[Any, ...]) -> None:
        self.lines.setdefault(at, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                self.lines[(*at, key.value)] = key.start_mark.line + 1
                self._walk(value, (*at, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*at, i))

    def fail(self, at: tuple[Any, ...], problem: str, fix: str) -> PolicyError:
        line = self.lines.get(at)
        while line is None and at:
            at = at[:-1]
            line = self.lines.get(at)
        where = f"{self.path}:{line or 1}"
        name = ".".join(str(p) for p in at) or "(top)"
        return PolicyError(f"工单规则文件 {where} ({name})：{problem}；应改为：{fix}")

    def span(self, value: Any, at: tuple[Any, ...]) -> Span:
        found = Span.parse(str(value)) if isinstance(value, str | int | float) else None
        if found is None or isinstance(value, bool):
            raise self.fail(at, f"时限 {value!r} 无法识别", SPAN_HELP)
        return found

    def opt_span(self, data: Mapping[str, Any], key: str, at: tuple[Any, ...]) -> Span | None:
        value = data.get(key)
        return None if value is None else self.span(value, (*at, key))

    def mapping(self, value: Any, at: tuple[Any, ...], keys: set[str]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(at, "应为键值表", f"写成 key: value 的形式，可用的键：{sorted(keys)}")
        unknown = sorted(str(k) for k in value if k not in keys)
        if unknown:
            raise self.fail(
                (*at, unknown[0]),
                f"未知的设置 {unknown[0]!r}",
                f"可用的键：{', '.join(sorted(keys))}",
            )
        return value

    def category(self, value: Any, at: tuple[Any, ...]) -> Category:
        try:
            return Category(str(value))
        except ValueError:
            known = "、".join(f"{c.value}（{CATEGORY_LABELS[c]}）" for c in Category)
            raise self.fail(at, f"未知的工单分类 {value!r}", f"分类只能是：{known}") from None

    def categories(self, value: Any, at: tuple[Any, ...]) -> frozenset[Category]:
        if value in (None, "all"):
            return frozenset(Category) if value == "all" else frozenset()
        if not isinstance(value, list):
            raise self.fail(at, "应为分类列表", "写成 [repair, complaint] 或 all")
        return frozenset(self.category(v, (*at, i)) for i, v in enumerate(value))

    def sources(
        self, value: Any, at: tuple[Any, ...], default: frozenset[Source]
    ) -> frozenset[Source]:
        if value is None:
            return default
        if value == "all":
            return frozenset(Source)
        if not isinstance(value, list):
            raise self.fail(at, "应为来源列表", "写成 [phone, government] 或 all")
        out = set()
        for i, v in enumerate(value):
            try:
                out.add(Source(str(v)))
            except ValueError:
                known = ", ".join(s.value for s in Source)
                raise self.fail((*at, i), f"未知的来源 {v!r}", f"来源只能是：{known}") from None
        return frozenset(out)

    def count(self, value: Any, at: tuple[Any, ...], low: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(at, f"{value!r} 不是有效的次数", f"写一个不小于 {low} 的整数")
        return value

    def hours(self, value: Any, at: tuple[Any, ...]) -> tuple[time, time]:
        m = _HOURS.match(str(value)) if isinstance(value, str) else None
        if m is None:
            raise self.fail(at, f"时段 {value!r} 无法识别", '写成 "08:30-17:30"')
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise self.fail(at, f"时段 {value!r} 不是有效的时间", '写成 "08:30-17:30"')
        return time(h1, m1), time(h2, m2)


def load_policy(
    path: Path | None, calendar: WorkCalendar, timezone: str = "Asia/Shanghai"
) -> HotlinePolicy:
    """The policy of `path` (the gas company's 管理办法 when None), checked whole."""
    path = path or DEFAULT_POLICY
    data = read_yaml(path, "工单规则文件 ticket policy", "tickets.policy")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:  # pragma: no cover - read_yaml just read it
        text = ""
    r = _Reader(path, text)
    if not isinstance(data, dict):
        raise r.fail((), "文件应为键值表", "以 policy: 名称 开头，见 hotline/tickets/policies/")
    data = r.mapping(data, (), _TOP)
    tz = ZoneInfo(timezone)
    bh = BusinessHours()
    if data.get("business_hours") is not None:
        start, end = r.hours(data["business_hours"], ("business_hours",))
        if end <= start:
            raise r.fail(("business_hours",), "下班时间早于上班时间", '写成 "08:30-17:30"')
        bh = BusinessHours(start, end)
    rules: dict[Category, CategoryRule] = {}
    cats = data.get("categories") or {}
    if not isinstance(cats, dict):
        raise r.fail(("categories",), "应为键值表", "每个分类一行，如 repair: {dispatch: 5min}")
    for key, value in cats.items():
        at = ("categories", key)
        cat = r.category(key, at)
        spec = r.mapping(value, at, _CATEGORY_KEYS)
        clock = Clock.ACCEPTED
        if spec.get("clock") is not None:
            try:
                clock = Clock(str(spec["clock"]))
            except ValueError:
                raise r.fail(
                    (*at, "clock"),
                    f"未知的起算点 {spec['clock']!r}",
                    "写 accepted（受理）、dispatch（派发）或 transfer（收到转办）",
                ) from None
        rules[cat] = CategoryRule(
            r.opt_span(spec, "dispatch", at),
            r.opt_span(spec, "contact", at),
            r.opt_span(spec, "done", at),
            clock,
        )
    levels = _levels(r, data, rules)
    sla = SlaPolicy(
        rules=rules,
        levels=levels,
        reply=r.span(data.get("reply", "1wd"), ("reply",)),
        calendar=calendar,
        tz=tz,
        business_hours=bh,
    )
    followup, followup_rules = _followup(r, data.get("followup"), timezone)
    role_name = str(data.get("dispatch_role", "agent"))
    if role_name not in (Role.AGENT.value, Role.SUPERVISOR.value):
        raise r.fail(("dispatch_role",), f"派发角色 {role_name!r} 无效", "写 agent 或 supervisor")
    on_spot = (
        r.categories(data["on_spot"], ("on_spot",))
        if "on_spot" in data
        else frozenset({Category.CONSULT, Category.PRAISE})
    )
    ver = r.mapping(data.get("verification"), ("verification",), {"share", "categories"})
    share = ver.get("share", 0.0)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
        raise r.fail(
            ("verification", "share"), f"抽查比例 {share!r} 无效", "写 0 到 1 之间的小数，如 0.2"
        )
    return HotlinePolicy(
        name=str(data.get("policy") or path.stem),
        source=str(path),
        sla=sla,
        followup=followup,
        followup_rules=followup_rules,
        dispatch_role=Role(role_name),
        extension_lead=r.opt_span(data, "extension_lead", ()),
        on_spot=on_spot,
        complaint_opinion=r.opt_span(data, "complaint_opinion", ()),
        verification=Verification(
            float(share), r.categories(ver.get("categories"), ("verification", "categories"))
        ),
    )


def _levels(
    r: _Reader, data: Mapping[str, Any], rules: Mapping[Category, CategoryRule]
) -> tuple[LevelRule, ...]:
    raw = data.get("complaint_levels")
    complaint = rules.get(Category.COMPLAINT)
    if raw is None:
        if complaint is None or complaint.done is None:
            raise r.fail(
                ("categories",),
                "投诉没有办结时限",
                "在 categories.complaint 下写 done: 3wd，或写 complaint_levels（每级都要有 done）",
            )
        return (LevelRule(ComplaintLevel.MINOR, "投诉", complaint.done, complaint.contact),)
    if not isinstance(raw, list) or not raw:
        raise r.fail(
            ("complaint_levels",),
            "投诉等级应为列表",
            "写成 - {level: 1, name: 重大, done: 48h}，每级一行",
        )
    out: list[LevelRule] = []
    for i, item in enumerate(raw):
        at = ("complaint_levels", i)
        spec = r.mapping(item, at, _LEVEL_KEYS)
        try:
            level = ComplaintLevel(int(spec.get("level")))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise r.fail(
                (*at, "level"),
                f"投诉等级 {spec.get('level')!r} 无效",
                "等级写 1（最重）、2 或 3",
            ) from None
        if spec.get("done") is None:
            raise r.fail(at, f"{level}级投诉没有办结时限", "加上 done: 24h 或 done: 3wd")
        if any(x.level == level for x in out):
            raise r.fail((*at, "level"), f"{level}级投诉重复", "每个等级只写一次")
        out.append(
            LevelRule(
                level=level,
                name=str(spec.get("name") or f"{int(level)}级"),
                done=r.span(spec["done"], (*at, "done")),
                contact=r.opt_span(spec, "contact", at),
                complainants=_opt_count(r, spec, "complainants", at),
                within_days=_opt_count(r, spec, "within_days", at) or 30,
                repeats=_opt_count(r, spec, "repeats", at),
                exposure=bool(spec.get("exposure", False)),
                people=_opt_count(r, spec, "people", at),
            )
        )
    return tuple(sorted(out, key=lambda x: int(x.level)))


def _opt_count(r: _Reader, spec: Mapping[str, Any], key: str, at: tuple[Any, ...]) -> int | None:
    value = spec.get(key)
    return None if value is None else r.count(value, (*at, key))


def _followup(r: _Reader, raw: Any, timezone: str) -> tuple[FollowupPolicy, FollowupRules]:
    at = ("followup",)
    spec = r.mapping(raw, at, _FOLLOWUP_KEYS)
    quiet = (time(21, 0), time(8, 0))
    if spec.get("quiet") is not None:
        quiet = r.hours(spec["quiet"], (*at, "quiet"))
    delay = r.span(spec.get("delay", "2h"), (*at, "delay"))
    interval = r.span(spec.get("interval", "2h"), (*at, "interval"))
    for name, s in (("delay", delay), ("interval", interval)):
        if s.unit.value not in ("h", "min"):
            raise r.fail((*at, name), f"回访间隔 {s} 须为小时或分钟", "写成 2h 或 30min")
    hours = {s: s.amount / 60 if s.unit.value == "min" else s.amount for s in (delay, interval)}
    policy = FollowupPolicy(
        delay_h=hours[delay],
        attempts=r.count(spec.get("attempts", 3), (*at, "attempts")),
        interval_h=hours[interval],
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        timezone=timezone,
    )
    unsatisfied = str(spec.get("unsatisfied", "reopen"))
    if unsatisfied not in ("reopen", "escalate"):
        raise r.fail(
            (*at, "unsatisfied"),
            f"不满意的处理 {unsatisfied!r} 无效",
            "写 reopen（不满意重办）或 escalate（升级到 escalate_to 指定的部门）",
        )
    escalate_to = spec.get("escalate_to")
    if unsatisfied == "escalate" and not escalate_to:
        raise r.fail((*at, "escalate_to"), "不满意升级却没有指定部门", "加上 escalate_to: 部门名称")
    default_cats = frozenset(Category) - {Category.CONSULT, Category.PRAISE}
    cats = (
        r.categories(spec["categories"], (*at, "categories"))
        if "categories" in spec
        else default_cats
    )
    rules = FollowupRules(
        categories=cats,
        sources=r.sources(spec.get("sources"), (*at, "sources"), frozenset(Source)),
        manual_sources=r.sources(spec.get("manual_sources"), (*at, "manual_sources"), frozenset()),
        unsatisfied=unsatisfied,
        escalate_to=str(escalate_to) if escalate_to else None,
    )
    return policy, rules
