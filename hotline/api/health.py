"""Liveness and readiness. Rule: anyone may ask whether Hotline lives and is ready, but only
a signed-in supervisor or admin sees why not (error text can name hosts, paths, users).

`/api/health` (liveness): the process answers; 200 with each part's state in one word.
`/api/ready` (readiness): 200 when the database answers, every background loop runs, the
switch and the broker (when configured) are connected and the archive disk is writable
with room; else 503. Both list each loop, the database, the AMI link, the broker and the
archive disk.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import text

from hotline.api.auth import bearer, current_user
from hotline.api.users import User
from hotline.core.roles import Role

router = APIRouter(prefix="/api", tags=["health"])

MIN_FREE_BYTES = 256 * 1024 * 1024  # the archive disk is "full" below this


@dataclass(frozen=True, slots=True)
class Part:
    name: str
    state: str  # one word anyone may see: ok, disabled, connecting, down, full, ...
    ok: bool  # counts for readiness
    detail: str | None = None  # for supervisors and admins only


async def _database(c: Any) -> Part:
    try:
        async with asyncio.timeout(3):
            async with c.sessions() as session:
                await session.execute(text("SELECT 1"))
        return Part("database", "ok", True)
    except Exception as exc:
        return Part("database", "unavailable", False, f"{type(exc).__name__}: {exc}"[:300])


def _link(name: str, client: Any) -> Part:
    if client is None:
        return Part(name, "disabled", True)
    if client.connected:
        return Part(name, "connected", True)
    return Part(name, "connecting", False)


def archive_disk(root: Path, min_free: int = MIN_FREE_BYTES) -> Part:
    """The archive folder exists, is writable and has room."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(root)
    except OSError as exc:
        return Part("archive_disk", "unavailable", False, f"{root}: {exc}")
    if not os.access(root, os.W_OK):
        return Part("archive_disk", "read_only", False, f"{root} is not writable")
    free_mb = usage.free // (1024 * 1024)
    if usage.free < min_free:
        return Part("archive_disk", "full", False, f"{root}: {free_mb} MB free")
    return Part("archive_disk", "ok", True, f"{root}: {free_mb} MB free")


def _loops(c: Any) -> list[Part]:
    parts = []
    for s in c.loops.states():
        detail = f"restarted {s.restarts} time(s)" + (
            f"; last: {s.last_error}" if s.last_error else ""
        )
        parts.append(
            Part(f"loop:{s.name}", "running" if s.running else "restarting", s.running, detail)
        )
    return parts


async def check(c: Any) -> list[Part]:
    parts = [await _database(c), _link("ami", c.ami), _link("broker", c.mqtt)]
    parts.append(await asyncio.to_thread(archive_disk, c.archive_root))
    parts.extend(_loops(c))
    return parts


async def _viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User | None:
    """The signed-in user, if any (no 401 here: health is public)."""
    try:
        return await current_user(request, credentials)
    except HTTPException:
        return None


Viewer = Annotated[User | None, Depends(_viewer)]


def _body(c: Any, parts: list[Part], viewer: User | None) -> dict[str, Any]:
    ready = all(p.ok for p in parts)
    trusted = viewer is not None and viewer.at_least(Role.SUPERVISOR)
    body: dict[str, Any] = {"status": "ok" if ready else "degraded"}
    loops: dict[str, str] = {}
    for p in parts:
        if p.name.startswith("loop:"):
            loops[p.name.removeprefix("loop:")] = p.state
        else:
            body[p.name] = p.state
    body["mqtt"] = body["broker"]  # the older name
    body["loops"] = loops
    body["leader"] = c.leadership.leading
    body["instance"] = c.instance if trusted else None
    body["open_calls"] = len(c.call_service.tracker.open_calls())
    body["queued_events"] = c.queue.qsize()
    if trusted:
        body["details"] = {p.name: p.detail for p in parts if p.detail}
    return body


@router.get("/health")
async def health(request: Request, viewer: Viewer) -> dict[str, Any]:
    """Liveness: the process answers (always 200); each part's state in one word."""
    c = request.app.state.container
    return _body(c, await check(c), viewer)


@router.get("/ready", responses={503: {"description": "a part is not ready"}})
async def ready(request: Request, viewer: Viewer) -> JSONResponse:
    """Readiness: 200 when every part is ready, 503 (with which is not) otherwise."""
    c = request.app.state.container
    parts = await check(c)
    body = _body(c, parts, viewer)
    body["not_ready"] = [p.name for p in parts if not p.ok]
    return JSONResponse(body, status_code=200 if not body["not_ready"] else 503)
