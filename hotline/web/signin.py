"""Sign in and sign out. Rule: a session is opened only for a verified password, its cookie
is HttpOnly, SameSite=Lax and Secure over TLS, and `next` only ever leads back into this
site."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from hotline.api.auth import AnyUser, session_store
from hotline.api.sessions import COOKIE
from hotline.api.users import UserStore
from hotline.web.render import page
from hotline.web.throttle import LoginThrottle

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a path on this site, never elsewhere nor back to /login."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if value == "/login" or value.startswith(("/login?", "/logout")):
        return "/"
    return value


def login_url(next_path: str, *, expired: bool = False) -> str:
    url = f"/login?next={quote(safe_next(next_path), safe='')}"
    return url + "&expired=1" if expired else url


def is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle = request.app.state.web_login_throttle
    return throttle


@router.get("/login")
async def login_form(request: Request, next: str = "/", expired: bool = False) -> Response:
    return page(
        request,
        "login.html",
        {"next": safe_next(next), "expired": expired, "username": "", "errors": {}},
    )


@router.post("/login")
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    username = username.strip()
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "请输入用户名"
    if not password:
        errors["password"] = "请输入密码"
    now = datetime.now(UTC)
    remote = request.client.host if request.client else "unknown"
    keys = (f"name:{username.lower()}", f"addr:{remote}")
    throttle = _throttle(request)
    if not errors:
        wait = throttle.wait_for(keys, now)
        if wait is not None:
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            errors["password"] = f"尝试次数过多，请 {minutes} 分钟后再试"
    if not errors:
        users: UserStore = request.app.state.container.users
        user = await users.by_password(username, password)
        if user is None:
            throttle.failed(keys, now)
            await asyncio.sleep(throttle.delay)
            errors["password"] = "用户名或密码不正确，请重新输入（忘记密码请联系管理员重置）"
        else:
            throttle.succeeded(keys[0])
            store = session_store(request)
            assert store is not None
            session_id, _ = await store.open(user, now)
            response = RedirectResponse(safe_next(next), status_code=303)
            response.set_cookie(
                COOKIE,
                session_id,
                httponly=True,
                samesite="lax",
                secure=is_https(request),
                path="/",
            )
            return response
    return page(
        request,
        "login.html",
        {"next": safe_next(next), "expired": False, "username": username, "errors": errors},
        status_code=400 if "username" in errors or "请输入" in errors.get("password", "") else 401,
    )


@router.post("/logout")
async def logout(request: Request, user: AnyUser) -> Response:
    cookie = request.cookies.get(COOKIE)
    store = session_store(request)
    if cookie and store is not None:
        await store.close(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response
