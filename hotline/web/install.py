"""Installs the browser workspace on the API's app. Rule: pages and the JSON API share the
app, its services and its permission checks; only how an error is shown differs (a page
for people, JSON under /api/)."""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hotline.api.sessions import SessionStore
from hotline.core.errors import HotlineError
from hotline.web import (
    agent,
    calls_pages,
    desk_pages,
    pages,
    quality_pages,
    records_pages,
    report_pages,
    signin,
    supervision_pages,
    supervisor_pages,
    wallboard_pages,
)
from hotline.web.render import page
from hotline.web.throttle import LoginThrottle

STATIC = Path(__file__).resolve().parent / "static"
ROUTERS = (
    signin.router,
    pages.router,
    calls_pages.router,
    records_pages.router,
    quality_pages.router,  # branch review: 质检 queue and review page
    wallboard_pages.router,  # branch supervisor: live wallboard
    supervisor_pages.router,  # branch supervisor: callbacks, tickets needing attention
    report_pages.router,  # branch supervisor: service-level, quality, ticket, agent reports
    agent.router,  # branch agentws: 来电弹屏, tickets, my scores
    supervision_pages.router,  # branch webactions: the supervisor actions log
    desk_pages.router,  # issue 16: customer file, identity check, notices, knowledge
)


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path == "/api" or path.startswith(("/api/", "/docs", "/openapi", "/redoc"))


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _message(detail: Any, fallback: str) -> str:
    message = detail.get("message") if isinstance(detail, dict) else None
    return message if isinstance(message, str) else fallback


def _error_page(request: Request, status: int, message: str) -> Response:
    if _is_htmx(request):
        return PlainTextResponse(message, status_code=status)
    title = {403: "无权操作", 404: "未找到", 409: "暂时无法操作"}.get(status, "出错了")
    return page(
        request,
        "error.html",
        {"status": status, "title": title, "message": message},
        status_code=status,
    )


class PageHeaders:
    """Pages are never cached (the back button after sign-out asks the server again, which
    sends it to sign in) and never framed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path or path.startswith(("/static/", "/api/")):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message["headers"] if k.lower() != b"cache-control"]
                headers += [
                    (b"cache-control", b"no-store"),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


async def _call(handler: Any, request: Request, exc: Exception) -> Response:
    """The API's own handler for `exc` (handlers may be sync or async)."""
    result = handler(request, exc)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, Response)
    return result


def install(app: FastAPI) -> None:
    """Mount the pages, static files, sessions and HTML error pages on `app`."""
    container = app.state.container
    idle = timedelta(minutes=container.settings.web.idle_minutes)
    app.state.web_sessions = SessionStore(container.sessions, idle)
    app.state.web_login_throttle = LoginThrottle()
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(PageHeaders)

    api_http = app.exception_handlers.get(StarletteHTTPException)
    api_http_fastapi = app.exception_handlers.get(HTTPException)
    api_domain = app.exception_handlers.get(HotlineError)
    api_invalid = app.exception_handlers.get(RequestValidationError)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if _is_api(request):
            handler = api_http_fastapi if isinstance(exc, HTTPException) else None
            handler = handler or api_http
            assert handler is not None
            result = await _call(handler, request, exc)
            return result
        if exc.status_code == 401:
            expired = isinstance(exc.detail, dict) and exc.detail.get("error") == "session_expired"
            where = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            if _is_htmx(request):
                where = request.headers.get("hx-current-url", where)
                if "://" in where:
                    where = "/" + where.split("://", 1)[1].split("/", 1)[-1]
                target = signin.login_url(where, expired=expired)
                return PlainTextResponse(
                    "请重新登录", status_code=401, headers={"HX-Redirect": target}
                )
            return RedirectResponse(signin.login_url(where, expired=expired), status_code=303)
        fallback = "页面不存在，请从菜单进入" if exc.status_code == 404 else "请求无法完成"
        return _error_page(request, exc.status_code, _message(exc.detail, fallback))

    async def domain_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HotlineError) and api_domain is not None
        result = await _call(api_domain, request, exc)
        if _is_api(request):
            return result
        return _error_page(request, result.status_code, exc.message)

    async def invalid_request(request: Request, exc: Exception) -> Response:
        assert api_invalid is not None
        result = await _call(api_invalid, request, exc)
        if _is_api(request):
            return result
        return _error_page(request, 404, "页面不存在：地址中的编号有误，请从列表进入")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(HotlineError, domain_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
