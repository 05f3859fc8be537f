"""A unit's photos and documents: checked by their content and size, stored beside the
archive, nothing half-stored when refused or when the database fails."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import InvalidInput
from hotline.tickets.attachments import Attachments
from hotline.tickets.tables import TicketAttachmentRow
from tests.tickets.test_report_queries import put
from tests.tickets.test_reports import local, ticket

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
PDF = b"%PDF-1.7\n" + b"x" * 100


def files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_photos_and_pdfs_are_kept_beside_the_archive(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await put(engine, [ticket(1, local(23, 10), None)])
    att = Attachments(db.session_factory(engine), tmp_path / "archive", max_bytes=1000)
    photo = await att.add(1, "../../现场照片.png", PNG, by="qx", role="unit", now=NOW)
    assert photo.content_type == "image/png" and photo.name == "现场照片.png"
    assert photo.path.read_bytes() == PNG and photo.path.is_relative_to(
        tmp_path / "archive" / "attachments"
    )
    await att.add(1, "处理单.pdf", PDF, by="qx", role="unit", now=NOW)
    assert [a.name for a in await att.of_ticket(1)] == ["现场照片.png", "处理单.pdf"]
    assert len(files(tmp_path / "archive")) == 2


async def test_a_wrong_or_large_file_is_refused_and_nothing_is_left(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await put(engine, [ticket(1, local(23, 10), None)])
    att = Attachments(db.session_factory(engine), tmp_path / "archive", max_bytes=1000)
    with pytest.raises(InvalidInput, match="JPG、PNG") as err:
        await att.add(1, "病毒.png", b"MZ\x90\x00" + b"\x00" * 50, by="qx", role="unit", now=NOW)
    assert err.value.error_id == "attachment_type"
    with pytest.raises(InvalidInput, match="不能超过") as err:
        await att.add(1, "大.png", PNG + b"\x00" * 1000, by="qx", role="unit", now=NOW)
    assert err.value.error_id == "attachment_too_large"
    # the database refuses the row (no such ticket): the file written first is removed
    with pytest.raises(Exception):  # noqa: B017 - the database's own integrity error
        await att.add(999, "x.png", PNG, by="qx", role="unit", now=NOW)
    assert files(tmp_path / "archive") == []
    assert await att.of_ticket(1) == [] and await att.of_ticket(999) == []
    assert TicketAttachmentRow.__tablename__ == "ticket_attachments"
