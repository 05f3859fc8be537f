"""The 工单 lifecycle table, every (state, action) pair and every role."""

from __future__ import annotations

import itertools

import pytest

from hotline.core.errors import Conflict, InvalidInput
from hotline.tickets import lifecycle
from hotline.tickets.lifecycle import (
    MIN_ROLE,
    RANK,
    TABLE,
    Action,
    ActionRefused,
    IllegalTransition,
    Role,
)
from hotline.tickets.model import Satisfaction, State

# what each action needs to be complete
ARGS: dict[Action, dict[str, object]] = {
    Action.CLOSE_OUT_OF_SCOPE: {"reason": "咨询电信业务"},
    Action.RESOLVE_ON_SPOT: {"reason": "已告知营业厅地址和营业时间"},
    Action.DISPATCH: {"unit": "抢修中心"},
    Action.RETURN: {"reason": "不属于本单位"},
    Action.REPLY: {"reason": "已更换阀门"},
    Action.CLOSE: {"satisfaction": "satisfied"},
    Action.CLOSE_NO_FOLLOWUP: {"reason": "客户不需要回访"},
    Action.REQUEST_EXTENSION: {"reason": "等待配件"},
    Action.SET_EXPOSURE: {"reason": "媒体报道"},
}


def test_the_main_road_from_draft_to_closed() -> None:
    road = [
        (Action.CONFIRM, State.ACCEPTED),
        (Action.DISPATCH, State.DISPATCHED),
        (Action.START, State.IN_PROGRESS),
        (Action.REPLY, State.REPLIED),
        (Action.FOLLOW_UP, State.FOLLOW_UP),
        (Action.CLOSE, State.CLOSED),
    ]
    state = State.DRAFT
    for action, expected in road:
        move = lifecycle.step(state, action, Role.ADMIN, **ARGS.get(action, {}))  # type: ignore[arg-type]
        assert (move.from_state, move.to_state) == (state, expected)
        state = move.to_state


@pytest.mark.parametrize(("state", "action"), list(itertools.product(State, Action)))
def test_every_pair_is_either_in_the_table_or_refused_naming_the_allowed(
    state: State, action: Action
) -> None:
    args = ARGS.get(action, {})
    if (state, action) in TABLE:
        move = lifecycle.step(state, action, Role.SYSTEM, **args)  # type: ignore[arg-type]
        assert move.to_state is TABLE[(state, action)] and move.action is action
        return
    with pytest.raises(IllegalTransition) as err:
        lifecycle.step(state, action, Role.SYSTEM, **args)  # type: ignore[arg-type]
    assert isinstance(err.value, Conflict)
    msg = err.value.message
    assert lifecycle.STATE_LABELS[state] in msg and lifecycle.ACTION_LABELS[action] in msg
    assert f"state {state.value}" in msg and action.value in msg
    for ok in lifecycle.allowed(state):
        assert ok.value in msg


@pytest.mark.parametrize(("action", "role"), list(itertools.product(Action, Role)))
def test_an_action_below_its_role_is_refused_whatever_the_state(action: Action, role: Role) -> None:
    state = next(s for (s, a) in TABLE if a is action)
    args = ARGS.get(action, {})
    unit_step = role is Role.UNIT and action in lifecycle.UNIT_ACTIONS
    if RANK[role] >= RANK[MIN_ROLE[action]] or unit_step:
        lifecycle.step(state, action, role, **args)  # type: ignore[arg-type]
    else:
        with pytest.raises(ActionRefused, match=MIN_ROLE[action].value):
            lifecycle.step(state, action, role, **args)  # type: ignore[arg-type]


def test_agents_confirm_and_close_but_only_supervisors_act_for_units() -> None:
    assert MIN_ROLE[Action.CONFIRM] is Role.AGENT
    assert MIN_ROLE[Action.APPROVE_EXTENSION] is Role.SUPERVISOR
    with pytest.raises(ActionRefused):
        lifecycle.step(State.DISPATCHED, Action.APPROVE_EXTENSION, Role.AGENT)


def test_a_units_user_takes_only_the_units_own_steps() -> None:
    assert {
        Action.START,
        Action.CONTACT,
        Action.RETURN,
        Action.REPLY,
        Action.REQUEST_EXTENSION,
    } == lifecycle.UNIT_ACTIONS
    lifecycle.step(State.DISPATCHED, Action.START, Role.UNIT)
    for action in (Action.CONFIRM, Action.DISPATCH, Action.APPROVE_EXTENSION, Action.CLOSE):
        with pytest.raises(ActionRefused):
            lifecycle.check_role(action, Role.UNIT)


def test_a_closed_ticket_accepts_nothing() -> None:
    assert lifecycle.allowed(State.CLOSED) == ()
    with pytest.raises(IllegalTransition, match="无"):
        lifecycle.step(State.CLOSED, Action.REOPEN, Role.ADMIN)


@pytest.mark.parametrize(
    ("state", "action", "missing"),
    [
        (State.DRAFT, Action.CLOSE_OUT_OF_SCOPE, "原因"),
        (State.IN_PROGRESS, Action.RETURN, "原因"),
        (State.IN_PROGRESS, Action.REPLY, "答复"),
        (State.ACCEPTED, Action.DISPATCH, "承办单位"),
        (State.DISPATCHED, Action.REQUEST_EXTENSION, "原因"),
    ],
)
def test_reasons_units_and_answers_are_required(state: State, action: Action, missing: str) -> None:
    with pytest.raises(InvalidInput, match=missing):
        lifecycle.step(state, action, Role.ADMIN, reason="  ")


def test_close_needs_satisfaction_and_reopen_is_for_the_unsatisfied() -> None:
    with pytest.raises(InvalidInput, match="不满意请用"):
        lifecycle.step(State.FOLLOW_UP, Action.CLOSE, Role.AGENT, satisfaction="unsatisfied")
    with pytest.raises(InvalidInput, match="满意"):
        lifecycle.step(State.FOLLOW_UP, Action.CLOSE, Role.AGENT)
    move = lifecycle.step(State.FOLLOW_UP, Action.CLOSE, Role.AGENT, satisfaction="basically")
    assert move.satisfaction is Satisfaction.BASICALLY
    move = lifecycle.step(State.FOLLOW_UP, Action.REOPEN, Role.AGENT)
    assert move.to_state is State.DISPATCHED and move.satisfaction is Satisfaction.UNSATISFIED
    with pytest.raises(InvalidInput):
        lifecycle.step(State.FOLLOW_UP, Action.REOPEN, Role.AGENT, satisfaction="satisfied")
    unreachable = lifecycle.step(
        State.FOLLOW_UP, Action.CLOSE, Role.SYSTEM, reason="回访无法联系", unreachable=True
    )
    assert unreachable.unreachable and unreachable.satisfaction is None


def test_unknown_actions_and_satisfactions_say_what_exists() -> None:
    with pytest.raises(InvalidInput, match="confirm"):
        lifecycle.step(State.DRAFT, "approve", Role.ADMIN)
    with pytest.raises(InvalidInput, match="satisfied"):
        lifecycle.step(State.FOLLOW_UP, Action.CLOSE, Role.AGENT, satisfaction="happy")
