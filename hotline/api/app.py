"""The composition root: settings in, a running service out. Rule: only this module wires.

It builds the database, stores, bus, MQTT publisher, AMI client, tracker and services
from one `Settings`, and starts and stops their tasks with the FastAPI app.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import hotline
from hotline.api import health as health_routes
from hotline.api import privacy
from hotline.api.desk_wiring import attach_desk
from hotline.api.limits import BodyLimit
from hotline.api.live_wiring import attach_live
from hotline.api.masking import MaskPersonalData
from hotline.api.routes import calls as calls_routes
from hotline.api.routes import customers as customers_routes
from hotline.api.routes import jobs as jobs_routes
from hotline.api.routes import knowledge as knowledge_routes
from hotline.api.routes import live as live_routes
from hotline.api.routes import quality as quality_routes
from hotline.api.routes import recordings as recordings_routes
from hotline.api.routes import supervision as supervision_routes
from hotline.api.routes import surveys as surveys_routes
from hotline.api.routes import ticket_reports as ticket_reports_routes
from hotline.api.routes import tickets as tickets_routes
from hotline.api.routes import transcripts as transcripts_routes
from hotline.api.routes import users as users_routes
from hotline.api.sessions import SessionStore
from hotline.api.stages import active_handlers, stage_table
from hotline.api.supervision_wiring import attach_supervision
from hotline.api.users import UserStore
from hotline.asr.service import TranscriptionService
from hotline.asr.stage import TranscribeStage
from hotline.asr.store import TranscriptStore
from hotline.asr.vosk import VoskEngine
from hotline.core import db, keys, pii
from hotline.core.bus import Bus, Message
from hotline.core.errors import (
    Conflict,
    HotlineError,
    InvalidInput,
    NotAllowed,
    NotFound,
    Unavailable,
)
from hotline.core.jobs import JobQueue, RetryPolicy, make_job_queue
from hotline.core.leader import Leadership, instance_name
from hotline.core.loops import Loops, every
from hotline.core.mqtt import MqttPublisher
from hotline.core.pipeline import Pipeline
from hotline.core.settings import Settings, refuse_placeholder_secret
from hotline.quality.pack import Pack, load_pack
from hotline.quality.review import rules_from_pack
from hotline.quality.stage import ScoreStage
from hotline.quality.store import QualityStore
from hotline.recording import retention
from hotline.recording.archiver import ArchiveService
from hotline.recording.important import keep_recordings_of
from hotline.recording.policy import RetentionPolicy
from hotline.recording.stage import ARCHIVE, ArchiveStage
from hotline.recording.store import RecordingStore
from hotline.telephony import events
from hotline.telephony.ami import AmiClient
from hotline.telephony.callback_service import CallbackService, DialPlan
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.callbacks import CallbackPolicy
from hotline.telephony.model import CallRecord, RingRule
from hotline.telephony.service import CallService, QueueItem
from hotline.telephony.store import CallStore
from hotline.telephony.supervision_store import SupervisionStore
from hotline.telephony.survey import ALERT_TOPIC
from hotline.telephony.survey_store import SurveyStore
from hotline.telephony.tracker import CallTracker
from hotline.tickets import classify, sla
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.followup import FollowupPolicy
from hotline.tickets.policy import HotlinePolicy, load_policy
from hotline.tickets.service import TicketService
from hotline.tickets.stage import TicketStage
from hotline.tickets.store import TicketStore

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    calls: CallStore
    users: UserStore
    callback_store: CallbackStore
    call_service: CallService
    callbacks: CallbackService
    surveys: SurveyStore
    queue: asyncio.Queue[QueueItem]
    recordings: RecordingStore
    archive_root: Path
    archiver: ArchiveService
    transcripts: TranscriptStore
    transcription: TranscriptionService
    quality: QualityStore
    quality_pack: Pack
    jobs: JobQueue
    tickets: TicketService
    archive: ArchiveStage
    pipeline: Pipeline
    leadership: Leadership
    instance: str
    ami: AmiClient | None = None
    mqtt: MqttPublisher | None = None
    loops: Loops = field(default_factory=Loops)
    jobs_stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def rule(self) -> RingRule:
        return RingRule(self.settings.rules.ring_period_s, self.settings.rules.max_rings)


def make_archiver(
    settings: Settings,
    recordings: RecordingStore,
    bus: Bus,
    *,
    delete_source: bool | None = None,
    instance: str | None = None,
) -> ArchiveService:
    conf = settings.recording
    return ArchiveService(
        recordings,
        bus,
        instance=instance or instance_name(),
        root=settings.archive_root,
        path_map=conf.path_map,
        codec=conf.codec,
        bitrate_kbps=conf.bitrate_kbps,
        workers=conf.workers or os.cpu_count() or 1,
        settle_s=conf.settle_s,
        wait_for_file_s=conf.wait_for_file_s,
        delete_source=conf.delete_source if delete_source is None else delete_source,
        max_attempts=conf.max_attempts,
        retention=RetentionPolicy(conf.retention_days, conf.important_retention_days),
        timezone=settings.timezone,
    )


def make_ticket_service(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    recordings: RecordingStore | None,
    originator: AmiClient | None,
) -> TicketService:
    """The 工单 service from the settings: clock, 回访 policy, pack, AMI for 回访 calls."""
    t = settings.tickets
    tz = ZoneInfo(settings.timezone)
    cb = settings.callback
    calendar = WorkCalendar(t.calendar_files)
    followup_policy = FollowupPolicy(
        delay_h=t.followup_delay_h,
        attempts=t.followup_attempts,
        interval_h=t.followup_interval_h,
        quiet_start=t.followup_quiet_start,
        quiet_end=t.followup_quiet_end,
        timezone=settings.timezone,
    )
    sla_policy = sla.SlaPolicy.from_settings(t, calendar, tz)
    hotline_policy = (
        load_policy(t.policy, calendar, settings.timezone)
        if t.policy
        else HotlinePolicy.of(sla_policy, followup_policy)
    )
    return TicketService(
        TicketStore(sessions),
        bus,
        sla_policy=hotline_policy.sla,
        followup_policy=hotline_policy.followup,
        policy=hotline_policy,
        attachments_root=settings.archive_root,
        pack=lambda: classify.load_pack(t.pack),
        recordings=recordings,
        originator=originator,
        dialplan=DialPlan(
            t.followup_context, cb.channel_template, cb.caller_id, cb.originate_timeout_s
        ),
        overdue_check_s=t.overdue_check_s,
    )


def wait_policy(settings: Settings) -> RetryPolicy:
    """The job queue's retry policy with the waiting limits a person set."""
    return RetryPolicy(
        wait_backoff_s=settings.jobs_wait_backoff_min * 60,
        wait_max_backoff_s=settings.jobs_wait_max_backoff_min * 60,
        wait_limit_s=settings.jobs_wait_limit_h * 3600,
    )


