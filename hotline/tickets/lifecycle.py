"""The 工单 lifecycle as a table. Rule: a ticket moves only along `TABLE`, by an actor of
at least the action's role, with the reason and data the action needs; anything else is
refused with `IllegalTransition` (a Conflict) or `ActionRefused` and changes nothing.

受理 -> 派发 -> 处理中 -> 已回复 -> 回访 -> 办结, with 回退 (the unit returns a ticket that is
not theirs to dispatch), 不满意重办 (回访 不满意 reopens it for a second handling), a
不属于受理范围 close straight from the draft, and the actions that change no state
(延期 request and approval, media/legal exposure).

即时办结: a consultation, query or praise answered during the call is closed in one step
from the draft (or accepted ticket) with the answer given: no dispatch, no deadline.
Who may 派发 is the policy's (agents by default, as 002 says; `need` in `check_role`).
A responsible unit's user (role unit) takes the unit's own steps (`UNIT_ACTIONS`: 签收,
contact, 回退, reply, 延期 request) on its units' tickets; a supervisor may take them for
the unit.
The service's own moves (an unreachable 回访) act as `system`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from hotline.core.errors import Conflict, HotlineError, InvalidInput
from hotline.core.roles import RANK as RANK
from hotline.core.roles import Role as Role
from hotline.tickets.model import STATE_LABELS, Satisfaction, State


class Action(StrEnum):
    CONFIRM = "confirm"  # the agent confirms the draft: 受理
    CLOSE_OUT_OF_SCOPE = "close_out_of_scope"  # 不属于受理范围, with a reason
    RESOLVE_ON_SPOT = "resolve_on_spot"  # 即时办结: answered during the call, with the answer
    DISPATCH = "dispatch"  # 派发 to a responsible unit
    START = "start"  # the unit receives it (签收) and starts handling: 处理中
    CONTACT = "contact"  # the unit contacted the customer (the contact clock's step)
    RETURN = "return"  # 回退: the unit returns a ticket that is not theirs, with a reason
    REPLY = "reply"  # the unit's answer: 已回复
    FOLLOW_UP = "follow_up"  # the 回访 starts
    CLOSE = "close"  # 办结: satisfied / basically satisfied, or 回访 unreachable
    CLOSE_NO_FOLLOWUP = "close_no_followup"  # 办结 without 回访: declined, or not in the policy
    REOPEN = "reopen"  # 不满意重办: back to the unit for a second handling
    REQUEST_EXTENSION = "request_extension"  # 延期 asked by the unit (before the deadline)
    APPROVE_EXTENSION = "approve_extension"  # 延期 approved: the deadline moves
    SET_EXPOSURE = "set_exposure"  # media / legal exposure: complaint level 1


ACTION_LABELS: dict[Action, str] = {
    Action.CONFIRM: "确认受理",
    Action.CLOSE_OUT_OF_SCOPE: "不属于受理范围办结",
    Action.RESOLVE_ON_SPOT: "即时办结",
    Action.DISPATCH: "派发",
    Action.START: "签收并开始处理",
    Action.CONTACT: "已联系客户",
    Action.RETURN: "回退",
    Action.REPLY: "回复",
    Action.FOLLOW_UP: "开始回访",
    Action.CLOSE: "办结",
    Action.CLOSE_NO_FOLLOWUP: "办结（无需回访）",
    Action.REOPEN: "不满意重办",
    Action.REQUEST_EXTENSION: "申请延期",
    Action.APPROVE_EXTENSION: "批准延期",
    Action.SET_EXPOSURE: "标记媒体/法律曝光",
}
# What the service itself writes into a ticket's history, besides people's actions.
HISTORY_LABELS: dict[str, str] = {
    **{a.value: label for a, label in ACTION_LABELS.items()},
    "draft": "来电结束，生成工单草稿",
    "create": "登记工单",
    "raised_new": "回访中提出新诉求，已另立工单",
    "judge": "投诉认定",
    "verify": "办结核实",
    "attach": "上传附件",
    "refine": "按录音转写补全草稿",
    "edit": "修改工单内容",
    "suggest_split": "建议按承办单位拆分",
    "split": "拆分为多张工单",
    "split_from": "由拆分生成",
    "overdue": "超期",
    "alert_urgent": "紧急告警",
    "calendar_unknown": "工作日历缺少年份，时限未定",
    "followup_attempt": "回访拨打",
    "followup_answered": "回访接通",
}


S = State
A = Action
_HANDLING = (S.DISPATCHED, S.IN_PROGRESS)
_OPEN = (S.ACCEPTED, S.DISPATCHED, S.IN_PROGRESS, S.REPLIED, S.FOLLOW_UP)

# (state, action) -> next state. Actions that change no state map a state to itself.
TABLE: dict[tuple[State, Action], State] = {
    (S.DRAFT, A.CONFIRM): S.ACCEPTED,
    (S.DRAFT, A.CLOSE_OUT_OF_SCOPE): S.CLOSED,
    (S.ACCEPTED, A.CLOSE_OUT_OF_SCOPE): S.CLOSED,
    (S.DRAFT, A.RESOLVE_ON_SPOT): S.CLOSED,
    (S.ACCEPTED, A.RESOLVE_ON_SPOT): S.CLOSED,
    (S.ACCEPTED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.START): S.IN_PROGRESS,
    (S.DISPATCHED, A.RETURN): S.ACCEPTED,
    (S.DISPATCHED, A.CONTACT): S.DISPATCHED,
    (S.IN_PROGRESS, A.CONTACT): S.IN_PROGRESS,
    (S.IN_PROGRESS, A.RETURN): S.ACCEPTED,
    (S.IN_PROGRESS, A.REPLY): S.REPLIED,
    (S.REPLIED, A.FOLLOW_UP): S.FOLLOW_UP,
    (S.FOLLOW_UP, A.CLOSE): S.CLOSED,
    (S.REPLIED, A.CLOSE_NO_FOLLOWUP): S.CLOSED,
    (S.FOLLOW_UP, A.REOPEN): S.DISPATCHED,
    **{(s, A.REQUEST_EXTENSION): s for s in _HANDLING},
    **{(s, A.APPROVE_EXTENSION): s for s in _HANDLING},
    **{(s, A.SET_EXPOSURE): s for s in (S.DRAFT, *_OPEN)},
}

MIN_ROLE: dict[Action, Role] = {
    A.CONFIRM: Role.AGENT,
    A.CLOSE_OUT_OF_SCOPE: Role.AGENT,
    A.RESOLVE_ON_SPOT: Role.AGENT,
    A.DISPATCH: Role.AGENT,  # 002: the first-contact agent dispatches; a policy may say supervisor
    A.START: Role.SUPERVISOR,  # on the unit's behalf
    A.CONTACT: Role.SUPERVISOR,  # on the unit's behalf
    A.RETURN: Role.SUPERVISOR,  # on the unit's behalf
    A.REPLY: Role.SUPERVISOR,  # on the unit's behalf
    A.FOLLOW_UP: Role.AGENT,
    A.CLOSE: Role.AGENT,
    A.CLOSE_NO_FOLLOWUP: Role.AGENT,
    A.REOPEN: Role.AGENT,
    A.REQUEST_EXTENSION: Role.SUPERVISOR,  # on the unit's behalf
    A.APPROVE_EXTENSION: Role.SUPERVISOR,
    A.SET_EXPOSURE: Role.SUPERVISOR,
}

# What a responsible unit's own user (role unit) may do on its units' tickets; a supervisor
# may do each of them for the unit, and the history says for whom.
UNIT_ACTIONS = frozenset({A.START, A.CONTACT, A.RETURN, A.REPLY, A.REQUEST_EXTENSION})

NEEDS_REASON = frozenset(
    {A.CLOSE_OUT_OF_SCOPE, A.RETURN, A.REQUEST_EXTENSION, A.SET_EXPOSURE, A.CLOSE_NO_FOLLOWUP}
)
NEEDS_UNIT = frozenset({A.DISPATCH})
NEEDS_TEXT = frozenset({A.REPLY, A.RESOLVE_ON_SPOT})  # the answer given, in `reason`


def allowed(state: State) -> tuple[Action, ...]:
    """The actions a ticket in `state` accepts, in the table's order."""
    return tuple(a for (s, a) in TABLE if s is state)


