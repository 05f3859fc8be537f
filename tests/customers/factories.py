"""Customers for tests."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.customers.model import Customer

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def customer(
    cid: int,
    account_no: str,
    name: str = "张三",
    address: str = "西湖区文三路1号",
    phones: tuple[str, ...] = ("13800138000",),
    district: str | None = "西湖区",
    street: str | None = "文三路",
) -> Customer:
    return Customer(cid, account_no, name, address, phones, district, street, T0, T0)