def survey_complaints(tickets: TicketService) -> Callable[[Message], Awaitable[None]]:
    """alert/survey_unsatisfied -> a level-3 complaint ticket (HOTLINE_SURVEY__UNSATISFIED)."""

    async def handle(m: Message) -> None:
        p = m.payload
        rated = p.get("agent_member") or p.get("agent_interface")
        at = p.get("offered_at") or m.at
        await tickets.on_survey_unsatisfied(str(p["call_id"]), p.get("caller_number"), rated, at)

    return handle


def masked_for_mqtt(
    mqtt: MqttPublisher, whole_roles: tuple[str, ...]
) -> Callable[[Message], Awaitable[None]]:
    """MQTT subscribers are no user: payloads go out with personal data masked, unless the
    pseudo-role "mqtt" is among security.whole_pii_roles (issue 13)."""
    if pii.sees_whole("mqtt", whole_roles):
        return mqtt.handle

    async def handle(m: Message) -> None:
        await mqtt.handle(Message(m.topic, pii.mask_tree(m.payload), m.at))

    return handle


def build(settings: Settings) -> Container:
    refuse_placeholder_secret(settings)
    instance = instance_name()
    # the 抽查 key: configured, or generated at install and kept in data_dir (issue 13)
    settings.security.sample_key = keys.sample_key(settings.security.sample_key, settings.data_dir)
    engine = db.make_engine(settings.db_url)
    sessions = db.session_factory(engine)
    bus = Bus()
    rules = settings.rules
    tracker = CallTracker(
        RingRule(rules.ring_period_s, rules.max_rings),
        frozenset(rules.abnormal_causes),
        survey_off=frozenset(settings.survey.off_queues),
    )
    calls = CallStore(sessions, settings.recording.path_map)
    queue: asyncio.Queue[QueueItem] = asyncio.Queue()
    cb = settings.callback
    ami = None
    a = settings.ami
    if a.host:
        ami = AmiClient(
            a.host,
            a.port,
            a.username,
            a.secret,
            queue=queue,
            ping_interval=a.ping_interval_s,
            ping_timeout=a.ping_timeout_s,
            reconnect_min=a.reconnect_min_s,
            reconnect_max=a.reconnect_max_s,
            only_events=events.USED_EVENTS,
        )
    callback_store = CallbackStore(sessions)
    callbacks = CallbackService(
        callback_store,
        CallbackPolicy(
            min_abandon_wait_s=cb.min_abandon_wait_s,
            include_no_agent=cb.include_no_agent,
            connect_to="queue" if cb.connect_to == "queue" else "agent",
            delay_s=cb.delay_s,
            max_attempts=cb.max_attempts,
            retry_interval_min=cb.retry_interval_min,
            quiet_start=cb.quiet_start,
            quiet_end=cb.quiet_end,
            timezone=settings.timezone,
        ),
        DialPlan(
            cb.context, cb.channel_template, cb.caller_id, cb.originate_timeout_s, cb.extension
        ),
        bus,
        ami,
    )
    recordings = RecordingStore(sessions)
    archiver = make_archiver(settings, recordings, bus, instance=instance)
    transcripts = TranscriptStore(sessions, str(settings.asr.pipeline_version))
    transcription = TranscriptionService(
        transcripts,
        recordings,
        lambda: VoskEngine(settings.asr.model_dir),
        bus,
        archive_root=settings.archive_root,
        pipeline_version=str(settings.asr.pipeline_version),
        workers=settings.asr.workers,
    )
    # the pipeline after a call: one retry scheduler (the job queue's), the archive stage
    # with the recording settings' max_attempts
    waits = wait_policy(settings)
    jobs = make_job_queue(
        settings.db_url,
        sessions,
        retry=waits,
        lease_s=settings.jobs_lease_s,
        **({"poll_s": settings.jobs_poll_s} if settings.jobs_poll_s else {}),
        retry_by_stage={ARCHIVE: replace(waits, max_attempts=settings.recording.max_attempts)},
    )
    pack = load_pack(settings.quality.pack)
    quality = QualityStore(sessions, rules_from_pack(pack))
    tickets = make_ticket_service(settings, sessions, bus, recordings, ami)
    archive = ArchiveStage(recordings, archiver, jobs)
    pipeline = Pipeline(
        stage_table(
            archive=archive,
            transcribe=TranscribeStage(transcription),
            score=ScoreStage(
                recordings,
                transcripts,
                calls,
                quality,
                pack,
                bus,
                ring=RingRule(settings.rules.ring_period_s, settings.rules.max_rings),
                agent_number_pattern=settings.quality.agent_number_pattern,
            ),
            ticket=TicketStage(recordings, transcripts, tickets),
            version=settings.asr.pipeline_version,
        ),
        jobs,
    )

    surveys = SurveyStore(sessions, bus)
    if settings.survey.unsatisfied == "ticket":  # 不满意 -> a complaint for the supervisor
        bus.subscribe(ALERT_TOPIC, survey_complaints(tickets))
    after_call: list[Callable[[CallRecord], Awaitable[object]]] = [archive.on_call_ended]
    after_call.append(surveys.on_call_ended)
    if cb.enabled:
        after_call.append(callbacks.on_call_ended)
    after_call.append(tickets.on_call_ended)
    rec_settings = settings.recording
    bus.subscribe(
        "ticket/",
        keep_recordings_of(
            recordings,
            RetentionPolicy(rec_settings.retention_days, rec_settings.important_retention_days),
        ),
    )
    call_service = CallService(
        tracker,
        calls,
        bus,
        end_unknown_after=timedelta(seconds=settings.ami.end_unknown_after_s),
        on_ended=after_call,
        on_event=[callbacks.on_call_event] if cb.enabled else [],
    )
    mqtt = None
    m = settings.mqtt
    if m.host:
        mqtt = MqttPublisher(
            m.host,
            m.port,
            prefix=m.topic_prefix,
            client_id=f"{m.client_id}-{instance}",  # unique: a broker kicks a twin off
            username=m.username,
            password=m.password,
        )
        bus.subscribe("", masked_for_mqtt(mqtt, settings.security.whole_pii_roles))
    return Container(
        settings=settings,
        engine=engine,
        sessions=sessions,
        bus=bus,
        calls=calls,
        users=UserStore(sessions, settings.token_ttl),
        callback_store=callback_store,
        call_service=call_service,
        callbacks=callbacks,
        surveys=surveys,
        queue=queue,
        recordings=recordings,
        archive_root=settings.archive_root,
        archiver=archiver,
        transcripts=transcripts,
        transcription=transcription,
        quality=quality,
        quality_pack=pack,
        jobs=jobs,
        tickets=tickets,
        archive=archive,
        pipeline=pipeline,
        leadership=Leadership(engine),
        instance=instance,
        ami=ami,
        mqtt=mqtt,
    )


