"""Tickets (工单) over HTTP: list, read, edit a draft, lifecycle actions, split, 延期, 回访.

Rule: an agent sees and acts on only the tickets they own (首问负责: the agent who took the
call), dispatches them (unless the policy says supervisors do) and closes a consultation
on the spot (即时办结); supervisors and admins see all and act for the responsible units
(the unit's name is recorded). An action below the actor's role is 403, an illegal
move 409 with the allowed ones named.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, UploadFile

from hotline.api import ticket_schemas as s
from hotline.api.deps import AnyUser, Supervisor, Tickets, Timezone
from hotline.api.etag import IfMatch, Versioned, conflict, expected
from hotline.api.routes.common import PageCursor, local, own_scope, time_range
from hotline.api.users import Role, User
from hotline.core import pii
from hotline.core.errors import Conflict, InvalidInput, NotFound, VersionConflict
from hotline.tickets import lifecycle
from hotline.tickets.duties import Actor
from hotline.tickets.lifecycle import Action, ActionRefused
from hotline.tickets.model import Category, Source, State
from hotline.tickets.records import TicketFilter, TicketRecord
from hotline.tickets.service import TicketService

router = APIRouter(prefix="/api/tickets", tags=["tickets"])


def _allow(user: User, action: Action, service: TicketService | None = None) -> None:
    need = service.policy.min_role(action) if service is not None else None
    try:
        lifecycle.check_role(action, user.role, need)
    except ActionRefused as exc:
        raise HTTPException(403, detail={"error": exc.error_id, "message": exc.message}) from None


def _no_unit(user: User) -> None:
    """A unit's user takes only the unit's own steps (签收, contact, 回退, reply, 延期)."""
    if user.role is Role.UNIT:
        raise HTTPException(
            403,
            detail={
                "error": "forbidden",
                "message": "承办单位用户只能签收、联系客户、回退、回复和申请延期 "
                "(a unit user takes only the unit's own steps: start, contact, return, "
                "reply, extension)",
            },
        )


def _for_whom(user: User, rec: TicketRecord, action: Action, data: dict[str, Any]) -> None:
    """The history says who did a unit's step for which unit."""
    if action not in lifecycle.UNIT_ACTIONS:
        return
    if user.role is Role.UNIT:
        data["by_unit"] = rec.ticket.unit
    else:
        data["for_unit"] = data.pop("unit_asking", None) or rec.ticket.unit


async def _visible(service: TicketService, user: User, ticket_id: int) -> TicketRecord:
    store = service.store
    rec = await store.get(ticket_id)
    if user.role is Role.UNIT:  # a unit's user: the tickets dispatched to its units only
        if rec is None or rec.ticket.unit not in user.units or rec.ticket.dispatched_at is None:
            raise NotFound(
                f"没有编号为 {ticket_id} 的工单，或不属于你的单位 (no ticket {ticket_id} of your "
                f"units {', '.join(user.units)}; list them with GET /api/tickets)"
            )
        return rec
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
    source: Source | None = None,
    unit: Annotated[str | None, Query(max_length=128)] = None,
    agent: Annotated[str | None, Query(max_length=128)] = None,
    overdue: bool | None = None,
    urgent: bool | None = None,
    caller: Annotated[str | None, Query(max_length=64, description="number or part")] = None,
    since: Annotated[datetime | None, Query(description="created from (no zone = local)")] = None,
    until: Annotated[datetime | None, Query(description="created until, exclusive")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: PageCursor = None,
) -> s.TicketListOut:
    since, until = time_range(tz, since, until)
    f = TicketFilter(
        state=state,
        category=category,
        source=source,
        unit=unit,
        agent=agent,
        overdue=overdue,
        urgent=urgent,
        caller=caller,
        since=since,
        until=until,
        only_agent=None if user.role is Role.UNIT else own_scope(user),
        units=user.units if user.role is Role.UNIT else None,
    )
    page = await service.store.page(f, offset=offset, limit=limit, cursor=cursor)
    return s.TicketListOut(
        items=[s.ticket_out(r) for r in page.items],
        total=page.total,
        total_capped=page.total_capped,
        offset=offset,
        limit=limit,
        next_cursor=page.next_cursor,
    )


