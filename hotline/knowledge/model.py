"""Knowledge articles as plain data and their 采编 → 审核 → 发布 workflow. Rule: pure; a
version moves only along `MOVES`, by the role named there, and its reviewer is never its
author; an article is suggested only while a published version is within its validity.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hotline.core.errors import Conflict, InvalidInput
from hotline.core.roles import Role


class VersionState(StrEnum):
    DRAFT = "draft"  # 采编中
    SUBMITTED = "submitted"  # 待审核
    APPROVED = "approved"  # 审核通过，待发布
    PUBLISHED = "published"  # 已发布 (the article's answer)
    SUPERSEDED = "superseded"  # replaced by a newer published version
    RETIRED = "retired"  # 已下线


STATE_LABELS = {
    "draft": "采编中",
    "submitted": "待审核",
    "approved": "待发布",
    "published": "已发布",
    "superseded": "已被新版本替代",
    "retired": "已下线",
}


class Action(StrEnum):
    SUBMIT = "submit"  # 提交审核
    APPROVE = "approve"  # 审核通过
    REJECT = "reject"  # 退回修改
    PUBLISH = "publish"  # 发布
    RETIRE = "retire"  # 下线


# action -> (from states, to state, lowest role)
MOVES: dict[Action, tuple[frozenset[VersionState], VersionState, Role]] = {
    Action.SUBMIT: (frozenset({VersionState.DRAFT}), VersionState.SUBMITTED, Role.INSPECTOR),
    Action.APPROVE: (
        frozenset({VersionState.SUBMITTED}),
        VersionState.APPROVED,
        Role.SUPERVISOR,
    ),
    Action.REJECT: (frozenset({VersionState.SUBMITTED}), VersionState.DRAFT, Role.SUPERVISOR),
    Action.PUBLISH: (
        frozenset({VersionState.APPROVED}),
        VersionState.PUBLISHED,
        Role.SUPERVISOR,
    ),
    Action.RETIRE: (
        frozenset({VersionState.PUBLISHED}),
        VersionState.RETIRED,
        Role.SUPERVISOR,
    ),
}


def move(
    state: VersionState, action: Action, *, role: Role, actor: str, author: str
) -> VersionState:
    """The state after `action`, or why it may not be done."""
    sources, target, lowest = MOVES[action]
    if not role.at_least(lowest):
        raise InvalidInput(
            f"「{action.value}」需要{lowest.value}或更高角色 (needs the role {lowest.value})",
            error_id="forbidden_move",
        )
    if state not in sources:
        raise Conflict(
            f"该版本当前为「{STATE_LABELS[state]}」，不能执行「{action.value}」"
            f" (a {state.value} version cannot be {action.value}ed)",
            error_id="wrong_article_state",
        )
    if action in (Action.APPROVE, Action.REJECT) and actor == author:
        raise Conflict(
            "审核人不能是采编人本人：请由另一位班长/主管审核 (the reviewer must not be the author)",
            error_id="self_review",
        )
    return target


@dataclass(frozen=True, slots=True)
class ArticleIn:
    category: str
    title: str
    body: str
    keywords: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None

    def check(self) -> None:
        if not self.title.strip() or not self.body.strip() or not self.category.strip():
            raise InvalidInput("请填写分类、标题和答复口径正文 (category, title and body required)")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise InvalidInput("有效期结束必须晚于开始 (valid_until must be after valid_from)")


@dataclass(frozen=True, slots=True)
class ArticleVersion:
    id: int
    article_id: int
    version: int
    state: VersionState
    category: str
    title: str
    body: str
    keywords: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    author: str
    reviewer: str | None
    review_note: str | None
    created_at: datetime
    reviewed_at: datetime | None
    published_at: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)


@dataclass(frozen=True, slots=True)
class Suggestion:
    version: ArticleVersion
    score: float
    matched: tuple[str, ...]  # the sound grams found in both
