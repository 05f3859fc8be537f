"""What a route may ask for, as FastAPI `Annotated` dependencies. Rule: this is the only
module of the HTTP layer that reads the composition root's container (`app.state`); a
route names the user it needs and the services it uses in its signature, nothing else.

    async def get_call(user: AnyUser, calls: Calls, call_id: str) -> CallOut: ...

The user (bearer token now, a cookie session for the web workspace later) and the role
guards come from `auth`; each service or store below is one attribute of the container.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from hotline.api.audit import Auditor
from hotline.api.auth import Admin, Agent, AnyUser, Inspector, Supervisor, current_user, require
from hotline.api.desk_wiring import DeskParts
from hotline.api.live_wiring import Live as LiveParts
from hotline.api.users import UserStore
from hotline.asr.store import TranscriptStore
from hotline.core.bus import Bus as EventBus
from hotline.core.jobs import JobQueue
from hotline.core.report_jobs import ReportJobs
from hotline.core.settings import Settings as HotlineSettings
from hotline.quality.store import QualityStore
from hotline.recording.store import RecordingStore
from hotline.telephony.callback_service import CallbackService
from hotline.telephony.callback_store import CallbackStore
from hotline.telephony.model import RingRule
from hotline.telephony.store import CallStore
from hotline.telephony.supervision import SupervisionService
from hotline.telephony.survey_store import SurveyStore
from hotline.tickets.service import TicketService

if TYPE_CHECKING:
    from hotline.api.app import Container

__all__ = [
    "Admin",
    "Agent",
    "AnyUser",
    "ArchiveRoot",
    "Audit",
    "Bus",
    "CallbackRecords",
    "Callbacks",
    "Calls",
    "Desk",
    "Inspector",
    "Jobs",
    "Quality",
    "Recordings",
    "Reports",
    "Rule",
    "Settings",
    "Supervision",
    "Supervisor",
    "Surveys",
    "Tickets",
    "Timezone",
    "Transcripts",
    "Users",
    "Wiring",
    "current_user",
    "require",
]


def container(request: Request) -> Container:
    """The composition root's container of this app (see app.create_app)."""
    c: Container = request.app.state.container
    return c


def auditor(request: Request) -> Auditor:
    """The audit trail of this request: entries name its client address."""
    return Auditor(container(request).recordings, request.client.host if request.client else None)


def users(request: Request) -> UserStore:
    return container(request).users


def calls(request: Request) -> CallStore:
    return container(request).calls


def callback_records(request: Request) -> CallbackStore:
    return container(request).callback_store


def callbacks(request: Request) -> CallbackService:
    return container(request).callbacks


def surveys(request: Request) -> SurveyStore:
    return container(request).surveys


def recordings(request: Request) -> RecordingStore:
    return container(request).recordings


def archive_root(request: Request) -> Path:
    return container(request).archive_root


def transcripts(request: Request) -> TranscriptStore:
    return container(request).transcripts


def quality(request: Request) -> QualityStore:
    return container(request).quality


def tickets(request: Request) -> TicketService:
    return container(request).tickets


def jobs(request: Request) -> JobQueue:
    return container(request).jobs


def report_jobs(request: Request) -> ReportJobs:
    return container(request).report_jobs


def settings(request: Request) -> HotlineSettings:
    return container(request).settings


def bus(request: Request) -> EventBus:
    return container(request).bus


def timezone(request: Request) -> str:
    """The hotline's local zone: times given without one are in it."""
    return container(request).settings.timezone


def ring_rule(request: Request) -> RingRule:
    return container(request).rule


def live(request: Request) -> LiveParts:
    parts: LiveParts = request.app.state.live  # set by api.live_wiring.attach_live
    return parts


def supervision(request: Request) -> SupervisionService:
    """Pause, log out, spy (api/supervision_wiring.py puts it on the app)."""
    service: SupervisionService = request.app.state.supervision
    return service


def desk(request: Request) -> DeskParts:
    """Customer file, identity check, knowledge, notices (api/desk_wiring.py)."""
    parts: DeskParts = request.app.state.desk
    return parts


Audit = Annotated[Auditor, Depends(auditor)]
Calls = Annotated[CallStore, Depends(calls)]
Desk = Annotated[DeskParts, Depends(desk)]
Users = Annotated[UserStore, Depends(users)]
CallbackRecords = Annotated[CallbackStore, Depends(callback_records)]
Callbacks = Annotated[CallbackService, Depends(callbacks)]
Surveys = Annotated[SurveyStore, Depends(surveys)]
Recordings = Annotated[RecordingStore, Depends(recordings)]
ArchiveRoot = Annotated[Path, Depends(archive_root)]
Transcripts = Annotated[TranscriptStore, Depends(transcripts)]
Quality = Annotated[QualityStore, Depends(quality)]
Tickets = Annotated[TicketService, Depends(tickets)]
Jobs = Annotated[JobQueue, Depends(jobs)]
Reports = Annotated[ReportJobs, Depends(report_jobs)]
Settings = Annotated[HotlineSettings, Depends(settings)]
Bus = Annotated[EventBus, Depends(bus)]
Timezone = Annotated[str, Depends(timezone)]
Rule = Annotated[RingRule, Depends(ring_rule)]
Live = Annotated[LiveParts, Depends(live)]
Supervision = Annotated[SupervisionService, Depends(supervision)]

# The whole container, for the pipeline's retry helpers that still take it (api/pipeline.py
# goes away; its successor takes services, and this goes with it). The runtime type is left
# open so this module does not import app.py (which imports the routes, which import this).
if TYPE_CHECKING:
    Wiring = Annotated[Container, Depends(container)]
else:
    Wiring = Annotated[Any, Depends(container)]
