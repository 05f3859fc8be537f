"""Masking personal data (PIPL: 对客户资料严格保密). Rule: one pure module decides how a
phone number, a 户号, an ID number or an address looks to someone who may not see it
whole, and which parts of a record are such data; callers only choose whether to apply it
(by role, at the edge where a record leaves: the API's JSON, an export, an MQTT payload).

    mask_phone("13800138000") == "138****8000"
    mask_account("0012345678") == "******5678"
    mask_id("110101199003071234") == "110***********1234"
    mask_address("幸福路12号3单元501") == "幸福路1****"

Free text (a summary, a transcript line, a reason) has the numbers in it masked: mobile
and landline numbers, ID numbers and any run of 7 or more digits (户号, card numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# keys of a JSON record whose string value is a caller's phone number
PHONE_KEYS = frozenset(
    {"caller_number", "number", "customer_number", "callerid", "caller_id_num", "connected_number"}
)
# keys whose string value is free text that may hold numbers the customer said
TEXT_KEYS = frozenset(
    {
        "text",
        "summary",
        "reason",
        "note",
        "reply",
        "snippet",
        "content",
        "contact",
        "close_reason",
        "decision_reason",
        "verdict_comment",
        "caller_name",
    }
)
ADDRESS_KEYS = frozenset({"address"})

_ID = re.compile(r"(?<!\d)(\d{6})(\d{8})(\d{3}[\dXx])(?!\d)")
_DIGITS = re.compile(
    r"(?<![\dA-Za-z.])(?:"
    r"\+?86[- ]?1[3-9]\d[- ]?\d{4}[- ]?\d{4}"  # +86 138-0013-8000
    r"|1[3-9]\d[- ]\d{4}[- ]\d{4}"  # 138 0013 8000
    r"|0\d{2,3}-\d{7,8}"  # 0755-12345678
    r"|\d{7,}"  # 13800138000, 户号, card numbers
    r")(?![\dA-Za-z])"
)


def mask_phone(value: str) -> str:
    """138****8000; a landline 0755****1234; a short service number (95598) stays."""
    if "*" in value:
        return value  # masked already
    digits = re.sub(r"\D", "", value)
    if len(digits) < 7:
        return value
    if len(digits) >= 11:
        return digits[:3] + "****" + digits[-4:]
    return digits[: len(digits) - 8 if len(digits) > 8 else 0] + "****" + digits[-4:]


def mask_account(value: str) -> str:
    """户号 / 账号: only the last four shown."""
    v = value.strip()
    if "*" in v:
        return v
    return "*" * max(len(v) - 4, 4) + v[-4:] if len(v) > 4 else "****"


def mask_id(value: str) -> str:
    """身份证号: the first three and the last four shown."""
    v = value.strip()
    if "*" in v:
        return v
    return v[:3] + "*" * max(len(v) - 7, 4) + v[-4:] if len(v) > 7 else "****"


def mask_address(value: str) -> str:
    """The start of the address (its street or district, up to a third of it, at most six
    characters), the rest hidden."""
    v = value.strip()
    if v.endswith("****"):
        return v
    keep = min(6, max(1, len(v) // 3)) if len(v) > 2 else 0
    return v[:keep] + "****"


def mask_text(value: str) -> str:
    """Numbers in free text: ID numbers, then any run of 7+ digits (phone, 户号)."""
    value = _ID.sub(lambda m: mask_id(m.group(0)), value)
    return _DIGITS.sub(lambda m: mask_phone(m.group(0)), value)


# a ticket field {"kind": ..., "value": ...}: how each kind is masked
BY_KIND: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "account": mask_account,
    "address": mask_address,
    "id_number": mask_id,
}


def mask_tree(data: Any) -> Any:
    """A JSON-like record with its personal data masked: phone keys, free-text keys,
    addresses, and ticket fields by their kind. Returns a new structure."""
    if isinstance(data, list):
        return [mask_tree(x) for x in data]
    if not isinstance(data, dict):
        return data
    kind = data.get("kind")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, str):
            if key == "value" and isinstance(kind, str) and kind in BY_KIND:
                out[key] = BY_KIND[kind](value)
            elif key in PHONE_KEYS:
                out[key] = mask_phone(value)
            elif key in ADDRESS_KEYS:
                out[key] = mask_address(value)
            elif key in TEXT_KEYS:
                out[key] = mask_text(value)
            else:
                out[key] = value
        elif key == "evidence" and isinstance(value, dict) and isinstance(kind, str):
            out[key] = {**value, "text": mask_text(str(value.get("text", "")))}
        else:
            out[key] = mask_tree(value)
    return out


def unmask(sent: str, originals: Iterable[str], mask: Callable[[str], str]) -> str:
    """What a client sent back, with a value it was only shown masked restored: if `sent`
    is the masked form of one of `originals`, that original, else `sent` itself (so
    editing a masked record never overwrites the data with its mask)."""
    if "*" not in sent:
        return sent
    return next((o for o in originals if o != sent and mask(o) == sent), sent)


def mask_json_text(text: str | None) -> str | None:
    """A JSON document (as stored in a Text column) with `mask_tree` applied."""
    if not text:
        return text
    import json

    try:
        data = json.loads(text)
    except ValueError:
        return mask_text(text)
    return json.dumps(mask_tree(data), ensure_ascii=False)


def sees_whole(role: str, whole_roles: Iterable[str]) -> bool:
    """Whether someone of `role` sees personal data unmasked (security.whole_pii_roles)."""
    return role in set(whole_roles)
