"""The home page, one per role. Rule: each part of it is what the API route of the same
data returns for this user, called as the API calls it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from hotline.api.auth import AnyUser
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import recordings as recordings_routes
from hotline.api.users import Role
from hotline.web.render import page, timezone

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home(request: Request, user: AnyUser) -> Response:
    today = (
        datetime.now(UTC)
        .astimezone(timezone(request))
        .replace(hour=0, minute=0, second=0, microsecond=0)
    )
    calls = await calls_routes.list_calls(request, user, limit=10)
    context: dict[str, object] = {"calls": calls, "stats": None, "audit": None}
    if user.at_least(Role.SUPERVISOR):
        report = await calls_routes.service_level(
            request, user, since=today, until=today + timedelta(days=1), by="all"
        )
        context["stats"] = report.rows[0] if report.rows else None
    if user.at_least(Role.ADMIN):
        context["audit"] = await recordings_routes.audit_log(request, user, limit=10)
    return page(request, "home.html", context)
