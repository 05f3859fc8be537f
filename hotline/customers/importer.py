"""Customer imports from CSV or XLSX as resumable jobs. Rule: a batch of rows, their
rejects and the job's row cursor are committed in one transaction, so a job stopped at any
moment resumes at the first row not yet committed and no row is imported twice.

On PostgreSQL a batch is written with COPY (ids drawn from the sequence), elsewhere with
batched INSERTs. A 户号 already in the file (from an earlier row or an earlier import) is a
reject with its reason, never merged into the existing customer.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hotline.core.errors import InvalidInput, NotFound
from hotline.customers.model import CustomerIn
from hotline.customers.sheet import Header
from hotline.customers.tables import CustomerRow, ImportRow, PhoneRow, RejectRow

log = logging.getLogger(__name__)
BATCH = 2000
ANALYZE_EVERY = 50  # batches between planner statistics updates during an import


class ImportStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class ImportJob:
    id: int
    filename: str
    status: ImportStatus
    total_rows: int
    cursor: int
    accepted: int
    rejected: int
    error: str | None
    started_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def percent(self) -> float:
        return 100.0 if not self.total_rows else round(100 * self.cursor / self.total_rows, 1)


@dataclass(frozen=True, slots=True)
class Reject:
    row_no: int
    account_no: str | None
    reason: str


def _job(r: ImportRow) -> ImportJob:
    return ImportJob(
        r.id,
        r.filename,
        ImportStatus(r.status),
        r.total_rows,
        r.cursor,
        r.accepted,
        r.rejected,
        r.error,
        r.started_by,
        r.created_at,
        r.updated_at,
    )


# --- reading files ------------------------------------------------------------------------


def _is_xlsx(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"PK\x03\x04"


def _encoding(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(1 << 16)
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        if exc.start > len(head) - 4:
            return "utf-8-sig"  # a character cut at the end of the sample
        return "gb18030"  # what Excel in China writes as "CSV"


def read_rows(path: Path) -> Iterator[Sequence[object]]:
    """The rows of a CSV (UTF-8 or GB18030) or an XLSX file (its first sheet), header first."""
    if _is_xlsx(path):
        from openpyxl import load_workbook

        handle = path.open("rb")  # a file object: the upload's name may end in anything
        wb = load_workbook(handle, read_only=True, data_only=True)
        try:
            ws = wb.worksheets[0]
            for values in ws.iter_rows(values_only=True):
                if any(v is not None and str(v).strip() for v in values):
                    yield values
        finally:
            wb.close()
            handle.close()
        return
    with path.open(encoding=_encoding(path), newline="") as f:
        for cells in csv.reader(f):
            if any(c.strip() for c in cells):
                yield cells


def check_file(path: Path) -> tuple[Header, int]:
    """The header of an upload and its number of data rows; wrong columns are refused."""
    try:
        rows = read_rows(path)
        first = next(rows, None)
        if first is None:
            raise InvalidInput("导入文件是空的：请上传带表头的CSV或XLSX文件 (empty file)")
        header = Header.read(first)
        return header, sum(1 for _ in rows)
    except (UnicodeDecodeError, csv.Error, OSError, ValueError, KeyError) as exc:
        raise InvalidInput(
            f"无法读取导入文件（{exc}）：请上传UTF-8或GBK编码的CSV，或XLSX文件 (unreadable file)"
        ) from exc


# --- the job ------------------------------------------------------------------------------


class Importer:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], folder: Path, *, batch: int = BATCH
    ) -> None:
        self._sessions = sessions
        self.folder = folder
        self.batch = batch
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def create(self, filename: str, content: bytes, *, actor: str) -> ImportJob:
        """Keep the upload, check its columns, and make a job at row 0 (not started)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        tmp = self.folder / f"upload-{now.timestamp():.6f}.part"
        tmp.write_bytes(content)
        try:
            _, total = await asyncio.to_thread(check_file, tmp)
        except InvalidInput:
            tmp.unlink(missing_ok=True)
            raise
        async with self._sessions() as session, session.begin():
            row = ImportRow(
                filename=Path(filename).name[:255] or "upload",
                path="",
                status=ImportStatus.RUNNING.value,
                total_rows=total,
                cursor=0,
                accepted=0,
                rejected=0,
                started_by=actor,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            final = self.folder / f"import-{row.id}{Path(filename).suffix.lower()[:8]}"
            tmp.rename(final)
            row.path = str(final)
            return _job(row)

    async def get(self, job_id: int) -> ImportJob:
        async with self._sessions() as session:
            row = await session.get(ImportRow, job_id)
            if row is None:
                raise NotFound(
                    f"导入任务 #{job_id} 不存在 (no import {job_id})", error_id="import_missing"
                )
            return _job(row)

    async def jobs(self, limit: int = 20) -> list[ImportJob]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ImportRow).order_by(ImportRow.id.desc()).limit(limit)
            )
            return [_job(r) for r in rows]

    async def rejects(self, job_id: int, *, offset: int = 0, limit: int = 500) -> list[Reject]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(RejectRow)
                .where(RejectRow.import_id == job_id)
                .order_by(RejectRow.row_no)
                .offset(offset)
                .limit(limit)
            )
            return [Reject(r.row_no, r.account_no, r.reason) for r in rows]

    # -- running ---------------------------------------------------------------------------

    def start(self, job_id: int) -> None:
        """Run the job in the background (once: a running task is left alone)."""
        task = self._tasks.get(job_id)
        if task is None or task.done():
            self._tasks[job_id] = asyncio.create_task(self._run_logged(job_id))

    async def resume_all(self) -> list[int]:
        """Start every job left running (by a crash or a stop)."""
        async with self._sessions() as session:
            ids = list(
                await session.scalars(
                    select(ImportRow.id).where(ImportRow.status == ImportStatus.RUNNING.value)
                )
            )
        for i in ids:
            self.start(i)
        return ids

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def wait(self, job_id: int) -> ImportJob:
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)
        return await self.get(job_id)

    async def _run_logged(self, job_id: int) -> None:
        try:
            await self.run(job_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("customer import %s failed", job_id)
            async with self._sessions() as session, session.begin():
                row = await session.get(ImportRow, job_id)
                if row is not None:
                    row.status = ImportStatus.FAILED.value
                    row.error = f"导入中断：{exc}。请检查文件后重新导入 (import failed)"
                    row.updated_at = datetime.now(UTC)

    async def run(self, job_id: int, *, max_batches: int | None = None) -> ImportJob:
        """Import the rows after the job's cursor, one batch per transaction (stops after
        `max_batches`, as a crash would, for tests)."""
        job = await self.get(job_id)
        if job.status is not ImportStatus.RUNNING:
            return job
        async with self._sessions() as session:
            path = Path((await session.get(ImportRow, job_id)).path)  # type: ignore[union-attr]
        rows = read_rows(path)
        header = Header.read(next(rows))
        for _ in range(job.cursor):
            next(rows, None)
        row_no = job.cursor + 1  # data rows start on line 2
        batches = 0
        while True:
            chunk: list[tuple[int, Sequence[object]]] = []
            for cells in rows:
                row_no += 1
                chunk.append((row_no, cells))
                if len(chunk) >= self.batch:
                    break
            if not chunk:
                break
            await self._commit(job_id, header, chunk)
            batches += 1
            if batches % ANALYZE_EVERY == 0:
                await self._analyze()
            if max_batches is not None and batches >= max_batches:
                return await self.get(job_id)
            await asyncio.sleep(0)
        async with self._sessions() as session, session.begin():
            row = await session.get(ImportRow, job_id)
            assert row is not None
            row.status = ImportStatus.DONE.value
            row.updated_at = datetime.now(UTC)
        path.unlink(missing_ok=True)
        await self._analyze()
        return await self.get(job_id)

    async def _analyze(self) -> None:
        """Fresh planner statistics on PostgreSQL: after a bulk load the planner would
        otherwise scan the whole table for a look-up by number (seconds at a million)."""
        async with self._sessions() as session, session.begin():
            if (await session.connection()).dialect.name == "postgresql":
                await session.execute(text("ANALYZE customers, customer_phones"))

    async def _commit(
        self, job_id: int, header: Header, chunk: Sequence[tuple[int, Sequence[object]]]
    ) -> None:
        parsed: list[tuple[int, CustomerIn | str, str | None]] = []
        for row_no, cells in chunk:
            result = header.row(cells)
            account = result.account_no if isinstance(result, CustomerIn) else None
            parsed.append((row_no, result, account))
        now = datetime.now(UTC)
        async with self._sessions() as session, session.begin():
            keys = [a for _, r, a in parsed if a is not None]
            existing: dict[str, tuple[int | None, int | None]] = {}
            for i in range(0, len(keys), 1000):
                found = await session.execute(
                    select(
                        CustomerRow.account_no, CustomerRow.import_id, CustomerRow.import_row
                    ).where(CustomerRow.account_no.in_(keys[i : i + 1000]))
                )
                existing.update({a: (j, r) for a, j, r in found.all()})
            new: list[dict[str, Any]] = []
            phones: dict[str, tuple[str, ...]] = {}
            rejects: list[dict[str, object]] = []
            seen: dict[str, int] = {}
            for row_no, result, account in parsed:
                reason: str | None = None
                if isinstance(result, str):
                    reason = result
                elif account in seen:
                    reason = f"户号 {account} 与本文件第{seen[account]}行重复，未合并"
                elif account in existing:
                    imp, at_row = existing[account]
                    where = (
                        f"导入#{imp}第{at_row}行"
                        if imp == job_id
                        else (f"导入#{imp}" if imp else "已有档案")
                    )
                    reason = f"户号 {account} 已存在（{where}），未合并"
                if reason is not None:
                    rejects.append(
                        {
                            "import_id": job_id,
                            "row_no": row_no,
                            "account_no": account,
                            "reason": reason,
                        }
                    )
                    continue
                assert isinstance(result, CustomerIn) and account is not None
                seen[account] = row_no
                phones[account] = result.phones
                new.append(
                    {
                        "account_no": account,
                        "name": result.name,
                        "address": result.address,
                        "district": result.district,
                        "street": result.street,
                        "import_id": job_id,
                        "import_row": row_no,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            if new:
                if (await session.connection()).dialect.name == "postgresql":
                    await _copy(session, new, phones)
                else:
                    table = cast(Table, CustomerRow.__table__)
                    ids = await session.execute(
                        insert(table).returning(table.c.id, table.c.account_no), new
                    )
                    numbers = [
                        {"customer_id": cid, "number": n}
                        for cid, account in ids.all()
                        for n in phones[account]
                    ]
                    if numbers:
                        await session.execute(insert(cast(Table, PhoneRow.__table__)), numbers)
            if rejects:
                await session.execute(insert(cast(Table, RejectRow.__table__)), rejects)
            job = await session.get(ImportRow, job_id, with_for_update=True)
            assert job is not None
            job.cursor += len(chunk)
            job.accepted += len(new)
            job.rejected += len(rejects)
            job.updated_at = now


_COLUMNS = (
    "id",
    "account_no",
    "name",
    "address",
    "district",
    "street",
    "import_id",
    "import_row",
    "created_at",
    "updated_at",
)


async def _copy(
    session: AsyncSession, new: Sequence[dict[str, Any]], phones: dict[str, tuple[str, ...]]
) -> None:
    """PostgreSQL: the batch's customers and numbers with COPY, in the session's own
    transaction (ids drawn from the table's sequence first)."""
    raw = await (await session.connection()).get_raw_connection()
    pg = raw.driver_connection
    assert pg is not None
    ids = [
        r[0]
        for r in await pg.fetch(
            "SELECT nextval(pg_get_serial_sequence('customers', 'id')) FROM generate_series(1, $1)",
            len(new),
        )
    ]
    await pg.copy_records_to_table(
        "customers",
        records=[(i, *(row[c] for c in _COLUMNS[1:])) for i, row in zip(ids, new, strict=True)],
        columns=list(_COLUMNS),
    )
    numbers = [(i, n) for i, row in zip(ids, new, strict=True) for n in phones[row["account_no"]]]
    if numbers:
        await pg.copy_records_to_table(
            "customer_phones", records=numbers, columns=["customer_id", "number"]
        )


def template_csv() -> bytes:
    """An empty import file with the expected header (UTF-8 with BOM, for Excel)."""
    from hotline.customers.sheet import COLUMNS

    buf = io.StringIO()
    csv.writer(buf).writerow([aliases[0] for aliases in COLUMNS.values()])
    return ("\ufeff" + buf.getvalue()).encode()
