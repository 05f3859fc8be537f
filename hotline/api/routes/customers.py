"""The customer file (客户档案): customers, imports, the customer of a call, the identity
check and the account details it unlocks. Supervisors keep the file; an agent reaches a
customer only through their own call, and the account only after the identity check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, UploadFile
from fastapi.responses import Response

from hotline.api.audit import Action
from hotline.api.deps import (
    AnyUser,
    Audit,
    Calls,
    Desk,
    Recordings,
    Supervisor,
    Tickets,
    Transcripts,
)
from hotline.api.desk_calls import customer_history, customer_words
from hotline.api.desk_schemas import (
    AccountOut,
    CallCustomerOut,
    CandidateOut,
    CustomerCard,
    CustomerIn,
    CustomerOut,
    IdentityIn,
    IdentityOut,
    IdentityPolicyOut,
    ImportOut,
    LinkIn,
    LinkOut,
    NoticeOut,
    RejectOut,
)
from hotline.api.routes.calls import get_call
from hotline.api.schemas import CallOut
from hotline.api.users import User
from hotline.core.errors import InvalidInput
from hotline.core.roles import Role
from hotline.customers import model
from hotline.customers.desk import IdentityRequired
from hotline.customers.importer import template_csv

router = APIRouter(prefix="/api", tags=["customers"])
MAX_UPLOAD = 512 * 1024 * 1024
# where a customer file is uploaded (API and page): the body limit lets these be large
UPLOAD_PATHS = ("/api/customers/imports", "/customers/imports")


def _data(body: CustomerIn) -> model.CustomerIn:
    return model.CustomerIn.make(
        body.account_no, body.name, body.address, body.phones, body.district, body.street
    )


def _out(c: model.Customer) -> CustomerOut:
    return CustomerOut.model_validate(c)


# --- the file: supervisors ----------------------------------------------------------------


@router.get("/customers", response_model=list[CustomerOut])
async def find_customers(
    user: Supervisor,
    desk: Desk,
    q: Annotated[str, Query(min_length=1, max_length=200, description="户号, 电话, 姓名或地址")],
) -> list[CustomerOut]:
    found = await desk.customers.find(q)
    await desk.customers.audit(user.name, "search", _now(), detail=q[:200])
    return [_out(c) for c in found]


@router.post("/customers", response_model=CustomerOut, status_code=201)
async def create_customer(user: Supervisor, desk: Desk, body: CustomerIn) -> CustomerOut:
    return _out(await desk.customers.create(_data(body), actor=user.name, at=_now()))


@router.get("/customer-audit", tags=["audit"])
async def customer_audit(
    user: Supervisor,
    desk: Desk,
    customer_id: int | None = None,
    call_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, object]]:
    entries = await desk.customers.audit_log(customer_id=customer_id, call_id=call_id, limit=limit)
    return [
        {
            "id": e.id,
            "at": e.at,
            "actor": e.actor,
            "action": e.action,
            "customer_id": e.customer_id,
            "call_id": e.call_id,
            "detail": e.detail,
        }
        for e in entries
    ]


@router.get("/customers/import-template.csv")
async def import_template(user: Supervisor) -> Response:
    return Response(
        template_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="customers.csv"'},
    )


@router.post("/customers/imports", response_model=ImportOut, status_code=202)
async def start_import(
    user: Supervisor, desk: Desk, file: Annotated[UploadFile, File(description="CSV or XLSX")]
) -> ImportOut:
    content = await file.read(MAX_UPLOAD + 1)
    if len(content) > MAX_UPLOAD:
        raise InvalidInput("导入文件过大：最大512MB，请拆分后分批导入 (file too large)")
    job = await desk.importer.create(file.filename or "upload.csv", content, actor=user.name)
    desk.importer.start(job.id)
    return ImportOut.of(job)


@router.get("/customers/imports", response_model=list[ImportOut])
async def list_imports(user: Supervisor, desk: Desk) -> list[ImportOut]:
    return [ImportOut.of(j) for j in await desk.importer.jobs()]


@router.get("/customers/imports/{import_id}", response_model=ImportOut)
async def get_import(user: Supervisor, desk: Desk, import_id: int) -> ImportOut:
    return ImportOut.of(await desk.importer.get(import_id))


@router.post("/customers/imports/{import_id}/resume", response_model=ImportOut)
async def resume_import(user: Supervisor, desk: Desk, import_id: int) -> ImportOut:
    job = await desk.importer.get(import_id)
    desk.importer.start(job.id)
    return ImportOut.of(job)


@router.get("/customers/imports/{import_id}/rejects", response_model=list[RejectOut])
async def import_rejects(
    user: Supervisor,
    desk: Desk,
    import_id: int,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> list[RejectOut]:
    await desk.importer.get(import_id)
    rejects = await desk.importer.rejects(import_id, offset=offset, limit=limit)
    return [RejectOut.model_validate(r) for r in rejects]


@router.get("/customers/{customer_id}", response_model=AccountOut)
async def get_customer(
    user: Supervisor, desk: Desk, tickets: Tickets, calls: Calls, audit: Audit, customer_id: int
) -> AccountOut:
    customer = await desk.customers.require(customer_id)
    await desk.customers.audit(user.name, "view", _now(), customer_id=customer_id)
    await audit(user, Action.CUSTOMER_ACCOUNT, detail=f"customer={customer.account_no}")
    history = await customer_history(customer, desk.customers, tickets, calls)
    return AccountOut(customer=_out(customer), history=history)


@router.put("/customers/{customer_id}", response_model=CustomerOut)
async def update_customer(
    user: Supervisor, desk: Desk, customer_id: int, body: CustomerIn
) -> CustomerOut:
    return _out(await desk.customers.update(customer_id, _data(body), actor=user.name, at=_now()))


@router.delete("/customers/{customer_id}", status_code=204)
async def delete_customer(user: Supervisor, desk: Desk, customer_id: int) -> Response:
    await desk.customers.delete(customer_id, actor=user.name, at=_now())
    return Response(status_code=204)


# --- the customer of a call: the agent on it ----------------------------------------------


async def _on_call(user: User, calls: Calls, call_id: str, *, act: bool = False) -> CallOut:
    """The call, if the user may see it; to act on it (link, identity, account) the user is
    its agent or a supervisor."""
    call = await get_call(user, calls, call_id)
    mine = user.agent is not None and user.agent in (call.agent_member, call.agent_interface)
    if act and not (mine or user.at_least(Role.SUPERVISOR)):
        raise HTTPException(
            403,
            detail={
                "error": "forbidden",
                "message": "只有接听本通话的坐席或班长可以核实身份、关联客户和查看账户 "
                "(only the call's agent or a supervisor)",
            },
        )
    return call


@router.get("/calls/{call_id}/customer", response_model=CallCustomerOut)
async def call_customer(
    user: AnyUser,
    calls: Calls,
    desk: Desk,
    recordings: Recordings,
    transcripts: Transcripts,
    call_id: str,
) -> CallCustomerOut:
    """Who the caller is: the linked customer (found by the number or a 户号 the caller said,
    or confirmed by the agent), the other candidates, the identity check, and the notices in
    force where the caller lives."""
    call = await _on_call(user, calls, call_id)
    said = await customer_words(recordings, transcripts, call_id) or []
    state = await desk.desk.for_call(call_id, call.caller_number, said)
    now = _now()
    covering = [state.customer] if state.customer else [c.customer for c in state.candidates]
    notices: dict[int, NoticeOut] = {}
    for c in covering:
        for n in await desk.notices.for_customer(c.id, now):
            notices.setdefault(n.id, NoticeOut.of(n, now))
    policy = desk.desk.policy
    return CallCustomerOut(
        call_id=call_id,
        caller_number=call.caller_number,
        link=LinkOut.model_validate(state.link) if state.link else None,
        customer=CustomerCard.of(state.customer) if state.customer else None,
        candidates=[
            CandidateOut(customer=CustomerCard.of(c.customer), source=c.source.value)
            for c in state.candidates
        ],
        verified=state.verified,
        checks=[IdentityOut.model_validate(c) for c in state.checks],
        policy=IdentityPolicyOut.of(policy.details, policy.required),
        notices=list(notices.values()),
    )


@router.put("/calls/{call_id}/customer", response_model=LinkOut)
async def link_customer(
    user: AnyUser, calls: Calls, desk: Desk, call_id: str, body: LinkIn
) -> LinkOut:
    """The agent confirms or corrects the customer of the call (null: not in the file)."""
    await _on_call(user, calls, call_id, act=True)
    link = await desk.desk.confirm(call_id, body.customer_id, agent=user.name)
    return LinkOut.model_validate(link)


@router.post("/calls/{call_id}/identity", response_model=IdentityOut, status_code=201)
async def check_identity(
    user: AnyUser, calls: Calls, desk: Desk, audit: Audit, call_id: str, body: IdentityIn
) -> IdentityOut:
    """Record that the caller confirmed the reserved details (which ones), or could not."""
    await _on_call(user, calls, call_id, act=True)
    check = await desk.desk.check_identity(
        call_id, agent=user.name, confirmed=body.confirmed, could_not=body.could_not, note=body.note
    )
    outcome = "passed" if check.passed else "failed"
    await audit(
        user,
        Action.IDENTITY_CHECK,
        detail=f"call={call_id} customer={check.customer_id} {outcome}: "
        + (",".join(check.confirmed) or "-"),
    )
    return IdentityOut.model_validate(check)


@router.get("/calls/{call_id}/customer/account", response_model=AccountOut)
async def call_account(
    user: AnyUser, calls: Calls, desk: Desk, tickets: Tickets, audit: Audit, call_id: str
) -> AccountOut:
    """The caller's full file and history: only after the identity check of this call."""
    await _on_call(user, calls, call_id, act=True)
    try:
        customer = await desk.desk.account(call_id, agent=user.name)
    except IdentityRequired as exc:
        raise HTTPException(403, detail={"error": exc.error_id, "message": exc.message}) from exc
    await audit(user, Action.CUSTOMER_ACCOUNT, detail=f"call={call_id} customer={customer.id}")
    history = await customer_history(customer, desk.customers, tickets, calls, exclude_call=call_id)
    return AccountOut(customer=_out(customer), history=history)


def _now() -> datetime:
    return datetime.now(UTC)
