"""Photos and documents a unit attaches to a ticket (现场照片, 处理单…), stored beside the
recording archive.

Rule: a file is accepted only when its content is one of the allowed kinds (JPEG, PNG,
PDF: read from its first bytes, not from the name or the client's word) and not larger
than the limit; it is written to a temporary file, then its row is added and the file
moved into place inside the same transaction, so a refused or failed upload leaves
neither a row nor a file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import InvalidInput
from hotline.tickets.tables import TicketAttachmentRow, TicketEventRow

MAX_BYTES = 10 * 1024 * 1024
KINDS: dict[bytes, tuple[str, str]] = {  # magic -> (content type, extension)
    b"\xff\xd8\xff": ("image/jpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", ".png"),
    b"%PDF-": ("application/pdf", ".pdf"),
}


@dataclass(frozen=True, slots=True)
class Attachment:
    id: int
    ticket_id: int
    name: str
    content_type: str
    size: int
    sha256: str
    by: str
    at: datetime
    path: Path


def kind_of(data: bytes) -> tuple[str, str]:
    for magic, kind in KINDS.items():
        if data.startswith(magic):
            return kind
    raise InvalidInput(
        "附件类型不允许，只能上传 JPG、PNG 图片或 PDF 文件 (only JPEG, PNG or PDF files may be "
        "attached; this file is none of them)",
        error_id="attachment_type",
    )


class Attachments:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], root: Path, max_bytes: int = MAX_BYTES
    ) -> None:
        self._sessions = sessions
        self.root = root
        self.max_bytes = max_bytes

    async def add(
        self, ticket_id: int, name: str, data: bytes, *, by: str, role: str, now: datetime
    ) -> Attachment:
        if len(data) > self.max_bytes:
            raise InvalidInput(
                f"附件过大（{len(data) / 1024 / 1024:.1f} MB），不能超过 "
                f"{self.max_bytes / 1024 / 1024:g} MB (the file is too large; attach a smaller "
                "one, e.g. a compressed photo)",
                error_id="attachment_too_large",
            )
        if not data:
            raise InvalidInput("附件是空文件 (the file is empty)", error_id="attachment_empty")
        content_type, ext = kind_of(data)
        name = Path(name or "附件").name[:200] or "附件"
        folder = self.root / "attachments" / str(ticket_id)
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f"{uuid.uuid4().hex}{ext}"
        temp = folder / f".{final.name}.part"
        digest = hashlib.sha256(data).hexdigest()
        temp.write_bytes(data)
        moved = False
        try:
            async with self._sessions() as session, session.begin():
                row = TicketAttachmentRow(
                    ticket_id=ticket_id,
                    name=name,
                    content_type=content_type,
                    size=len(data),
                    sha256=digest,
                    path=str(final.relative_to(self.root)),
                    by=by,
                    at=now,
                )
                session.add(row)
                await session.flush()
                session.add(
                    TicketEventRow(
                        ticket_id=ticket_id,
                        at=now,
                        actor=by,
                        role=role,
                        action="attach",
                        reason=name,
                        detail=f'{{"attachment_id": {row.id}, "size": {len(data)}}}',
                    )
                )
                os.replace(temp, final)
                moved = True
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                (final if moved else temp).unlink()
            raise
        return _attachment(row, self.root)

    async def of_ticket(self, ticket_id: int) -> list[Attachment]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(TicketAttachmentRow)
                .where(TicketAttachmentRow.ticket_id == ticket_id)
                .order_by(TicketAttachmentRow.id)
            )
            return [_attachment(r, self.root) for r in rows]


def _attachment(row: TicketAttachmentRow, root: Path) -> Attachment:
    return Attachment(
        row.id,
        row.ticket_id,
        row.name,
        row.content_type,
        row.size,
        row.sha256,
        row.by,
        row.at,
        root / row.path,
    )
