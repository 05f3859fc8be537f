"""The customer file's tables. Rule: only hotline.customers reads or writes them; other
packages read customers through customers/view.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hotline.core.db import Base, UtcDateTime


class CustomerRow(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_no: Mapped[str] = mapped_column(String(32), unique=True)  # 户号, account_key()
    name: Mapped[str] = mapped_column(String(128))
    address: Mapped[str] = mapped_column(String(512))
    district: Mapped[str | None] = mapped_column(String(64), index=True)
    street: Mapped[str | None] = mapped_column(String(128), index=True)
    import_id: Mapped[int | None] = mapped_column(Integer)  # the import that created it
    import_row: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PhoneRow(Base):
    """One number of one customer: a customer has several, a number several customers."""

    __tablename__ = "customer_phones"
    __table_args__ = (
        PrimaryKeyConstraint("customer_id", "number"),
        Index("ix_customer_phones_number", "number"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(String(20))  # phone_key()


class ImportRow(Base):
    """An import job: `cursor` is the number of data rows done (committed with them)."""

    __tablename__ = "customer_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text)  # the uploaded file, kept until the job is done
    status: Mapped[str] = mapped_column(String(16), index=True)
    total_rows: Mapped[int] = mapped_column(Integer)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class RejectRow(Base):
    __tablename__ = "customer_import_rejects"
    __table_args__ = (PrimaryKeyConstraint("import_id", "row_no"),)

    import_id: Mapped[int] = mapped_column(ForeignKey("customer_imports.id", ondelete="CASCADE"))
    row_no: Mapped[int] = mapped_column(Integer)  # the line in the file (header = 1)
    account_no: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class CallLinkRow(Base):
    """The customer of a call, as found or as the agent confirmed it."""

    __tablename__ = "call_customers"

    call_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    source: Mapped[str] = mapped_column(String(16))
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    by: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdentityRow(Base):
    """One identity check of a call (append only: a second try is a new row)."""

    __tablename__ = "identity_checks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(String(64), index=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    agent: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    passed: Mapped[bool] = mapped_column(Boolean)
    confirmed: Mapped[str] = mapped_column(Text)  # JSON list of detail names
    note: Mapped[str | None] = mapped_column(Text)


class CustomerAuditRow(Base):
    """Who did what to, or saw what of, a customer's file."""

    __tablename__ = "customer_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
