"""One ticket's page: the draft refined from the transcript with each field's evidence (click
to hear it), edit, the lifecycle buttons and the 回访 list.

Rule: every read and change is the API route that does the same (`api/routes/tickets.py`),
called with the same user and service dependencies, so an agent opening another agent's
ticket gets the API's 404, an action above their role its 403 and an illegal move its 409.
The buttons shown are the ticket's allowed actions that the user's role may take; a button
shown wrongly still meets the API's checks.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from hotline.api.deps import AnyUser, Recordings, Tickets, Timezone
from hotline.api.recording_schemas import RecordingOut
from hotline.api.routes import recordings as recordings_routes
from hotline.api.routes import tickets as tickets_routes
from hotline.api.ticket_schemas import TicketDetailOut, TicketIn
from hotline.api.users import User
from hotline.core.errors import Conflict, InvalidInput, NotFound, Unavailable
from hotline.core.roles import RANK, Role
from hotline.tickets.lifecycle import ACTION_LABELS, MIN_ROLE, UNIT_ACTIONS, Action
from hotline.tickets.model import CATEGORY_LABELS, SOURCE_LABELS, Source
from hotline.web import ticket_forms as tf
from hotline.web.render import page

router = APIRouter(include_in_schema=False)

# 延期 has endpoints of its own (a step and a new deadline): not buttons of this page yet.
PAGE_ACTIONS = tuple(
    a for a in Action if a not in (Action.REQUEST_EXTENSION, Action.APPROVE_EXTENSION)
)


def buttons(user: User, ticket: TicketDetailOut) -> list[Action]:
    """The ticket's allowed actions that the user's role may take, in the table's order."""
    out: list[Action] = []
    for name in ticket.allowed_actions:
        action = Action(name)
        unit_step = user.role is Role.UNIT and action in UNIT_ACTIONS
        if action in PAGE_ACTIONS and (RANK[user.role] >= RANK[MIN_ROLE[action]] or unit_step):
            out.append(action)
    return out


async def _recording(
    user: User, recordings: Recordings, ticket: TicketDetailOut
) -> RecordingOut | None:
    if ticket.recording_id is None:
        return None
    try:
        return await recordings_routes.get_recording(user, recordings, ticket.recording_id)
    except NotFound:
        return None


