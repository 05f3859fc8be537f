"""The live wallboard (实时监控大屏). Rule: the page itself carries no figures; the browser
draws them from the live API's own SSE stream (`GET /api/live/events`, first a snapshot,
then every change), so what a supervisor may see is decided once, by `live_feed.View`.

This module only says where the red lines are: thresholds from the query string, checked
and explained in Chinese next to the field when wrong, with the hotline's ring rule as the
default for how long an agent's phone may ring, and the pause reasons the agents' 示忙
pickers offer (the supervision API's list).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.deps import Rule, Supervision, Supervisor
from hotline.api.routes import supervision as supervision_routes
from hotline.web.forms import parse_query
from hotline.web.render import page

router = APIRouter(include_in_schema=False)

MAX_WAIT_S = 60  # a caller waiting longer turns the queue red
MIN_WITHIN_PCT = 80.0  # today's share answered within 3 rings below this turns it red
MAX_WAITING = 5  # more callers waiting than this turns it red


class Thresholds(BaseModel):
    max_wait: int = Field(MAX_WAIT_S, ge=1, le=3600)
    min_within: float = Field(MIN_WITHIN_PCT, ge=0, le=100)
    max_waiting: int = Field(MAX_WAITING, ge=0, le=1000)
    max_ring: int | None = Field(None, ge=1, le=600)


HINTS = {
    "max_wait": "请输入 1 到 3600 之间的秒数",
    "min_within": "请输入 0 到 100 之间的百分比",
    "max_waiting": "请输入 0 到 1000 之间的整数",
    "max_ring": "请输入 1 到 600 之间的秒数",
}


@router.get("/wallboard")
async def wallboard(
    request: Request, user: Supervisor, rule: Rule, service: Supervision
) -> Response:
    limits, errors = parse_query(request, Thresholds)
    max_ring = limits.max_ring or round(rule.period_s * rule.max_rings)
    context: dict[str, Any] = {
        "limits": limits,
        "max_ring": max_ring,
        "errors": {k: HINTS.get(k, v) for k, v in errors.items()},
        "rings": rule.max_rings,
        # the actions per agent (示忙 with a reason, 签出, 监听…) post to /api/supervision/
        "pause_reasons": await supervision_routes.pause_reasons(user, service),
    }
    return page(request, "supervisor/wallboard.html", context)
