"""The customer's file as plain data, and the pure rules on it. Rule: every phone number and
every 户号 is compared in its normalized form (`phone_key`, `account_key`), in the store, in
an import and in what a caller said, so one number is never two.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from hotline.core.errors import InvalidInput

MAX_PHONES = 10
_NOT_DIGIT = re.compile(r"\D+")
_ACCOUNT = re.compile(r"^[0-9A-Za-z-]{4,32}$")


def phone_key(number: str) -> str:
    """A phone number as it is stored and looked up: digits only, the country code of a
    mainland number (+86, 0086, 86 before 11 digits) dropped. '' when no digit."""
    digits = _NOT_DIGIT.sub("", number)
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits


def account_key(account: str) -> str:
    """A 户号 as stored: spaces removed, upper case."""
    return re.sub(r"\s+", "", account).upper()


def check_account(account: str) -> str:
    key = account_key(account)
    if not _ACCOUNT.match(key):
        raise InvalidInput(
            f"户号「{account}」格式不对：应为4到32位数字或字母 (the account number must be 4 to "
            "32 digits or letters)"
        )
    return key


def check_phones(numbers: Iterable[str]) -> tuple[str, ...]:
    keys: list[str] = []
    for n in numbers:
        k = phone_key(n)
        if not 5 <= len(k) <= 20:
            raise InvalidInput(
                f"电话号码「{n}」不对：应为5到20位数字 (a phone number has 5 to 20 digits)"
            )
        if k not in keys:
            keys.append(k)
    if len(keys) > MAX_PHONES:
        raise InvalidInput(f"电话号码过多：一户最多{MAX_PHONES}个 (at most {MAX_PHONES} numbers)")
    return tuple(keys)


def split_phones(cell: str) -> list[str]:
    """The numbers of one import cell: separated by ; , / 、 or spaces."""
    return [p for p in re.split(r"[;,/、，；\s]+", cell.strip()) if p]


@dataclass(frozen=True, slots=True)
class CustomerIn:
    """A customer as given (API or an import row), already checked and normalized."""

    account_no: str
    name: str
    address: str
    phones: tuple[str, ...]
    district: str | None = None
    street: str | None = None

    @classmethod
    def make(
        cls,
        account_no: str,
        name: str,
        address: str,
        phones: Sequence[str],
        district: str | None = None,
        street: str | None = None,
    ) -> CustomerIn:
        name, address = name.strip(), address.strip()
        if not name:
            raise InvalidInput("姓名为空：请填写客户姓名或单位名称 (the name is empty)")
        if not address:
            raise InvalidInput("地址为空：请填写用气/用水地址 (the address is empty)")
        return cls(
            check_account(account_no),
            name[:128],
            address[:512],
            check_phones(phones),
            (district or "").strip()[:64] or None,
            (street or "").strip()[:128] or None,
        )


@dataclass(frozen=True, slots=True)
class Customer:
    id: int
    account_no: str
    name: str
    address: str
    phones: tuple[str, ...]
    district: str | None
    street: str | None
    created_at: datetime
    updated_at: datetime


def masked_name(name: str) -> str:
    """The name as shown before the identity check: the first character, the rest as *."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


# --- what a caller said: 户号 in the customer's words --------------------------------------

_SPOKEN_DIGITS = str.maketrans(
    {
        "零": "0",
        "〇": "0",
        "洞": "0",
        "幺": "1",
        "一": "1",
        "两": "2",
        "二": "2",
        "三": "3",
        "四": "4",
        "五": "5",
        "六": "6",
        "七": "7",
        "拐": "7",
        "八": "8",
        "九": "9",
    }
)
_RUN = re.compile(r"[0-9A-Za-z]{6,32}")


def spoken_accounts(texts: Iterable[str]) -> list[str]:
    """The digit runs (6 to 32 long) a caller said, Chinese digits read one by one (幺三八 ->
    138), spaces and punctuation between them ignored, in the order said, each once."""
    found: list[str] = []
    for text in texts:
        flat = re.sub(r"[\s,，、.。-]+", "", text.translate(_SPOKEN_DIGITS))
        for m in _RUN.finditer(flat):
            key = account_key(m.group())
            if key not in found:
                found.append(key)
    return found


# --- link of a call to its customer --------------------------------------------------------


class LinkSource(StrEnum):
    NUMBER = "number"  # the caller's number is one of the customer's
    SPOKEN = "spoken"  # the caller said the 户号
    AGENT = "agent"  # the agent confirmed or chose it


@dataclass(frozen=True, slots=True)
class Candidate:
    customer: Customer
    source: LinkSource


def candidates(by_number: Sequence[Customer], by_spoken: Sequence[Customer]) -> list[Candidate]:
    """The customers a call may belong to: a 户号 the caller said first (it names one
    account), then those of the number; each customer once."""
    out: list[Candidate] = []
    seen: set[int] = set()
    for source, group in ((LinkSource.SPOKEN, by_spoken), (LinkSource.NUMBER, by_number)):
        for c in group:
            if c.id not in seen:
                seen.add(c.id)
                out.append(Candidate(c, source))
    return out


@dataclass(frozen=True, slots=True)
class CallLink:
    call_id: str
    customer_id: int | None  # None: the agent said it is no customer of the file
    source: LinkSource
    confirmed: bool
    by: str | None
    at: datetime


# --- identity check (核实身份) --------------------------------------------------------------

DETAIL_LABELS = {
    "name": "姓名",
    "address": "地址",
    "account_no": "户号",
    "phone": "预留电话",
    "id_last4": "证件号后四位",
}


@dataclass(frozen=True, slots=True)
class IdentityPolicy:
    """Which reserved details count, and how many of them the caller must confirm."""

    details: tuple[str, ...] = ("name", "address", "account_no", "phone")
    required: int = 2

    def __post_init__(self) -> None:
        unknown = [d for d in self.details if d not in DETAIL_LABELS]
        if unknown or not 1 <= self.required <= len(self.details):
            raise ValueError(
                f"identity policy: details must be among {sorted(DETAIL_LABELS)} and required "
                f"between 1 and their number (got {self.details}, {self.required})"
            )

    def judge(self, confirmed: Iterable[str], could_not: bool) -> tuple[bool, tuple[str, ...]]:
        """Whether the check passed, and the confirmed details that count (in policy order).
        A detail the policy does not know is refused, so a typo never passes a check."""
        given = list(dict.fromkeys(confirmed))
        unknown = [d for d in given if d not in self.details]
        if unknown:
            allowed = "、".join(f"{d}({DETAIL_LABELS[d]})" for d in self.details)
            raise InvalidInput(
                f"核实项目「{'、'.join(unknown)}」不在核实规则内，可选：{allowed} "
                "(unknown identity detail)"
            )
        counted = tuple(d for d in self.details if d in given)
        if could_not:
            return False, counted
        return len(counted) >= self.required, counted


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    id: int
    call_id: str
    customer_id: int
    agent: str
    at: datetime
    passed: bool
    confirmed: tuple[str, ...]
    note: str | None
