"""Supervisor and agent actions on the switch: pause (示忙) with a reason, unpause, log out
of a queue (签出), and listen / whisper / barge (监听/耳语/强插). Rule: thin; who may do
what is the supervision service's, and a refusal it names becomes 403 here."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hotline.api.deps import AnyUser, Supervision, Supervisor
from hotline.api.schemas import Out
from hotline.api.users import User
from hotline.telephony.supervision import Actor, Kind, NotPermitted

router = APIRouter(prefix="/api/supervision", tags=["supervision"])

AgentField = Field(
    None,
    max_length=128,
    description="the member (interface such as PJSIP/1001, or member name); omitted: yourself",
)


class PauseIn(BaseModel):
    agent: str | None = AgentField
    reason: str = Field(..., min_length=1, max_length=64, description="示忙原因, e.g. 小休")
    queue: str | None = Field(None, max_length=128, description="one queue; omitted: all")


class UnpauseIn(BaseModel):
    agent: str | None = AgentField
    queue: str | None = Field(None, max_length=128)


class LogoutIn(BaseModel):
    agent: str = Field(..., min_length=1, max_length=128)
    queue: str = Field(..., min_length=1, max_length=128)


class SpyIn(BaseModel):
    agent: str = Field(..., min_length=1, max_length=128)
    mode: Kind = Field(Kind.LISTEN, description="listen (监听), whisper (耳语), barge (强插)")


class ActionOut(Out):
    id: int
    at: datetime
    actor: str
    action: str
    agent: str
    queue: str | None
    reason: str | None
    outcome: str
    detail: str | None


class SpyOut(Out):
    mode: str
    agent: str
    phone: str
    channel: str | None
    uniqueid: str | None


def _actor(user: User) -> Actor:
    return Actor(user.name, user.role, user.agent, user.phone)


def _forbidden(exc: NotPermitted) -> HTTPException:
    return HTTPException(403, detail={"error": exc.error_id, "message": exc.message})


@router.get("/pause-reasons")
async def pause_reasons(user: AnyUser, service: Supervision) -> list[str]:
    """The reasons an agent may pause with (HOTLINE_LIVE__PAUSE_REASONS)."""
    return list(service.pause_reasons)


@router.post("/pause", response_model=ActionOut)
async def pause(user: AnyUser, service: Supervision, body: PauseIn) -> ActionOut:
    try:
        entry = await service.pause(_actor(user), body.agent, body.reason, body.queue)
    except NotPermitted as exc:
        raise _forbidden(exc) from None
    return ActionOut.model_validate(entry)


@router.post("/unpause", response_model=ActionOut)
async def unpause(user: AnyUser, service: Supervision, body: UnpauseIn) -> ActionOut:
    try:
        entry = await service.unpause(_actor(user), body.agent, body.queue)
    except NotPermitted as exc:
        raise _forbidden(exc) from None
    return ActionOut.model_validate(entry)


@router.post("/logout", response_model=ActionOut)
async def logout(user: Supervisor, service: Supervision, body: LogoutIn) -> ActionOut:
    try:
        entry = await service.logout(_actor(user), body.agent, body.queue)
    except NotPermitted as exc:
        raise _forbidden(exc) from None
    return ActionOut.model_validate(entry)


@router.post("/spy", response_model=SpyOut)
async def spy(user: Supervisor, service: Supervision, body: SpyIn) -> SpyOut:
    """Ring your own phone (`hotline users phone NAME PJSIP/…`); answered, it joins the
    agent's call as the mode says. Returns once your phone answered (or did not)."""
    try:
        call = await service.spy(_actor(user), body.agent, body.mode)
    except NotPermitted as exc:
        raise _forbidden(exc) from None
    return SpyOut.model_validate(call)


@router.get("/actions", response_model=list[ActionOut])
async def actions(
    user: Supervisor,
    service: Supervision,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ActionOut]:
    """Who did what to whom on the switch, newest first."""
    found = await service.store.find(agent=agent, actor=actor, limit=limit)
    return [ActionOut.model_validate(e) for e in found]
