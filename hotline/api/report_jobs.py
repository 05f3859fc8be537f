"""What each report made as a job builds. Rule: a report job makes the same figures and the
same file as the report's route would answer directly (the same store calls, the same
JSON and workbook writers), step by step with its progress, the workbook written to its
file as it streams; this module only wires the report kinds to their stores.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hotline.api.routes.ticket_reports import json_response, report_json
from hotline.core import pii
from hotline.core.periods import Period
from hotline.core.report_jobs import Builder, Progress
from hotline.tickets.reports import write_xlsx
from hotline.tickets.store import TicketStore


def ticket_report(store: TicketStore, tz: str) -> Builder:
    """The ticket report (JSON or XLSX) of `params`: period, date, format, whole_pii."""

    async def build(params: Mapping[str, Any], path: Path, progress: Progress) -> None:
        steps = 2  # the figures, the file
        p = Period.parse(params["period"], params["date"], tz)
        await progress(0, steps)
        report, units, agents = await store.ticket_report(p, datetime.now(UTC))
        await progress(1, steps)
        if params["format"] == "xlsx":
            text = None if params["whole_pii"] else pii.mask_text
            await asyncio.to_thread(write_xlsx, path, report, units, agents, text=text)
        else:
            body = json_response(report_json(report, units, agents)).body
            await asyncio.to_thread(path.write_bytes, bytes(body))
        await progress(steps, steps)

    return build
