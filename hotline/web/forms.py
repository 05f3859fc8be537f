"""Filters typed into a page's form. Rule: what a person typed is parsed here once, and
what is wrong is said in Chinese next to the field it came from, never as a bare 422."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

PAGE_SIZE = 50

HINTS = {
    datetime: "请输入正确的日期时间，例如 2024-11-23 10:00",
    int: "请输入整数",
    bool: "请选择列表中的一项",
}


def _hint(model: type[BaseModel], field: str) -> str:
    info = model.model_fields.get(field)
    annotation = str(info.annotation) if info is not None else ""
    for kind, hint in HINTS.items():
        if kind.__name__ in annotation:
            return hint
    return "请从列表中选择，或按提示修改"


def parse_query(request: Request, model: type[M]) -> tuple[M, dict[str, str]]:
    """`model` from the query string (empty fields left out), and the problems per field.
    With problems, the fields that were fine are kept and the others dropped."""
    raw: dict[str, Any] = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    try:
        return model.model_validate(raw), {}
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            if e["type"] == "string_too_long":
                errors[field] = "内容过长，请缩短"
            else:
                errors[field] = _hint(model, field)
        kept = {k: v for k, v in raw.items() if k not in errors}
        return model.model_validate(kept), errors


def page_offset(page: int) -> int:
    return (page - 1) * PAGE_SIZE


def query_without(request: Request, *names: str) -> str:
    """The current query string without `names` (for links to other pages of a list)."""
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in names])
