"""Running pipeline workers in a process of their own. Rule: SIGINT/SIGTERM stop taking
jobs and let the running ones finish; a job of a worker killed harder is taken back by
the queue (heartbeat), never lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Mapping

from hotline.core.errors import InvalidInput
from hotline.core.jobs import Handler, JobQueue, Stage

log = logging.getLogger(__name__)


def select_stages(handlers: Mapping[Stage, Handler], stages: str | None) -> dict[Stage, Handler]:
    """`stages` as given on the command line ("archive,transcribe"); None or "" = all."""
    if not stages:
        return dict(handlers)
    wanted = [s.strip() for s in stages.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in handlers]
    if unknown:
        raise InvalidInput(
            f"unknown stage(s) {', '.join(unknown)}; choose among {', '.join(handlers)}",
            error_id="unknown_stage",
        )
    return {s: handlers[s] for s in wanted}


async def serve_jobs(
    queue: JobQueue, handlers: Mapping[Stage, Handler], *, concurrency: int
) -> None:
    """Run `handlers` on `queue` until SIGINT or SIGTERM, then finish the running jobs."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    log.info(
        "worker: stages %s, %d job(s) at a time; stop with Ctrl-C (running jobs finish)",
        ",".join(handlers),
        concurrency,
    )
    try:
        await queue.run_worker(handlers, concurrency=concurrency, stop=stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
        await queue.close()