@router.post("", response_model=s.TicketDetailOut, status_code=201)
async def create_ticket(
    user: AnyUser, service: Tickets, tz: Timezone, body: s.TicketIn
) -> s.TicketDetailOut:
    """A ticket from a 12345 transfer, a WeChat or web message, a letter, a visit or a 回访;
    the one who enters it owns it (首问负责)."""
    fields = body.model_dump()
    for key in ("received_at", "due", "followup_booked_at"):
        if fields[key] is not None:
            fields[key] = local(tz, fields[key])
    _no_unit(user)
    owner = user.agent or user.name
    rec = await service.create(**fields, actor=user.name, role=user.role, owner=owner)
    return await _detail(service, rec)


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
    _no_unit(user)
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
    if changes.get("followup_booked_at") is not None:
        changes["followup_booked_at"] = local(
            str(service.policy.sla.tz), changes["followup_booked_at"]
        )
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
    _allow(user, act_, service)
    rec = await _visible(service, user, ticket_id)
    data: dict[str, Any] = {}
    if body.unit:
        data["unit"] = body.unit
    if body.satisfaction:
        data["satisfaction"] = body.satisfaction.value
    _for_whom(user, rec, act_, data)
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


@router.post("/{ticket_id}/attachments", response_model=s.AttachmentOut, status_code=201)
async def attach(
    user: AnyUser, service: Tickets, ticket_id: int, file: UploadFile
) -> s.AttachmentOut:
    """A photo (JPG, PNG) or document (PDF) for the ticket, at most 10 MB; stored beside the
    recording archive."""
    await _visible(service, user, ticket_id)
    data = await file.read(service.attachments.max_bytes + 1)
    a = await service.attach(
        ticket_id, file.filename or "附件", data, actor=user.name, role=user.role
    )
    return s.AttachmentOut(
        id=a.id,
        name=a.name,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        by=a.by,
        at=a.at,
    )


@router.get("/{ticket_id}/attachments", response_model=list[s.AttachmentOut])
async def attachments(user: AnyUser, service: Tickets, ticket_id: int) -> list[s.AttachmentOut]:
    await _visible(service, user, ticket_id)
    return [
        s.AttachmentOut(
            id=a.id,
            name=a.name,
            content_type=a.content_type,
            size=a.size,
            sha256=a.sha256,
            by=a.by,
            at=a.at,
        )
        for a in await service.attachments.of_ticket(ticket_id)
    ]


@router.post("/{ticket_id}/judgement", response_model=s.TicketDetailOut)
async def judge(
    user: Supervisor, service: Tickets, ticket_id: int, body: s.JudgeIn
) -> s.TicketDetailOut:
    """投诉认定: 有效/无效/特殊, the reason and the party complained about."""
    rec = await service.judge(
        ticket_id,
        body.validity.value,
        reason=body.reason,
        unit=body.unit,
        agent=body.agent,
        actor=user.name,
        role=user.role,
    )
    return await _detail(service, rec)


@router.post("/{ticket_id}/split", response_model=list[s.TicketOut])
async def split(
    user: AnyUser, service: Tickets, ticket_id: int, body: s.SplitIn
) -> list[s.TicketOut]:
    _no_unit(user)
    await _visible(service, user, ticket_id)
    recs = await service.split(ticket_id, body.units, actor=user.name, role=user.role)
    return [s.ticket_out(r) for r in recs]


@router.post("/{ticket_id}/extension", response_model=s.TicketDetailOut)
async def request_extension(
    user: AnyUser, service: Tickets, tz: Timezone, ticket_id: int, body: s.ExtensionIn
) -> s.TicketDetailOut:
    _allow(user, Action.REQUEST_EXTENSION)
    rec = await _visible(service, user, ticket_id)
    data: dict[str, Any] = {"step": body.step, "new_due": local(tz, body.new_due)}
    if body.unit:
        data["unit_asking"] = body.unit
    _for_whom(user, rec, Action.REQUEST_EXTENSION, data)
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
    _no_unit(user)
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
    _no_unit(user)
    await _visible(service, user, ticket_id)
    rec = await service.dial_followup(ticket_id, actor=user.name, role=user.role)
    return await _detail(service, rec)
