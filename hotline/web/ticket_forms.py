"""What an agent types into a ticket's forms. Rule: the form is read here once into the API's
own request shapes (`TicketPatch`, `ActionIn`, `FollowupIn`); what is wrong is said in
Chinese next to the field it came from, and the API's own checks stay the API's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from hotline.api.ticket_schemas import ActionIn, FieldIO, FollowupIn, TicketDetailOut, TicketPatch
from hotline.tickets.lifecycle import NEEDS_REASON, NEEDS_TEXT, NEEDS_UNIT, Action
from hotline.tickets.model import FieldKind

FIELD_KINDS = {
    FieldKind.PHONE.value: "电话号码",
    FieldKind.ACCOUNT.value: "户号/账号",
    FieldKind.ADDRESS.value: "地址",
    FieldKind.DATETIME.value: "日期时间",
}
SATISFACTION = {"satisfied": "满意", "basically": "基本满意", "unsatisfied": "不满意"}
FOLLOWUP_RESULTS = {"reached": "已联系上客户", "unreachable": "无法联系"}
LEVELS = {1: "一级（重大）", 2: "二级（一般）", 3: "三级（轻度）"}
# the words of each action's one input, and which input that is
ACTION_INPUTS: dict[Action, tuple[str, str]] = {
    **{a: ("reason", "原因") for a in NEEDS_REASON},
    **{a: ("reason", "承办单位的答复") for a in NEEDS_TEXT},
    Action.RESOLVE_ON_SPOT: ("reason", "已答复客户的内容"),
    **{a: ("unit", "承办单位") for a in NEEDS_UNIT},
    Action.CLOSE: ("satisfaction", "客户满意度"),
}
M = TypeVar("M", bound=BaseModel)
_ENGLISH_TAIL = re.compile(r"\s*\([^()]*[A-Za-z][^()]*\)\s*$")


def chinese(message: str) -> str:
    """A domain message without its English explanation in brackets at the end."""
    return _ENGLISH_TAIL.sub("", message).strip() or message


def _problems(exc: ValidationError, names: Mapping[str, str] | None = None) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        loc = [str(p) for p in e["loc"]]
        key = (names or {}).get(loc[0], loc[0]) if loc else ""
        if e["type"] == "string_too_long":
            errors[key] = "内容过长，请缩短"
        elif e["type"].startswith(("enum", "literal", "int", "less", "greater")):
            errors[key] = "请从列表中选择"
        else:
            errors[key] = "请检查这一项"
    return errors


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def read_edit(
    form: FormData, current: TicketDetailOut
) -> tuple[TicketPatch | None, dict[str, str]]:
    """The changes the edit form makes to `current` (only what differs), or the problems."""
    errors: dict[str, str] = {}
    raw: dict[str, Any] = {
        "category": _text(form, "category") or None,
        "summary": _text(form, "summary"),
        "unit": _text(form, "unit") or None,
        "complaint_level": _text(form, "complaint_level") or None,
    }
    fields: list[dict[str, Any]] = []
    kinds, values = form.getlist("field_kind"), form.getlist("field_value")
    texts, starts = form.getlist("field_evidence"), form.getlist("field_start")
    ends = form.getlist("field_end")
    for i, (kind, value) in enumerate(zip(kinds, values, strict=False)):
        value = str(value).strip()
        if not value:
            errors[f"field_{i}"] = "请填写内容；不需要这一项请勾选“删除”"
            continue
        if str(i) in form.getlist("field_remove"):
            continue
        start = str(starts[i]) if i < len(starts) else ""
        end = str(ends[i]) if i < len(ends) else ""
        fields.append(
            {
                "kind": str(kind),
                "value": value,
                "evidence": {
                    "text": str(texts[i]) if i < len(texts) else "",
                    "start": float(start) if start else None,
                    "end": float(end) if end else None,
                },
            }
        )
    if "summary" in form and not raw["summary"]:
        errors["summary"] = "请填写工单摘要：客户反映的问题"
    try:
        patch = TicketPatch.model_validate(raw)
    except ValidationError as exc:
        errors.update(_problems(exc))
        return None, errors
    try:
        new_fields = [FieldIO.model_validate(f) for f in fields]
    except ValidationError:
        errors["fields"] = "提取字段有误，请刷新页面后重试"
    if errors:
        return None, errors
    changes: dict[str, Any] = {}
    for key in ("category", "summary", "unit", "complaint_level"):
        value = getattr(patch, key)
        value = value.value if hasattr(value, "value") else value
        if key in form and value != getattr(current, key):  # a field not sent: unchanged
            changes[key] = value
    now = [f.model_dump() for f in new_fields]
    if "field_value" in form and now != [f.model_dump() for f in current.fields]:
        changes["fields"] = new_fields
    if not changes:
        return None, {"summary": "没有修改任何内容"}
    return TicketPatch(**changes), {}


def read_action(form: FormData) -> tuple[ActionIn | None, dict[str, str]]:
    raw = {
        "reason": _text(form, "reason") or None,
        "unit": _text(form, "unit") or None,
        "satisfaction": _text(form, "satisfaction") or None,
    }
    return _model(ActionIn, raw)


def read_followup(form: FormData) -> tuple[FollowupIn | None, dict[str, str]]:
    raw = {
        "result": _text(form, "result"),
        "satisfaction": _text(form, "satisfaction") or None,
        "note": _text(form, "note") or None,
    }
    if raw["result"] not in FOLLOWUP_RESULTS:
        return None, {"result": "请选择回访结果"}
    return _model(FollowupIn, raw)


def _model(model: type[M], raw: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    try:
        return model.model_validate(raw), {}
    except ValidationError as exc:
        return None, _problems(exc)
