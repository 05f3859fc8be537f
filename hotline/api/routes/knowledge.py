"""The knowledge base (知识库 / 口径) and the notices (停气 / 停水 / 施工 通知). Agents read
published articles, the suggestions for a call and the notices in force; inspectors and up
write articles (采编); supervisors review (审核), publish (发布) and publish notices."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from hotline.api.deps import AnyUser, Calls, Desk, Inspector, Recordings, Supervisor, Transcripts
from hotline.api.desk_calls import customer_words
from hotline.api.desk_schemas import (
    ArticleActionIn,
    ArticleIn,
    ArticleOut,
    NoticeIn,
    NoticeOut,
    SuggestIn,
    SuggestionOut,
    SuggestionsOut,
)
from hotline.api.routes.calls import get_call
from hotline.core.errors import InvalidInput
from hotline.core.roles import Role
from hotline.knowledge import model
from hotline.knowledge.notices import Area
from hotline.knowledge.notices import NoticeIn as NoticeData
from hotline.knowledge.text import split_keywords

router = APIRouter(prefix="/api")


def _data(body: ArticleIn) -> model.ArticleIn:
    return model.ArticleIn(
        body.category,
        body.title,
        body.body,
        tuple(split_keywords(body.keywords)),
        body.valid_from or _now(),
        body.valid_until,
    )


# --- articles -------------------------------------------------------------------------------


@router.get("/knowledge", response_model=list[ArticleOut], tags=["knowledge"])
async def list_articles(
    user: AnyUser,
    desk: Desk,
    state: model.VersionState | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> list[ArticleOut]:
    """Newest version of each article (agents: the published ones only)."""
    if not user.at_least(Role.INSPECTOR):
        state = model.VersionState.PUBLISHED
    return [ArticleOut.of(v) for v in await desk.knowledge.listing(state=state, q=q)]


@router.get("/knowledge/search", response_model=list[SuggestionOut], tags=["knowledge"])
async def search_articles(
    user: AnyUser,
    desk: Desk,
    q: Annotated[str, Query(min_length=1, max_length=500, description="the customer's words")],
) -> list[SuggestionOut]:
    """Published articles valid now, by the sound of the words (homophones found too)."""
    return [SuggestionOut.of(s) for s in await desk.knowledge.search(q, _now())]


@router.post("/knowledge/suggest", response_model=SuggestionsOut, tags=["knowledge"])
async def suggest_for_words(user: AnyUser, desk: Desk, body: SuggestIn) -> SuggestionsOut:
    """Articles for what a customer is saying now (e.g. a live recogniser's utterances)."""
    found = await desk.knowledge.suggest(body.utterances, _now(), limit=desk.suggest_limit)
    return SuggestionsOut(source="utterances", suggestions=[SuggestionOut.of(s) for s in found])


@router.post("/knowledge", response_model=ArticleOut, status_code=201, tags=["knowledge"])
async def create_article(user: Inspector, desk: Desk, body: ArticleIn) -> ArticleOut:
    """采编: a new article, as a draft (version 1)."""
    return ArticleOut.of(await desk.knowledge.draft(_data(body), author=user.name, now=_now()))


@router.get("/knowledge/{article_id}", response_model=list[ArticleOut], tags=["knowledge"])
async def article_versions(user: AnyUser, desk: Desk, article_id: int) -> list[ArticleOut]:
    versions = await desk.knowledge.versions(article_id)
    if not user.at_least(Role.INSPECTOR):
        versions = [v for v in versions if v.state is model.VersionState.PUBLISHED]
    return [ArticleOut.of(v) for v in versions]


@router.post(
    "/knowledge/{article_id}/versions",
    response_model=ArticleOut,
    status_code=201,
    tags=["knowledge"],
)
async def new_version(user: Inspector, desk: Desk, article_id: int, body: ArticleIn) -> ArticleOut:
    """A new draft version; the published one stays in use until this one is published."""
    version = await desk.knowledge.draft(
        _data(body), author=user.name, now=_now(), article_id=article_id
    )
    return ArticleOut.of(version)


@router.put(
    "/knowledge/{article_id}/versions/{version}", response_model=ArticleOut, tags=["knowledge"]
)
async def edit_version(
    user: Inspector, desk: Desk, article_id: int, version: int, body: ArticleIn
) -> ArticleOut:
    changed = await desk.knowledge.edit(
        article_id, version, _data(body), actor=user.name, now=_now()
    )
    return ArticleOut.of(changed)


@router.post(
    "/knowledge/{article_id}/versions/{version}/{action}",
    response_model=ArticleOut,
    tags=["knowledge"],
)
async def act_on_version(
    user: Inspector,
    desk: Desk,
    article_id: int,
    version: int,
    action: model.Action,
    body: ArticleActionIn | None = None,
) -> ArticleOut:
    """submit (提交审核), approve (审核通过) / reject (退回), publish (发布), retire (下线)."""
    try:
        done = await desk.knowledge.act(
            article_id,
            version,
            action,
            actor=user.name,
            role=user.role,
            now=_now(),
            note=body.note if body else None,
        )
    except InvalidInput as exc:
        if exc.error_id != "forbidden_move":
            raise
        raise HTTPException(403, detail={"error": "forbidden", "message": exc.message}) from exc
    return ArticleOut.of(done)


@router.get("/calls/{call_id}/suggestions", response_model=SuggestionsOut, tags=["knowledge"])
async def call_suggestions(
    user: AnyUser,
    calls: Calls,
    desk: Desk,
    recordings: Recordings,
    transcripts: Transcripts,
    call_id: str,
) -> SuggestionsOut:
    """Articles matching what the customer said in the call, once its transcript is ready
    (during the call: POST /api/knowledge/suggest with the words heard so far)."""
    await get_call(user, calls, call_id)
    said = await customer_words(recordings, transcripts, call_id)
    if not said:
        return SuggestionsOut(source="none", suggestions=[])
    found = await desk.knowledge.suggest(said, _now(), limit=desk.suggest_limit)
    return SuggestionsOut(source="transcript", suggestions=[SuggestionOut.of(s) for s in found])


# --- notices --------------------------------------------------------------------------------


@router.get("/notices", response_model=list[NoticeOut], tags=["notices"])
async def list_notices(
    user: AnyUser,
    desk: Desk,
    history: Annotated[bool, Query(description="all notices, expired too (supervisor)")] = False,
) -> list[NoticeOut]:
    """The notices in force now; with history=true every notice ever published."""
    now = _now()
    if history:
        if not user.at_least(Role.SUPERVISOR):
            raise HTTPException(
                403,
                detail={"error": "forbidden", "message": "历史通知需要班长或以上角色 (supervisor)"},
            )
        return [NoticeOut.of(n, now) for n in await desk.notices.history()]
    return [NoticeOut.of(n, now) for n in await desk.notices.in_force(now)]


@router.post("/notices", response_model=NoticeOut, status_code=201, tags=["notices"])
async def publish_notice(user: Supervisor, desk: Desk, body: NoticeIn) -> NoticeOut:
    """Publish an outage / service notice; refused without an end time, or when its area
    covers no customer (unless allow_no_customers, then with a warning)."""
    now = _now()
    data = NoticeData(
        body.kind,
        body.title,
        body.wording,
        Area.make(body.districts, body.streets, body.accounts),
        body.starts_at or now,
        body.ends_at,
    )
    notice = await desk.notices.publish(
        data, actor=user.name, now=now, allow_no_customers=body.allow_no_customers
    )
    return NoticeOut.of(notice, now)


@router.get("/notices/{notice_id}", response_model=NoticeOut, tags=["notices"])
async def get_notice(user: AnyUser, desk: Desk, notice_id: int) -> NoticeOut:
    return NoticeOut.of(await desk.notices.get(notice_id), _now())


@router.post("/notices/{notice_id}/withdraw", response_model=NoticeOut, tags=["notices"])
async def withdraw_notice(user: Supervisor, desk: Desk, notice_id: int) -> NoticeOut:
    now = _now()
    return NoticeOut.of(await desk.notices.withdraw(notice_id, actor=user.name, now=now), now)


def _now() -> datetime:
    return datetime.now(UTC)
