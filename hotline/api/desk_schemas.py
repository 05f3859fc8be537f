"""The agent's desk over HTTP: customers, imports, identity checks, notices, knowledge.
Rule: a customer's full file (`CustomerOut`) is only returned by routes that checked the
role or the call's identity check; everything else shows the `CustomerCard` (户号, the
first character of the name, the district)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from hotline.api.schemas import Out
from hotline.api.ticket_schemas import CallerHistoryOut
from hotline.customers.importer import ImportJob
from hotline.customers.model import DETAIL_LABELS, Customer, masked_name
from hotline.knowledge.model import STATE_LABELS, ArticleVersion, Suggestion
from hotline.knowledge.notices import KIND_LABELS, Notice, NoticeKind


class CustomerIn(BaseModel):
    account_no: str = Field(min_length=1, max_length=64, description="户号")
    name: str = Field(min_length=1, max_length=128)
    address: str = Field(min_length=1, max_length=512)
    phones: list[str] = Field(default_factory=list, max_length=10)
    district: str | None = Field(None, max_length=64)
    street: str | None = Field(None, max_length=128)


class CustomerOut(Out):
    id: int
    account_no: str
    name: str
    address: str
    phones: list[str]
    district: str | None
    street: str | None
    created_at: datetime
    updated_at: datetime


class CustomerCard(BaseModel):
    id: int
    account_no: str
    name: str  # masked: 张*
    district: str | None

    @classmethod
    def of(cls, c: Customer) -> CustomerCard:
        return cls(id=c.id, account_no=c.account_no, name=masked_name(c.name), district=c.district)


class ImportOut(Out):
    id: int
    filename: str
    status: str
    total_rows: int
    cursor: int
    accepted: int
    rejected: int
    percent: float
    error: str | None
    started_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, j: ImportJob) -> ImportOut:
        return cls.model_validate(j)


class RejectOut(Out):
    row_no: int
    account_no: str | None
    reason: str


class LinkOut(Out):
    customer_id: int | None
    source: str
    confirmed: bool
    by: str | None
    at: datetime


class LinkIn(BaseModel):
    customer_id: int | None = Field(description="the caller's customer; null: not in the file")


class CandidateOut(BaseModel):
    customer: CustomerCard
    source: str  # number | spoken


class IdentityIn(BaseModel):
    confirmed: list[str] = Field(
        default_factory=list, max_length=10, description="reserved details the caller matched"
    )
    could_not: bool = Field(False, description="the caller could not confirm their details")
    note: str | None = Field(None, max_length=500)


class IdentityOut(Out):
    id: int
    call_id: str
    customer_id: int
    agent: str
    at: datetime
    passed: bool
    confirmed: list[str]
    note: str | None


class DetailOut(BaseModel):
    key: str
    label: str


class IdentityPolicyOut(BaseModel):
    details: list[DetailOut]
    required: int

    @classmethod
    def of(cls, details: tuple[str, ...], required: int) -> IdentityPolicyOut:
        return cls(
            details=[DetailOut(key=d, label=DETAIL_LABELS[d]) for d in details], required=required
        )


class NoticeIn(BaseModel):
    kind: NoticeKind
    title: str = Field(min_length=1, max_length=200)
    wording: str = Field(min_length=1, max_length=4000, description="口径 agents must use")
    districts: list[str] = Field(default_factory=list, max_length=200)
    streets: list[str] = Field(default_factory=list, max_length=500)
    accounts: list[str] = Field(default_factory=list, max_length=100_000)
    starts_at: datetime | None = Field(None, description="default: now")
    ends_at: datetime | None = Field(None, description="expected recovery (required)")
    allow_no_customers: bool = Field(False, description="publish though the area has none")


class NoticeOut(BaseModel):
    id: int
    kind: str
    kind_label: str
    title: str
    wording: str
    districts: list[str]
    streets: list[str]
    accounts: int  # how many 户号 are listed
    affected: int
    starts_at: datetime
    ends_at: datetime
    state: str
    published_by: str
    published_at: datetime
    withdrawn_by: str | None
    withdrawn_at: datetime | None
    warnings: list[str]

    @classmethod
    def of(cls, n: Notice, now: datetime) -> NoticeOut:
        return cls(
            id=n.id,
            kind=n.kind.value,
            kind_label=KIND_LABELS[n.kind.value],
            title=n.title,
            wording=n.wording,
            districts=list(n.area.districts),
            streets=list(n.area.streets),
            accounts=len(n.area.accounts),
            affected=n.affected,
            starts_at=n.starts_at,
            ends_at=n.ends_at,
            state=n.state(now).value,
            published_by=n.published_by,
            published_at=n.published_at,
            withdrawn_by=n.withdrawn_by,
            withdrawn_at=n.withdrawn_at,
            warnings=list(n.warnings),
        )


class CallCustomerOut(BaseModel):
    call_id: str
    caller_number: str | None
    link: LinkOut | None
    customer: CustomerCard | None
    candidates: list[CandidateOut]
    verified: bool
    checks: list[IdentityOut]
    policy: IdentityPolicyOut
    notices: list[NoticeOut]  # in force where the caller lives


class AccountOut(BaseModel):
    customer: CustomerOut
    history: CallerHistoryOut  # over all the customer's numbers and linked calls


class ArticleIn(BaseModel):
    category: str = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000, description="the answer (口径)")
    keywords: list[str] = Field(default_factory=list, max_length=50)
    valid_from: datetime | None = Field(None, description="default: now")
    valid_until: datetime | None = None


class ArticleActionIn(BaseModel):
    note: str | None = Field(None, max_length=1000)


class ArticleOut(Out):
    id: int
    article_id: int
    version: int
    state: str
    state_label: str
    category: str
    title: str
    body: str
    keywords: list[str]
    valid_from: datetime
    valid_until: datetime | None
    author: str
    reviewer: str | None
    review_note: str | None
    created_at: datetime
    reviewed_at: datetime | None
    published_at: datetime | None

    @classmethod
    def of(cls, v: ArticleVersion) -> ArticleOut:
        return cls(
            id=v.id,
            article_id=v.article_id,
            version=v.version,
            state=v.state.value,
            state_label=STATE_LABELS[v.state.value],
            category=v.category,
            title=v.title,
            body=v.body,
            keywords=list(v.keywords),
            valid_from=v.valid_from,
            valid_until=v.valid_until,
            author=v.author,
            reviewer=v.reviewer,
            review_note=v.review_note,
            created_at=v.created_at,
            reviewed_at=v.reviewed_at,
            published_at=v.published_at,
        )


class SuggestionOut(BaseModel):
    article: ArticleOut
    score: float
    matched: list[str]

    @classmethod
    def of(cls, s: Suggestion) -> SuggestionOut:
        return cls(article=ArticleOut.of(s.version), score=s.score, matched=list(s.matched))


class SuggestIn(BaseModel):
    utterances: list[str] = Field(min_length=1, max_length=200, description="customer's words")


class SuggestionsOut(BaseModel):
    source: str  # transcript | none
    suggestions: list[SuggestionOut]