async def start(c: Container) -> None:
    """Start every background loop, each supervised (restarted with backoff when it dies);
    the ones that must run once across instances only while this instance leads."""
    await db.migrate(c.engine)
    await c.call_service.restore()
    loops, lead = c.loops, c.leadership
    if c.mqtt is not None:
        loops.start("mqtt-publisher", c.mqtt.run)
    else:
        log.info("MQTT: no broker configured (HOTLINE_MQTT__HOST); real-time events stay local")
    loops.start("call-consumer", lambda: c.call_service.run(c.queue))
    handlers = active_handlers(c)
    cores = os.cpu_count() or 1
    await c.archive.resume()
    loops.start(
        "pipeline-worker",
        lambda: c.jobs.run_worker(
            handlers, concurrency=c.settings.jobs_concurrency or 2 * cores, stop=c.jobs_stop
        ),
    )
    loops.start(
        "archive-sweep",
        lambda: every(c.settings.jobs_sweep_min * 60, c.archive.sweep, "archive sweep"),
    )
    loops.start("leader", lead.run)
    web_sessions = SessionStore(c.sessions, timedelta(minutes=c.settings.web.idle_minutes))
    loops.start(  # abandoned browser sessions: their rows go once they have been idle too long
        "session-purge",
        lambda: every(3600, lambda: web_sessions.purge_idle(datetime.now(UTC)), "session purge"),
    )
    loops.start(
        "retention-purge",
        lambda: lead.while_leading(
            lambda: retention.purge_forever(
                c.recordings,
                c.archive_root,
                interval_s=c.settings.recording.purge_interval_h * 3600,
                timezone=c.settings.timezone,
                on_purged=c.transcripts.delete,
            )
        ),
    )
    years = c.settings.security.anonymise_after_years
    if years > 0:
        loops.start(
            "anonymise",
            lambda: lead.while_leading(
                lambda: privacy.anonymise_forever(
                    c.sessions, years, interval_s=c.settings.recording.purge_interval_h * 3600
                )
            ),
        )
    loops.start("tickets", lambda: lead.while_leading(c.tickets.run))
    if c.ami is not None:
        await c.ami.start()
        if c.settings.callback.enabled:
            loops.start("callbacks", lambda: lead.while_leading(c.callbacks.run))
    else:
        log.info(
            "AMI disabled: no switch configured (set HOTLINE_AMI__HOST, HOTLINE_AMI__USERNAME "
            "and HOTLINE_AMI__SECRET to follow calls)"
        )
    # The start-up heap (modules, settings, policies: ~380,000 objects) is frozen, so a
    # full garbage collection never walks it again: walking it took ~120 ms of CPU on the
    # event loop, a freeze of every request at each collection.
    gc.freeze()


