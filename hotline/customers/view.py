"""How other packages read the customer file. Rule: outside hotline.customers a customer is
read through this module only (the statements below run in the caller's session), never
through the customers tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select

from hotline.customers.model import account_key
from hotline.customers.tables import CustomerRow


def in_area(
    districts: Sequence[str], streets: Sequence[str], accounts: Sequence[str]
) -> ColumnElement[bool]:
    """Customers in an area: their district is one of `districts`, their street or address
    names one of `streets`, or their 户号 is listed."""
    terms: list[Any] = []
    if districts:
        terms.append(CustomerRow.district.in_(list(districts)))
        terms.extend(CustomerRow.address.contains(d, autoescape=True) for d in districts)
    for s in streets:
        terms.append(CustomerRow.street == s)
        terms.append(CustomerRow.address.contains(s, autoescape=True))
    if accounts:
        terms.append(CustomerRow.account_no.in_([account_key(a) for a in accounts]))
    return or_(*terms) if terms else false()


def count_in_area(
    districts: Sequence[str], streets: Sequence[str], accounts: Sequence[str]
) -> Select[int]:
    return (
        select(func.count()).select_from(CustomerRow).where(in_area(districts, streets, accounts))
    )


def customer_in_area(
    customer_id: int, districts: Sequence[str], streets: Sequence[str], accounts: Sequence[str]
) -> Select[int]:
    """The id of the customer if they are in the area, else no row."""
    return select(CustomerRow.id).where(
        CustomerRow.id == customer_id, in_area(districts, streets, accounts)
    )
