"""The 工单's plain types, shared by the pure policy (classify, extract, sla, lifecycle), the
store, the service and the reports. Rule: data only; identifiers in English, the labels
users see in Chinese.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum


class Category(StrEnum):
    """The regulations' 受理范围."""

    CONSULT = "consult"  # 咨询/查询
    REPAIR = "repair"  # 故障报修
    SERVICE = "service"  # 服务申请 (报装、拆改、通气、安检)
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 意见/建议
    PRAISE = "praise"  # 表扬
    EMERGENCY = "emergency"  # 报警/紧急 (e.g. gas leak)


CATEGORY_LABELS: dict[Category, str] = {
    Category.CONSULT: "咨询/查询",
    Category.REPAIR: "故障报修",
    Category.SERVICE: "服务申请",
    Category.COMPLAINT: "投诉",
    Category.REPORT: "举报",
    Category.SUGGESTION: "意见/建议",
    Category.PRAISE: "表扬",
    Category.EMERGENCY: "报警/紧急",
}


class Source(StrEnum):
    """How the matter reached the hotline (来源)."""

    PHONE = "phone"  # a call to the hotline
    GOVERNMENT = "government"  # 12345 or another government transfer (督办件), with its number
    WECHAT = "wechat"  # WeChat message
    WEB = "web"  # web message / online form
    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    FOLLOWUP = "followup"  # a new request raised during a 回访


SOURCE_LABELS: dict[Source, str] = {
    Source.PHONE: "热线电话",
    Source.GOVERNMENT: "政府转办（12345）",
    Source.WECHAT: "微信",
    Source.WEB: "网站留言",
    Source.LETTER: "来信",
    Source.VISIT: "来访",
    Source.FOLLOWUP: "回访中提出",
}


class State(StrEnum):
    DRAFT = "draft"  # 草稿: drafted from the call, the agent has not confirmed it
    ACCEPTED = "accepted"  # 受理
    DISPATCHED = "dispatched"  # 派发
    IN_PROGRESS = "in_progress"  # 处理中
    REPLIED = "replied"  # 已回复
    FOLLOW_UP = "follow_up"  # 回访
    CLOSED = "closed"  # 办结 (or closed as 不属于受理范围, with a reason)


STATE_LABELS: dict[State, str] = {
    State.DRAFT: "草稿",
    State.ACCEPTED: "受理",
    State.DISPATCHED: "派发",
    State.IN_PROGRESS: "处理中",
    State.REPLIED: "已回复",
    State.FOLLOW_UP: "回访",
    State.CLOSED: "办结",
}


class ComplaintLevel(IntEnum):
    """1 重大 (48 h), 2 一般 (24 h), 3 轻度 (3 h)."""

    MAJOR = 1
    GENERAL = 2
    MINOR = 3


LEVEL_LABELS: dict[ComplaintLevel, str] = {
    ComplaintLevel.MAJOR: "一级（重大）",
    ComplaintLevel.GENERAL: "二级（一般）",
    ComplaintLevel.MINOR: "三级（轻度）",
}


class Validity(StrEnum):
    """A complaint judged (投诉认定)."""

    VALID = "valid"  # 有效投诉
    INVALID = "invalid"  # 无效投诉
    SPECIAL = "special"  # 特殊 (e.g. caused by a force majeure or a third party)


VALIDITY_LABELS: dict[Validity, str] = {
    Validity.VALID: "有效投诉",
    Validity.INVALID: "无效投诉",
    Validity.SPECIAL: "特殊投诉",
}


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY = "basically"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意 (reopens the ticket: 不满意重办)


class FieldKind(StrEnum):
    PHONE = "phone"  # 电话号码
    ACCOUNT = "account"  # 户号 / 账号
    ADDRESS = "address"  # 地址
    DATETIME = "datetime"  # 日期时间


@dataclass(frozen=True, slots=True)
class Evidence:
    """The customer's words a decision rests on, and where they are in the recording."""

    text: str
    start: float | None = None  # seconds from the start of the recording
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Field:
    kind: FieldKind
    value: str  # normalized: digits for numbers, ISO 8601 for dates and times
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class Classification:
    category: Category
    urgent: bool  # an emergency, or any words of the pack's urgent list (燃气泄漏 …)
    confidence: float  # 0–1; low means the agent should look closely
    evidence: tuple[Evidence, ...]
    topic: str | None = None  # the pack's topic matched (e.g. "燃气泄漏", "停水"): 热点 key
    unit: str | None = None  # the responsible unit the pack maps the topic to, if any


@dataclass(frozen=True, slots=True)
class Deadlines:
    """When each step is due (UTC); None where the category has no such step."""

    dispatch_by: datetime | None = None  # 派发 to the responsible unit
    contact_by: datetime | None = None  # the unit contacts the customer
    done_by: datetime | None = None  # the unit finishes (办结 of its part)
    reply_by: datetime | None = None  # reply to the customer after the unit's answer
    opinion_by: datetime | None = None  # a valid complaint's handling opinion (投诉认定)


@dataclass(frozen=True, slots=True)
class Ticket:
    id: int
    call_id: str | None
    recording_id: int | None
    caller_number: str | None
    agent: str | None  # first-contact owner (首问负责)
    state: State
    category: Category | None
    urgent: bool
    complaint_level: ComplaintLevel | None
    unit: str | None  # responsible unit
    summary: str
    fields: tuple[Field, ...]
    topic: str | None
    created_at: datetime
    deadlines: Deadlines
    dispatched_at: datetime | None = None
    replied_at: datetime | None = None
    closed_at: datetime | None = None
    overdue: bool = False
    satisfaction: Satisfaction | None = None
    reopened: int = 0  # times reopened by 不满意重办
    close_reason: str | None = None  # e.g. 不属于受理范围: …
    parent_id: int | None = None  # split from this ticket (one call, several units)
    source: Source = Source.PHONE  # the channel it came by
    source_ref: str | None = None  # the transfer's or letter's own number (12345 工单号 …)
    on_spot: bool = False  # 即时办结: answered during the call (一次解决)