class IllegalTransition(Conflict):
    """The action does not apply to a ticket in its current state."""

    error_id = "ticket_illegal_transition"

    def __init__(self, current: State, action: Action) -> None:
        self.current = current
        self.action = action
        self.allowed = allowed(current)
        zh_allowed = "、".join(ACTION_LABELS[a] for a in self.allowed) or "无"
        en_allowed = ", ".join(a.value for a in self.allowed) or "none"
        super().__init__(
            f"工单当前状态为「{STATE_LABELS[current]}」，不能「{ACTION_LABELS[action]}」；"
            f"可执行：{zh_allowed} (a ticket in state {current.value} does not accept "
            f"{action.value}; allowed from {current.value}: {en_allowed}; reload the ticket "
            "and pick one of those)"
        )


class ActionRefused(HotlineError):
    """The actor's role is below the action's: the API answers 403."""

    error_id = "forbidden"


@dataclass(frozen=True, slots=True)
class Move:
    """One validated step: what the store writes and the history keeps."""

    action: Action
    from_state: State
    to_state: State
    reason: str | None
    unit: str | None = None
    satisfaction: Satisfaction | None = None
    unreachable: bool = False


def check_role(action: Action, role: Role | str, need: Role | None = None) -> None:
    """Refuse an actor below the action's role (`need` overrides the table: the policy's)."""
    need = need or MIN_ROLE[action]
    have = Role(role)
    if have is Role.UNIT and action in UNIT_ACTIONS:
        return  # the unit's own step (the routes check it is the unit's ticket)
    if RANK[have] < RANK[need]:
        raise ActionRefused(
            f"「{ACTION_LABELS[action]}」需要{need.value}或更高权限 (action {action.value} needs "
            f"the role {need.value} or higher; you are {have.value}: ask a {need.value})"
        )


