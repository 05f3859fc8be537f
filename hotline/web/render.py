"""Rendering pages: one Jinja2 environment with the filters every page uses. Rule: a page
gets the signed-in user, the role's menu and the session's CSRF token from here, never by
building them itself."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from hotline.api.sessions import WebSession
from hotline.web import labels
from hotline.web.menu import current, menu_for

TEMPLATES = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES))


def timezone(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.container.settings.timezone)


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    total = round(value)
    minutes, seconds = divmod(total, 60)
    return f"{minutes}分{seconds:02d}秒" if minutes else f"{seconds}秒"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


templates.env.filters["seconds"] = _seconds
templates.env.filters["pct"] = _pct
templates.env.globals["labels"] = labels
templates.env.globals["label"] = labels.label


def page(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    """The template `name` with the user, menu, CSRF token and local time filled in."""
    session: WebSession | None = getattr(request.state, "web_session", None)
    user = session.user if session is not None else None
    tz = timezone(request)

    def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
        return "—" if value is None else value.astimezone(tz).strftime(fmt)

    ctx: dict[str, Any] = {
        "user": user,
        "csrf_token": session.csrf_token if session is not None else "",
        "menu": menu_for(user) if user is not None else [],
        "is_current": lambda item: current(request.url.path, item),
        "local": local,
        "role_name": labels.ROLES.get(user.role, "") if user is not None else "",
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