async def _panel(
    request: Request,
    user: User,
    recordings: Recordings,
    ticket: TicketDetailOut,
    *,
    template: str = "agent/ticket_panel.html",
    message: str | None = None,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    context = {
        "t": ticket,
        "r": await _recording(user, recordings, ticket),
        "buttons": buttons(user, ticket),
        "action_labels": {a.value: label for a, label in ACTION_LABELS.items()},
        "action_inputs": {a.value: v for a, v in tf.ACTION_INPUTS.items()},
        "categories": {c.value: label for c, label in CATEGORY_LABELS.items()},
        "field_kinds": tf.FIELD_KINDS,
        "satisfaction": tf.SATISFACTION,
        "followup_results": tf.FOLLOWUP_RESULTS,
        "levels": tf.LEVELS,
        "message": message,
        "errors": errors or {},
        "failed": failed,  # which form the errors belong to: edit, an action, followup
        "form": form or {},
    }
    return page(request, template, context, status_code=422 if errors else 200)


def _refused(exc: Conflict) -> HTTPException:
    """A 409 whose text the page shows as it is (the Chinese part of the domain message)."""
    return HTTPException(409, detail={"error": exc.error_id, "message": tf.chinese(exc.message)})


def _new_form(
    request: Request, form: dict[str, str], errors: dict[str, str], status_code: int = 200
) -> Response:
    context = {
        "form": form,
        "errors": errors,
        "sources": {s.value: SOURCE_LABELS[s] for s in Source if s is not Source.PHONE},
        "categories": {c.value: label for c, label in CATEGORY_LABELS.items()},
    }
    return page(request, "agent/ticket_new.html", context, status_code=status_code)


@router.get("/tickets/new")
async def new_ticket_page(request: Request, user: AnyUser) -> Response:
    """By hand: a ticket from a 12345 transfer, WeChat, web message, letter or visit."""
    return _new_form(request, {}, {})


@router.post("/tickets/new")
async def new_ticket(request: Request, user: AnyUser, service: Tickets, tz: Timezone) -> Response:
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    try:
        body = TicketIn.model_validate(
            {
                "source": form.get("source", ""),
                "source_ref": form.get("source_ref") or None,
                "category": form.get("category", ""),
                "summary": (form.get("summary") or "").strip(),
                "caller_number": form.get("caller_number") or None,
                "followup_declined": form.get("followup_declined") == "true",
            }
        )
    except ValidationError as exc:
        names = {str(e["loc"][0]) for e in exc.errors()}
        errors = {n: "请填写" + {"summary": "诉求内容"}.get(n, "此项") for n in names}
        return _new_form(request, form, errors, status_code=422)
    try:
        created = await tickets_routes.create_ticket(user, service, tz, body)
    except InvalidInput as exc:
        field = "source_ref" if "单号" in exc.message else "summary"
        return _new_form(request, form, {field: tf.chinese(exc.message)}, status_code=422)
    return RedirectResponse(f"/tickets/{created.id}", status_code=303)


@router.get("/tickets/{ticket_id}")
async def ticket_page(
    request: Request, user: AnyUser, service: Tickets, recordings: Recordings, ticket_id: int
) -> Response:
    ticket = await tickets_routes.get_ticket(user, service, ticket_id)  # the API's 404
    return await _panel(request, user, recordings, ticket, template="agent/ticket.html")


@router.post("/tickets/{ticket_id}/edit")
async def edit(
    request: Request, user: AnyUser, service: Tickets, recordings: Recordings, ticket_id: int
) -> Response:
    current = await tickets_routes.get_ticket(user, service, ticket_id)
    form = await request.form()
    patch, errors = tf.read_edit(form, current)
    if patch is None:
        typed = {k: v for k, v in form.items() if isinstance(v, str)}
        return await _panel(
            request, user, recordings, current, errors=errors, failed="edit", form=typed
        )
    try:
        ticket = await tickets_routes.edit_ticket(user, service, ticket_id, patch)
    except InvalidInput as exc:
        errors = {"summary": tf.chinese(exc.message)}
        return await _panel(request, user, recordings, current, errors=errors, failed="edit")
    except Conflict as exc:
        raise _refused(exc) from None
    return await _panel(request, user, recordings, ticket, message="已保存修改")


@router.post("/tickets/{ticket_id}/actions/{action}")
async def act(
    request: Request,
    user: AnyUser,
    service: Tickets,
    recordings: Recordings,
    ticket_id: int,
    action: str,
) -> Response:
    try:
        act_ = Action(action)
    except ValueError:
        raise NotFound(f"没有“{action}”这个工单操作，请从工单页面的按钮操作") from None
    body, errors = tf.read_action(await request.form())
    field = tf.ACTION_INPUTS.get(act_, ("reason", ""))[0]
    if body is None:
        current = await tickets_routes.get_ticket(user, service, ticket_id)
        return await _panel(request, user, recordings, current, errors=errors, failed=act_.value)
    try:
        ticket = await tickets_routes.act(user, service, ticket_id, action, body)
    except InvalidInput as exc:
        current = await tickets_routes.get_ticket(user, service, ticket_id)
        errors = {field: tf.chinese(exc.message)}
        return await _panel(request, user, recordings, current, errors=errors, failed=act_.value)
    except Conflict as exc:
        raise _refused(exc) from None
    return await _panel(request, user, recordings, ticket, message=f"已{ACTION_LABELS[act_]}")


@router.post("/tickets/{ticket_id}/followups/dial")
async def dial_followup(
    request: Request, user: AnyUser, service: Tickets, recordings: Recordings, ticket_id: int
) -> Response:
    try:
        ticket = await tickets_routes.dial_followup(user, service, ticket_id)
    except (InvalidInput, Conflict, Unavailable) as exc:
        current = await tickets_routes.get_ticket(user, service, ticket_id)
        text = tf.chinese(exc.message)
        if isinstance(exc, Unavailable):
            text += "：请用电话手动拨打客户，再在下方记录回访结果"
        errors = {"dial": text}
        return await _panel(request, user, recordings, current, errors=errors, failed="followup")
    return await _panel(request, user, recordings, ticket, message="已发起回访呼叫")


@router.post("/tickets/{ticket_id}/followups")
async def record_followup(
    request: Request, user: AnyUser, service: Tickets, recordings: Recordings, ticket_id: int
) -> Response:
    body, errors = tf.read_followup(await request.form())
    if body is not None:
        try:
            ticket = await tickets_routes.record_followup(user, service, ticket_id, body)
        except (InvalidInput, Conflict) as exc:  # e.g. too soon after the last try
            errors = {"result": tf.chinese(exc.message)}
        else:
            return await _panel(request, user, recordings, ticket, message="已记录回访结果")
    current = await tickets_routes.get_ticket(user, service, ticket_id)
    return await _panel(request, user, recordings, current, errors=errors, failed="followup")