def step(
    state: State,
    action: Action | str,
    role: Role | str,
    *,
    reason: str | None = None,
    unit: str | None = None,
    satisfaction: Satisfaction | str | None = None,
    unreachable: bool = False,
    data: Mapping[str, object] | None = None,
) -> Move:
    """Validate one action on a ticket in `state`; the move to store, or an error."""
    try:
        act = Action(action)
    except ValueError:
        names = ", ".join(a.value for a in Action)
        raise InvalidInput(
            f"未知操作 {action!r} (unknown ticket action {action!r}; use one of: {names})"
        ) from None
    check_role(act, role)
    to = TABLE.get((state, act))
    if to is None:
        raise IllegalTransition(state, act)
    reason = (reason or "").strip() or None
    if act in NEEDS_REASON and reason is None:
        raise InvalidInput(
            f"「{ACTION_LABELS[act]}」须填写原因 (action {act.value} needs a reason: "
            "say why in `reason`)"
        )
    if act in NEEDS_TEXT and reason is None:
        raise InvalidInput(
            f"「{ACTION_LABELS[act]}」须填写答复内容 (action {act.value} needs the answer "
            "given in `reason`)"
        )
    unit = (unit or "").strip() or None
    if act in NEEDS_UNIT and unit is None:
        raise InvalidInput(
            f"「{ACTION_LABELS[act]}」须指定承办单位 (action {act.value} needs the responsible "
            "unit in `unit`)"
        )
    sat = _satisfaction(act, satisfaction, unreachable, reason)
    return Move(act, state, to, reason, unit, sat, unreachable and act is A.CLOSE)


def _satisfaction(
    act: Action, value: Satisfaction | str | None, unreachable: bool, reason: str | None
) -> Satisfaction | None:
    try:
        sat = Satisfaction(value) if value else None
    except ValueError:
        raise InvalidInput(
            f"满意度 {value!r} 无效 (satisfaction {value!r} is not one of satisfied, "
            "basically, unsatisfied)"
        ) from None
    if act is A.CLOSE:
        if unreachable:
            if reason is None:
                raise InvalidInput(
                    "回访无法联系办结须填写原因 (closing after an unreachable 回访 needs a reason)"
                )
            return None
        if sat not in (Satisfaction.SATISFIED, Satisfaction.BASICALLY):
            raise InvalidInput(
                "办结须记录客户满意或基本满意；不满意请用「不满意重办」 (close needs the "
                "customer's satisfaction, satisfied or basically; for unsatisfied use reopen)"
            )
        return sat
    if act is A.REOPEN:
        if sat not in (None, Satisfaction.UNSATISFIED):
            raise InvalidInput(
                "不满意重办只用于客户不满意 (reopen is for an unsatisfied customer only; "
                "close the ticket instead)"
            )
        return Satisfaction.UNSATISFIED
    return sat