async def stop(c: Container) -> None:
    gc.unfreeze()  # what start froze may be collected again once the service stops
    c.loops.stopping()
    if c.ami is not None:
        await c.ami.stop()
    # let the consumer save what the switch already sent
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(5):
            await c.queue.join()
    await c.callbacks.stop()
    c.jobs_stop.set()  # running jobs finish; the rest stays queued for next time
    worker = c.loops.task("pipeline-worker")
    if worker is not None:
        with contextlib.suppress(TimeoutError, Exception):
            async with asyncio.timeout(10):
                await asyncio.shield(worker)
    if c.mqtt is not None:
        await c.mqtt.drain()
    await c.loops.stop()
    c.transcription.close(wait=False)
    await c.jobs.close()
    await c.engine.dispose()


STATUS = {NotFound: 404, InvalidInput: 422, Conflict: 409, Unavailable: 503, NotAllowed: 403}


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    c = container or build(settings or Settings())

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await start(c)
        try:
            yield
        finally:
            await stop(c)

    app = FastAPI(
        title="Hotline 客服热线",
        version=hotline.__version__,
        description="Call records, the 3-ring rule and dropped-call callbacks from Asterisk.",
        lifespan=lifespan,
    )
    app.state.container = c

    @app.exception_handler(HotlineError)
    async def _domain_error(_: Request, exc: HotlineError) -> JSONResponse:
        status = next((s for k, s in STATUS.items() if isinstance(exc, k)), 400)
        return JSONResponse({"error": exc.error_id, "message": exc.message}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in exc.errors()
        )
        body = {
            "error": "invalid_input",
            "message": f"请求参数有误，请按提示修改后重试 ({problems})",
            "problems": jsonable_encoder(exc.errors()),
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(_: Request, exc: Exception) -> JSONResponse:
        # a number (an id in the path, an offset) too large for the database's integers
        body = {
            "error": "invalid_input",
            "message": "请求参数有误：数值超出范围，请检查编号或数字后重试 "
            "(a number in the request "
            "is out of range)",
        }
        return JSONResponse(body, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
        body = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"error": "http_error", "message": str(exc.detail)}
        )
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.include_router(health_routes.router)
    app.include_router(calls_routes.router)
    app.include_router(recordings_routes.router)
    app.include_router(transcripts_routes.router)
    app.include_router(jobs_routes.router)
    app.include_router(quality_routes.router)
    app.include_router(tickets_routes.router)
    app.include_router(ticket_reports_routes.router)
    app.include_router(surveys_routes.router)
    app.include_router(users_routes.router)

    # -- live agent/queue state (issue 12): follows the call consumer, SSE, reports --------
    attach_live(app, c.settings, c.sessions, c.bus, c.call_service)
    app.include_router(live_routes.router)

    # -- supervision (issue 12): pause / unpause / log out / listen, whisper, barge -------
    attach_supervision(app, c.settings, SupervisionStore(c.sessions), c.ami)
    app.include_router(supervision_routes.router)

    # -- the agent's desk (issue 16): customer file, identity check, knowledge, notices --
    attach_desk(app, c.settings, c.sessions)
    app.include_router(customers_routes.router)
    app.include_router(knowledge_routes.router)

    # --- web workspace (branch web): sign-in, pages at /, static files -----------------
    from hotline.web.install import install as install_web

    install_web(app)
    # --- end web workspace -------------------------------------------------------------
    # personal data masked by role in every JSON answer (issue 13)
    app.add_middleware(MaskPersonalData, whole_roles=c.settings.security.whole_pii_roles)
    # outermost: a body over the limit is refused before anything reads it (issue 13)
    app.add_middleware(
        BodyLimit,
        max_bytes=c.settings.security.max_body_bytes,
        larger=dict.fromkeys(customers_routes.UPLOAD_PATHS, customers_routes.MAX_UPLOAD),
    )
    return app
