"""Tickets (工单) over HTTP: list, read, edit a draft, lifecycle actions, split, 延期, 回访.

Rule: an agent sees and acts on only the tickets they own (首问负责: the agent who took the
call); supervisors and admins see all and act for the responsible units (there is no unit
role: the unit's name is recorded). An action below the actor's role is 403, an illegal
move 409 with the allowed ones named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from hotline.api import ticket_schemas as s
from hotline.api.deps import AnyUser, Tickets, Timezone
from hotline.api.etag import IfMatch, Versioned, conflict, expected
from hotline.api.routes.common import local, own_scope, time_range
from hotline.api.users import User
from hotline.core import pii
from hotline.core.errors import Conflict, InvalidInput, NotFound, VersionConflict
from hotline.tickets import lifecycle
from hotline.tickets.duties import Actor
from hotline.tickets.lifecycle import Action, ActionRefused
from hotline.tickets.model import Category, State
from hotline.tickets.records import TicketFilter, TicketRecord
from hotline.tickets.service import TicketService

router = APIRouter(prefix="/api/tickets", tags=["tickets"])


def _allow(user: User, action: Action) -> None:
    try:
        lifecycle.check_role(action, user.role)
    except ActionRefused as exc:
        raise HTTPException(403, detail={"error": exc.error_id, "message": exc.message}) from None


async def _visible(service: TicketService, user: User, ticket_id: int) -> TicketRecord:
    store = service.store
    rec = await store.get(ticket_id)
    own = own_scope(user)
    if rec is None or (own is not None and not await store.belongs_to(ticket_id, own)):
        raise NotFound(
            f"没有编号为 {ticket_id} 的工单，或你无权查看 (no ticket {ticket_id} that you may "
            "see; agents see the tickets of their own calls; list them with GET /api/tickets)"
        )
    return rec


def _party(user: User) -> Actor:
    """Who is acting, for the separation of duties (tickets.duties)."""
    return Actor(user.name, user.agent)


def _action(name: str) -> Action:
    try:
        return Action(name)
    except ValueError:
        names = ", ".join(a.value for a in Action)
        raise InvalidInput(
            f"未知操作 {name!r} (unknown ticket action {name!r}; use one of: {names})"
        ) from None


@router.get("", response_model=s.TicketListOut)
async def list_tickets(
    user: AnyUser,
    service: Tickets,
    tz: Timezone,
    state: State | None = None,
    category: Category | None = None,
    unit: Annotated[str | None, Query(max_length=128)] = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    overdue: bool | None = None,
    urgent: bool | None = None,
    caller: Annotated[str | None, Query(max_length=64, description="number or part")] = None,
    since: Annotated[datetime | None, Query(description="created from (no zone = local)")] = None,
    until: Annotated[datetime | None, Query(description="created until, exclusive")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> s.TicketListOut:
    since, until = time_range(tz, since, until)
    f = TicketFilter(
        state=state,
        category=category,
        unit=unit,
        agent=agent,
        overdue=overdue,
        urgent=urgent,
        caller=caller,
        since=since,
        until=until,
        only_agent=own_scope(user),
    )
    items, total = await service.store.find(f, offset=offset, limit=limit)
    return s.TicketListOut(
        items=[s.ticket_out(r) for r in items], total=total, offset=offset, limit=limit
    )


async def _followups(service: TicketService, rec: TicketRecord) -> s.FollowupsOut:
    return s.FollowupsOut(
        next_attempt_at=await service.next_followup_at(rec),
        attempts=[s.followup_out(a) for a in await service.store.followups(rec.id)],
    )


async def _detail(service: TicketService, rec: TicketRecord) -> s.TicketDetailOut:
    store = service.store
    t = rec.ticket
    history = (
        await store.caller_history(t.caller_number, exclude_ticket=t.id, exclude_call=t.call_id)
        if t.caller_number
        else None
    )
    return s.TicketDetailOut(
        **s.ticket_out(rec).model_dump(),
        history=[s.event_out(e) for e in await store.history(t.id)],
        caller_history=s.history_out(history)
        if history
        else s.CallerHistoryOut(calls=[], tickets=[]),
        followups=await _followups(service, rec),
    )


@router.get("/{ticket_id}", response_model=s.TicketDetailOut)
async def get_ticket(
    user: AnyUser, service: Tickets, ticket_id: int, v: IfMatch = None
) -> s.TicketDetailOut:
    """One ticket; its ETag is its version (send it as If-Match with an edit or action)."""
    rec = await _visible(service, user, ticket_id)
    if v is not None:
        v.tag(rec.version)
    return await _detail(service, rec)


async def _versioned(
    service: TicketService,
    user: User,
    ticket_id: int,
    v: Versioned | None,
    change: Callable[[int | None], Awaitable[TicketRecord]],
) -> s.TicketDetailOut:
    """A change on the version the client read (If-Match), with the new ETag; on another
    version a 409 carrying the current ticket."""
    try:
        rec = await change(expected(v))
    except Conflict as exc:  # VersionConflict, or the store's own compare-and-set lost
        if not isinstance(exc, VersionConflict) and exc.error_id != "ticket_changed":
            raise
        now = await _visible(service, user, ticket_id)
        raise conflict(exc, await _detail(service, now), now.version) from None
    if v is not None:
        v.tag(rec.version)
    return await _detail(service, rec)


@router.patch("/{ticket_id}", response_model=s.TicketDetailOut)
async def edit_ticket(
    user: AnyUser, service: Tickets, ticket_id: int, body: s.TicketPatch, v: IfMatch = None
) -> s.TicketDetailOut:
    current = (await _visible(service, user, ticket_id)).ticket
    changes: dict[str, Any] = body.model_dump(exclude_unset=True)
    if body.fields is not None:
        # a value the user was shown masked (api/masking.py) and sent back: keep the real one
        given = [s.field_in(f) for f in body.fields]
        changes["fields"] = [
            replace(
                f,
                value=pii.unmask(
                    f.value,
                    [o.value for o in current.fields if o.kind == f.kind],
                    pii.BY_KIND.get(f.kind.value, pii.mask_text),
                ),
            )
            for f in given
        ]
    if changes.get("summary"):
        changes["summary"] = pii.unmask(changes["summary"], [current.summary], pii.mask_text)
    if not changes:
        raise InvalidInput("没有要修改的内容 (nothing to change: send at least one field)")
    return await _versioned(
        service,
        user,
        ticket_id,
        v,
        lambda version: service.edit(
            ticket_id, changes, actor=user.name, role=user.role, expected_version=version
        ),
    )


@router.post("/{ticket_id}/actions/{action}", response_model=s.TicketDetailOut)
async def act(
    user: AnyUser,
    service: Tickets,
    ticket_id: int,
    action: str,
    body: s.ActionIn,
    v: IfMatch = None,
) -> s.TicketDetailOut:
    act_ = _action(action)
    if act_ in (Action.REQUEST_EXTENSION, Action.APPROVE_EXTENSION):
        raise InvalidInput(
            "延期请用 POST /api/tickets/{id}/extension 及 /extension/approve (use the extension "
            "endpoints for 延期)"
        )
    _allow(user, act_)
    await _visible(service, user, ticket_id)
    data: dict[str, Any] = {}
    if body.unit:
        data["unit"] = body.unit
    if body.satisfaction:
        data["satisfaction"] = body.satisfaction.value
    return await _versioned(
        service,
        user,
        ticket_id,
        v,
        lambda version: service.act(
            ticket_id,
            act_,
            actor=user.name,
            role=user.role,
            reason=body.reason,
            data=data,
            expected_version=version,
            party=_party(user),
        ),
    )


@router.post("/{ticket_id}/split", response_model=list[s.TicketOut])
async def split(
    user: AnyUser, service: Tickets, ticket_id: int, body: s.SplitIn
) -> list[s.TicketOut]:
    await _visible(service, user, ticket_id)
    recs = await service.split(ticket_id, body.units, actor=user.name, role=user.role)
    return [s.ticket_out(r) for r in recs]


@router.post("/{ticket_id}/extension", response_model=s.TicketDetailOut)
async def request_extension(
    user: AnyUser, service: Tickets, tz: Timezone, ticket_id: int, body: s.ExtensionIn
) -> s.TicketDetailOut:
    _allow(user, Action.REQUEST_EXTENSION)
    await _visible(service, user, ticket_id)
    data: dict[str, Any] = {"step": body.step, "new_due": local(tz, body.new_due)}
    if body.unit:
        data["unit_asking"] = body.unit
    rec = await service.act(
        ticket_id,
        Action.REQUEST_EXTENSION,
        actor=user.name,
        role=user.role,
        reason=body.reason,
        data=data,
    )
    return await _detail(service, rec)


@router.post("/{ticket_id}/extension/approve", response_model=s.TicketDetailOut)
async def approve_extension(
    user: AnyUser, service: Tickets, ticket_id: int, body: s.ApproveIn | None = None
) -> s.TicketDetailOut:
    _allow(user, Action.APPROVE_EXTENSION)
    await _visible(service, user, ticket_id)
    rec = await service.act(
        ticket_id,
        Action.APPROVE_EXTENSION,
        actor=user.name,
        role=user.role,
        reason=body.reason if body else None,
    )
    return await _detail(service, rec)


@router.get("/{ticket_id}/followups", response_model=s.FollowupsOut)
async def followups(user: AnyUser, service: Tickets, ticket_id: int) -> s.FollowupsOut:
    return await _followups(service, await _visible(service, user, ticket_id))


@router.post("/{ticket_id}/followups", response_model=s.TicketDetailOut)
async def record_followup(
    user: AnyUser, service: Tickets, ticket_id: int, body: s.FollowupIn
) -> s.TicketDetailOut:
    await _visible(service, user, ticket_id)
    rec = await service.record_followup(
        ticket_id,
        result=body.result,
        satisfaction=body.satisfaction.value if body.satisfaction else None,
        note=body.note,
        actor=user.name,
        role=user.role,
        party=_party(user),
    )
    return await _detail(service, rec)


@router.post("/{ticket_id}/followups/dial", response_model=s.TicketDetailOut)
async def dial_followup(user: AnyUser, service: Tickets, ticket_id: int) -> s.TicketDetailOut:
    await _visible(service, user, ticket_id)
    rec = await service.dial_followup(ticket_id, actor=user.name, role=user.role)
    return await _detail(service, rec)
