"""Wires the agent's desk (issue 16) into a built app: the customer file and its imports,
the identity check, the knowledge base and the notices. Rule: one call from the composition
root; the routes find the parts as `app.state.desk` through api/deps.py; unfinished imports
resume when the app starts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.settings import Settings
from hotline.customers.desk import CustomerDesk
from hotline.customers.importer import Importer
from hotline.customers.model import IdentityPolicy
from hotline.customers.store import CustomerStore
from hotline.knowledge.notices import NoticeBoard
from hotline.knowledge.store import KnowledgeBase


@dataclass
class DeskParts:
    customers: CustomerStore
    desk: CustomerDesk
    importer: Importer
    knowledge: KnowledgeBase
    notices: NoticeBoard
    suggest_limit: int


def attach_desk(
    app: FastAPI, settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> DeskParts:
    conf = settings.desk
    store = CustomerStore(sessions)
    parts = DeskParts(
        customers=store,
        desk=CustomerDesk(store, IdentityPolicy(conf.identity_details, conf.identity_required)),
        importer=Importer(sessions, settings.data_dir / "imports", batch=conf.import_batch),
        knowledge=KnowledgeBase(sessions),
        notices=NoticeBoard(sessions),
        suggest_limit=conf.suggest_limit,
    )
    app.state.desk = parts
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            await parts.importer.resume_all()
            try:
                yield
            finally:
                await parts.importer.stop()

    app.router.lifespan_context = lifespan
    return parts
