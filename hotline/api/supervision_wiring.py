"""Wires the supervision service into a built app. Rule: one call from the composition root,
after the live state is attached (its snapshot tells who is on a call); the routes find the
service as `app.state.supervision` through api/deps.py."""

from __future__ import annotations

from fastapi import FastAPI

from hotline.core.settings import Settings
from hotline.telephony.ami import AmiClient
from hotline.telephony.live import LiveSnapshot
from hotline.telephony.supervision import Roster, SpyDialPlan, SupervisionService
from hotline.telephony.supervision_store import SupervisionStore


def attach_supervision(
    app: FastAPI, settings: Settings, store: SupervisionStore, ami: AmiClient | None
) -> SupervisionService:
    live = getattr(app.state, "live", None)

    def snapshot() -> LiveSnapshot:
        snap: LiveSnapshot = live.service.snapshot()  # type: ignore[union-attr]
        return snap

    conf = settings.live
    service = SupervisionService(
        ami,
        store,
        pause_reasons=conf.pause_reasons,
        spy=SpyDialPlan(conf.spy_context, conf.spy_ring_s, conf.spy_caller_id),
        roster=Roster(snapshot if live is not None else None),
    )
    app.state.supervision = service
    return service
