"""The supervisor actions log page (坐席操作记录): who paused, resumed, logged out or listened
to which agent, when, and what the switch answered. Rule: it lists what the supervision
API's own route returns (`GET /api/supervision/actions`, supervisors and up), filtered as
that route filters; the actions themselves are posted by the live pages to the API.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.deps import Supervision, Supervisor
from hotline.api.routes import supervision as supervision_routes
from hotline.web.forms import parse_query
from hotline.web.render import page

router = APIRouter(include_in_schema=False)

ACTIONS = {
    "pause": "示忙",
    "unpause": "恢复",
    "logout": "签出",
    "listen": "监听",
    "whisper": "耳语",
    "barge": "强插",
}
OUTCOMES = {
    "done": "已执行",
    "refused": "被拒绝",
    "unavailable": "未执行（交换机未应答）",
}
LIMIT = 200


class ActionsQuery(BaseModel):
    agent: str | None = Field(None, max_length=128)
    actor: str | None = Field(None, max_length=64)


@router.get("/supervision/actions")
async def actions_page(request: Request, user: Supervisor, service: Supervision) -> Response:
    """Newest first, at most LIMIT rows (narrow them with the filters)."""
    q, errors = parse_query(request, ActionsQuery)
    found = await supervision_routes.actions(
        user, service, agent=q.agent, actor=q.actor, limit=LIMIT
    )
    context: dict[str, Any] = {
        "q": q,
        "errors": errors,
        "items": found,
        "limit": LIMIT,
        "actions": ACTIONS,
        "outcomes": OUTCOMES,
    }
    return page(request, "supervisor/actions.html", context)
