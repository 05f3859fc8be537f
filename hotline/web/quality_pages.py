"""质检 pages: the review queue and one call's review page (player, transcript, hits, score,
history, appeals). Rule: every read and every decision goes through the quality API's own
route function and its role dependency, so who may see or decide what is written once,
in hotline/api/routes/quality.py; this module only arranges what those return.

A repeated click is harmless: a verdict the hit already has, a finalise of a finalised
score, or a decision on a closed appeal redraws the page's state instead of acting again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from hotline.api.audit import Auditor
from hotline.api.deps import (
    AnyUser,
    Inspector,
    Quality,
    Recordings,
    Settings,
    Timezone,
    Transcripts,
    auditor,
)
from hotline.api.quality_schemas import (
    AppealOut,
    CommentIn,
    HitOut,
    ReasonIn,
    ScoreDetailOut,
    VerdictIn,
)
from hotline.api.recording_schemas import RecordingOut
from hotline.api.routes import quality as quality_routes
from hotline.api.routes import recordings as recordings_routes
from hotline.api.routes import transcripts as transcripts_routes
from hotline.api.users import Role, User
from hotline.asr.store import TranscriptStore
from hotline.asr.transcript import Transcript, normalize
from hotline.core.errors import Conflict, HotlineError, InvalidInput, NotFound
from hotline.quality.reports import rule_name
from hotline.quality.store import QualityStore
from hotline.recording.store import RecordingStore
from hotline.web.forms import parse_query
from hotline.web.render import page, templates

router = APIRouter(include_in_schema=False)


def _clock(seconds: float | None) -> str:
    """mm:ss of a position in the recording."""
    if seconds is None:
        return "—"
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"


templates.env.filters["clock"] = _clock

LOW_CONF = 0.6  # words heard with less confidence are shown as such
REASONS = {"needs_review": "待复核", "low_score": "低分", "sample": "抽查"}
VERDICTS = {"pending": "待定", "confirmed": "已确认", "overturned": "已推翻"}
APPEAL_STATES = {
    "open": "处理中",
    "withdrawn": "已撤销",
    "accepted": "已同意",
    "rejected": "已驳回",
}
CHANNELS = {"customer": "客户", "agent": "坐席", "mixed": "混合", "call": "整通"}


# --- what the page shows ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordView:
    text: str
    conf: float
    low: bool
    space_before: bool


@dataclass(frozen=True, slots=True)
class LineView:
    channel: str
    start: float
    end: float
    text: str
    words: tuple[WordView, ...]  # empty: show `text`
    hits: tuple[int, ...]  # ids of the hits heard in this utterance


@dataclass(frozen=True, slots=True)
class HitView:
    hit: HitOut
    number: int  # 1-based, in the order shown
    name: str
    severity: float
    appeals: tuple[AppealOut, ...]

    @property
    def open_appeal(self) -> AppealOut | None:
        return next((a for a in self.appeals if a.state == "open"), None)


@dataclass(frozen=True, slots=True)
class RecordingView:
    r: RecordingOut | None
    peaks_url: str | None = None
    audio_url: str | None = None
    channel_names: tuple[str, ...] = field(default_factory=tuple)


def severity(h: HitOut) -> tuple[int, float, int, float]:
    """Most severe first: instant fail, then the most points, then needs review, then time."""
    return (
        0 if h.instant_fail else 1,
        -max(h.points, h.deduction),
        0 if h.needs_review else 1,
        h.start,
    )


def hit_views(d: ScoreDetailOut) -> list[HitView]:
    ordered = sorted(d.hits, key=severity)
    return [
        HitView(
            hit=h,
            number=i + 1,
            name=rule_name(h.rule),
            severity=max(h.points, h.deduction),
            appeals=tuple(a for a in d.appeals if a.hit_id == h.id),
        )
        for i, h in enumerate(ordered)
    ]


def _ascii_word(text: str) -> bool:
    return bool(text) and text.isascii() and text[0].isalnum()


def _words(raw: Any) -> tuple[WordView, ...]:
    out: list[WordView] = []
    prev = ""
    for w in raw:
        text = normalize(w.word)
        if not text:
            continue
        out.append(
            WordView(text, w.conf, w.conf < LOW_CONF, _ascii_word(prev) and _ascii_word(text))
        )
        prev = text
    return tuple(out)


def _overlaps(h: HitOut, channel: str, start: float, end: float) -> bool:
    same = h.channel == channel or channel == "mixed"
    return same and h.start < end + 0.05 and h.end > start - 0.05


def transcript_lines(transcript: dict[str, Any] | None, hits: list[HitOut]) -> list[LineView]:
    """Both channels in time order, each utterance with its words and the hits in it."""
    if not transcript:
        return []
    t = Transcript.from_dict(transcript)
    lines = []
    for u in t.utterances:
        if not u.normalized:
            continue
        channel = u.channel.value
        lines.append(
            LineView(
                channel=channel,
                start=u.start,
                end=u.end,
                text=u.normalized,
                words=_words(u.words),
                hits=tuple(h.id for h in hits if _overlaps(h, channel, u.start, u.end)),
            )
        )
    return lines


# --- the review queue ------------------------------------------------------------------------


class QueueQuery(BaseModel):
    period: str | None = Field(None, max_length=16)
    agent: str | None = Field(None, max_length=128)
    queue: str | None = Field(None, max_length=128)
    band: str | None = Field(None, max_length=32)


@router.get("/quality")
async def quality_queue(
    request: Request, user: AnyUser, quality: Quality, tz: Timezone, settings: Settings
) -> Response:
    """Inspectors: the review queue. Others: their own scored calls (the API's list)."""
    q, errors = parse_query(request, QueueQuery)
    context: dict[str, Any] = {
        "q": q,
        "errors": errors,
        "queue": None,
        "items": [],
        "mine": None,
        "reasons": REASONS,
    }
    if not user.at_least(Role.INSPECTOR):
        context["mine"] = await quality_routes.list_scores(
            user, quality, tz, band=q.band, limit=200
        )
        return page(request, "quality_queue.html", context)
    try:
        queue = await quality_routes.review_queue(
            user, quality, tz, settings, period=q.period, limit=1000
        )
    except InvalidInput:
        errors["period"] = "期间格式：日 2024-11-23、周 2024-W47 或月 2024-11"
        queue = await quality_routes.review_queue(user, quality, tz, settings, limit=1000)
    items = [
        i
        for i in queue.items
        if (not q.agent or q.agent in (i.call.agent or ""))
        and (not q.queue or q.queue == i.call.queue)
        and (not q.band or q.band == i.call.band)
    ]
    context.update(queue=queue, items=items)
    return page(request, "quality_queue.html", context)


# --- one call --------------------------------------------------------------------------------


async def _recording(user: User, recordings: RecordingStore, d: ScoreDetailOut) -> RecordingView:
    if d.recording_id is None:
        return RecordingView(None)
    r = await recordings_routes.get_recording(user, recordings, d.recording_id)
    if r.status != "archived":
        return RecordingView(r)
    names = ("customer", "agent") if r.channels == 2 else ("mixed",)
    return RecordingView(
        r,
        peaks_url=f"/api/recordings/{r.id}/peaks",
        audio_url=f"/api/recordings/{r.id}/audio",
        channel_names=names,
    )


async def _lines(
    user: User,
    recordings: RecordingStore,
    transcripts: TranscriptStore,
    audit: Auditor,
    d: ScoreDetailOut,
) -> tuple[list[LineView], str]:
    """The transcript lines, or why there are none."""
    if d.recording_id is None:
        return [], "这通电话没有录音，因此没有转写。"
    try:
        t = await transcripts_routes.recording_transcript(
            user, recordings, transcripts, audit, d.recording_id
        )
    except NotFound:
        return [], "这通电话尚无转写：录音归档后会自动转写。"
    if t.status != "done":
        return [], f"转写未完成（{t.status}）{('：' + t.reason) if t.reason else ''}"
    return transcript_lines(t.transcript, d.hits), ""


def _state_context(
    d: ScoreDetailOut, user: User, errors: dict[str, str] | None = None, message: str = ""
) -> dict[str, Any]:
    hits = hit_views(d)
    return {
        "d": d,
        "hits": hits,
        "can_decide": user.at_least(Role.INSPECTOR),
        "is_agent": user.agent is not None and not user.at_least(Role.INSPECTOR),
        "finalised": d.call.status == "finalised",
        "errors": errors or {},
        "message": message,
        "labels_q": {
            "verdicts": VERDICTS,
            "appeals": APPEAL_STATES,
            "channels": CHANNELS,
            "reasons": REASONS,
        },
    }


@router.get("/quality/calls/{call_id}")
async def review_page(
    request: Request,
    user: AnyUser,
    quality: Quality,
    recordings: Recordings,
    transcripts: Transcripts,
    call_id: str,
) -> Response:
    d = await quality_routes.get_score(
        user, quality, transcripts, auditor(request), call_id
    )  # the API's 404
    lines, no_lines = await _lines(user, recordings, transcripts, auditor(request), d)
    recording = await _recording(user, recordings, d)
    context = _state_context(d, user)
    context.update(recording=recording, lines=lines, no_lines=no_lines)
    return page(request, "quality_review.html", context)


def _state(
    request: Request,
    user: User,
    d: ScoreDetailOut,
    *,
    errors: dict[str, str] | None = None,
    message: str = "",
) -> Response:
    """The parts of the page a decision changes (hits, score, history, appeals), swapped
    in by htmx out of band; 422 when a field needs fixing."""
    return page(
        request,
        "quality_state.html",
        _state_context(d, user, errors, message),
        status_code=422 if errors else 200,
    )


async def _verdict(
    request: Request,
    user: User,
    quality: QualityStore,
    transcripts: TranscriptStore,
    call_id: str,
    hit_id: int,
    verdict: str,
    comment: str,
) -> Response:
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    hit = next((h for h in d.hits if h.id == hit_id), None)
    if hit is not None and hit.verdict == verdict and not comment.strip():
        return _state(request, user, d)  # a second click: already so
    body = VerdictIn(comment=comment.strip() or None)
    decide = quality_routes.confirm_hit if verdict == "confirmed" else quality_routes.overturn_hit
    d = await decide(user, quality, transcripts, call_id, hit_id, body)
    word = "已确认" if verdict == "confirmed" else "已推翻"
    return _state(request, user, d, message=f"{word}：{rule_name(hit.rule) if hit else hit_id}")


Comment = Annotated[str, Form(max_length=2000)]


@router.post("/quality/calls/{call_id}/hits/{hit_id}/confirm")
async def post_confirm(
    request: Request,
    user: Inspector,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    hit_id: int,
    comment: Comment = "",
) -> Response:
    return await _verdict(
        request, user, quality, transcripts, call_id, hit_id, "confirmed", comment
    )


@router.post("/quality/calls/{call_id}/hits/{hit_id}/overturn")
async def post_overturn(
    request: Request,
    user: Inspector,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    hit_id: int,
    comment: Comment = "",
) -> Response:
    return await _verdict(
        request, user, quality, transcripts, call_id, hit_id, "overturned", comment
    )


@router.post("/quality/calls/{call_id}/comments")
async def post_comment(
    request: Request,
    user: Inspector,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    text: Comment = "",
    hit_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    if not text.strip():
        d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
        return _state(request, user, d, errors={"comment": "请填写评语后再提交"})
    hit = int(hit_id) if hit_id.isdigit() else None
    d = await quality_routes.comment(
        user, quality, transcripts, call_id, CommentIn(text=text.strip(), hit_id=hit)
    )
    return _state(request, user, d, message="评语已保存")


@router.post("/quality/calls/{call_id}/finalise")
async def post_finalise(
    request: Request, user: Inspector, quality: Quality, transcripts: Transcripts, call_id: str
) -> Response:
    try:
        d = await quality_routes.finalise(user, quality, transcripts, call_id)
    except Conflict as exc:
        if exc.error_id != "already_finalised":
            raise
        d = await quality_routes.get_score(
            user, quality, transcripts, auditor(request), call_id
        )  # a second click
    return _state(request, user, d, message=f"已定稿：{d.call.score:g} 分")


@router.post("/quality/calls/{call_id}/reopen")
async def post_reopen(
    request: Request,
    user: Inspector,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    reason: Comment = "",
) -> Response:
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    if d.call.status != "finalised":
        return _state(request, user, d)  # a second click: already open
    if not reason.strip():
        return _state(request, user, d, errors={"reopen": "请填写重新打开的理由"})
    d = await quality_routes.reopen(
        user, quality, transcripts, call_id, ReasonIn(reason=reason.strip())
    )
    return _state(request, user, d, message="已重新打开，可以修改后再定稿")


async def _appeal_decision(
    request: Request,
    user: User,
    quality: QualityStore,
    transcripts: TranscriptStore,
    call_id: str,
    appeal_id: int,
    accept: bool,
    reason: str,
) -> Response:
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    appeal = next((a for a in d.appeals if a.id == appeal_id), None)
    if appeal is None:
        raise NotFound(f"这通电话没有编号为 {appeal_id} 的申诉 (no appeal {appeal_id} here)")
    if appeal.state != "open":
        return _state(request, user, d)  # a second click: already decided
    if not reason.strip():
        return _state(request, user, d, errors={f"appeal-{appeal_id}": "请填写处理理由"})
    decide = quality_routes.accept_appeal if accept else quality_routes.reject_appeal
    await decide(user, quality, appeal_id, ReasonIn(reason=reason.strip()))
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    return _state(request, user, d, message="已同意申诉" if accept else "已驳回申诉")


@router.post("/quality/calls/{call_id}/appeals/{appeal_id}/decide")
async def post_decide(
    request: Request,
    user: Inspector,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    appeal_id: int,
    decision: Annotated[Literal["accept", "reject"], Form()],
    reason: Comment = "",
) -> Response:
    """同意申诉 or 驳回申诉, with the reason the agent reads."""
    accept = decision == "accept"
    return await _appeal_decision(
        request, user, quality, transcripts, call_id, appeal_id, accept, reason
    )


@router.post("/quality/calls/{call_id}/hits/{hit_id}/appeal")
async def post_appeal(
    request: Request,
    user: AnyUser,
    quality: Quality,
    transcripts: Transcripts,
    call_id: str,
    hit_id: int,
    reason: Comment = "",
) -> Response:
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    if any(a.hit_id == hit_id and a.state == "open" for a in d.appeals):
        return _state(request, user, d)  # a second click: already appealed
    if not reason.strip():
        return _state(request, user, d, errors={f"hit-{hit_id}": "请填写申诉理由"})
    try:
        await quality_routes.appeal(user, quality, call_id, hit_id, ReasonIn(reason=reason.strip()))
    except HotlineError as exc:
        if not isinstance(exc, Conflict | InvalidInput):
            raise
        return _state(request, user, d, errors={f"hit-{hit_id}": exc.message})
    d = await quality_routes.get_score(user, quality, transcripts, auditor(request), call_id)
    return _state(request, user, d, message="申诉已提交，质检员处理后可在此查看结果")
