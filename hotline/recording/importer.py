"""Importing an existing archive folder. Rule: nothing outside the folder is ever read, and a
file already imported (same sha256) is never imported twice, so a rerun resumes.

Metadata comes from a filename pattern or a CSV. Patterns are a small template language,
matched against the path relative to the folder (with `/`):

    {date:%Y%m%d}/{caller}_{agent}_{time:%H%M%S}.wav

Fields: `date`, `time` (strftime formats using %Y %y %m %d %H %M %S; defaults %Y%m%d and
%H%M%S), `caller`, `agent`, `queue`, `call_id` (any text within one folder level); `*`
matches any text within one level. Times without a zone are the hotline's local time; a
pattern without `date` takes the file's modification time. The CSV has the columns
`file, started_at, caller_number, agent, queue, call_id`, `file` relative to the folder.

Files are added as pending recordings and archived by the same archiver as live calls.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from hotline.core.errors import InvalidInput
from hotline.recording.archiver import ArchiveService
from hotline.recording.store import Recording, Status

FIELDS = ("date", "time", "caller", "agent", "queue", "call_id")
_DIRECTIVES = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}"}
_DIRECTIVES |= {"H": r"\d{2}", "M": r"\d{2}", "S": r"\d{2}", "%": "%"}
_DEFAULT_FORMATS = {"date": "%Y%m%d", "time": "%H%M%S"}
_TOKEN = re.compile(r"\{([^{}]*)\}|\*|[{}]")
_BATCH = 64
_CSV_OPTIONAL = ("caller_number", "agent", "queue", "call_id")


@dataclass(frozen=True, slots=True)
class Meta:
    started_at: datetime | None  # None: take the file's modification time
    caller_number: str | None = None
    agent: str | None = None
    queue: str | None = None
    call_id: str | None = None


@dataclass(slots=True)
class ImportReport:
    total: int = 0
    imported: int = 0  # archived in this run
    skipped: int = 0  # imported before (same sha256)
    failed: int = 0
    pending: int = 0  # hit a transient problem (e.g. disk full); archived on a later try
    ignored: int = 0  # not matching the pattern
    resumed: int = 0  # left pending by an interrupted earlier import, archived now
    failures: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


def _refuse(what: str, text: str, why: str) -> InvalidInput:
    english = {"文件名模式": "pattern", "文件路径": "file path"}[what]
    return InvalidInput(f"{what}被拒绝 ({english} {text!r} refused: {why})")


def _check_relative(what: str, text: str) -> PurePosixPath:
    if not text or "\\" in text or "\x00" in text:
        raise _refuse(what, text, "empty, or with a backslash or NUL; use / between folders")
    rel = PurePosixPath(text)
    if rel.is_absolute() or re.match(r"^[A-Za-z]:", text):
        raise _refuse(what, text, "absolute path; give it relative to the import folder")
    if ".." in rel.parts:
        raise _refuse(what, text, "'..' would leave the import folder")
    return rel


@dataclass(frozen=True, slots=True)
class FilenamePattern:
    regex: re.Pattern[str]
    formats: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> FilenamePattern:
        _check_relative("文件名模式", text)
        parts: list[str] = []
        formats: dict[str, str] = {}
        pos = 0
        for m in _TOKEN.finditer(text):
            parts.append(re.escape(text[pos : m.start()]))
            pos = m.end()
            token = m.group(0)
            if token == "*":
                parts.append(r"[^/]*")
                continue
            if token in "{}":
                raise _refuse("文件名模式", text, f"unmatched {token!r}")
            name, _, fmt = m.group(1).partition(":")
            if name not in FIELDS:
                raise _refuse("文件名模式", text, f"unknown field {{{name}}}; use {FIELDS}")
            if name in formats or f"(?P<{name}>" in "".join(parts):
                raise _refuse("文件名模式", text, f"field {{{name}}} appears twice")
            if name in _DEFAULT_FORMATS:
                formats[name] = fmt or _DEFAULT_FORMATS[name]
                parts.append(f"(?P<{name}>{_format_regex(text, formats[name])})")
            elif fmt:
                raise _refuse("文件名模式", text, f"field {{{name}}} takes no format")
            else:
                parts.append(f"(?P<{name}>[^/]+?)")
        parts.append(re.escape(text[pos:]))
        return cls(re.compile("".join(parts)), formats)

    def match(self, relative: str, tz: ZoneInfo) -> Meta | None:
        m = self.regex.fullmatch(relative)
        if m is None:
            return None
        found = m.groupdict()
        started: datetime | None = None
        if "date" in self.formats:
            day = datetime.strptime(found["date"], self.formats["date"])
            if "time" in self.formats:
                t = datetime.strptime(found["time"], self.formats["time"]).time()
                day = datetime.combine(day.date(), t)
            started = day.replace(tzinfo=tz).astimezone(UTC)
        return Meta(
            started,
            found.get("caller"),
            found.get("agent"),
            found.get("queue"),
            found.get("call_id"),
        )


def _format_regex(pattern: str, fmt: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(fmt):
        if fmt[i] == "%":
            directive = fmt[i + 1 : i + 2]
            if directive not in _DIRECTIVES:
                raise _refuse(
                    "文件名模式", pattern, f"%{directive} unsupported; use %Y %y %m %d %H %M %S"
                )
            out.append(_DIRECTIVES[directive])
            i += 2
        else:
            if fmt[i] in "/{}":
                raise _refuse("文件名模式", pattern, f"{fmt[i]!r} inside a date format")
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


# --- finding the files -----------------------------------------------------------------------

Entry = tuple[str, Path | None, Meta | None, str | None]  # name, file, metadata, error


def _inside(directory: Path, rel: PurePosixPath) -> Path | None:
    full = (directory / rel).resolve()
    return full if full.is_relative_to(directory) else None


def _from_pattern(directory: Path, pattern: FilenamePattern, tz: ZoneInfo) -> list[Entry]:
    entries: list[Entry] = []
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        try:
            meta = pattern.match(name, tz)
        except ValueError as exc:  # digits that are no date, e.g. month 13
            entries.append((name, None, None, f"文件名中的日期无效 (bad date in the name: {exc})"))
            continue
        if meta is None:
            entries.append((name, None, None, None))  # ignored
            continue
        full = _inside(directory, PurePosixPath(name))
        if full is None:
            entries.append((name, None, None, "链接指向导入目录之外 (link leads outside; refused)"))
        else:
            entries.append((name, full, meta, None))
    return entries


def _parse_time(text: str, tz: ZoneInfo) -> datetime:
    value = datetime.fromisoformat(text.strip())
    return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)


def _from_csv(directory: Path, csv_path: Path, tz: ZoneInfo) -> list[Entry]:
    entries: list[Entry] = []
    with csv_path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"file", "started_at"} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(
                f"CSV 缺少列 (CSV {csv_path.name} lacks the column(s) {sorted(missing)}; "
                "needed: file, started_at; optional: caller_number, agent, queue, call_id)"
            )
        for line, row in enumerate(reader, start=2):
            name = (row.get("file") or "").strip()
            label = name or f"{csv_path.name}:{line}"
            try:
                rel = _check_relative("文件路径", name)
                started = _parse_time(row.get("started_at") or "", tz)
            except InvalidInput as exc:
                entries.append((label, None, None, f"第{line}行: {exc.message}"))
                continue
            except ValueError:
                reason = f"第{line}行: 时间无效 (line {line}: started_at is no ISO 8601 time)"
                entries.append((label, None, None, reason))
                continue
            full = _inside(directory, rel)
            if full is None:
                entries.append((label, None, None, "路径指向导入目录之外 (leads outside; refused)"))
            elif not full.is_file():
                entries.append((label, None, None, f"录音文件不存在 (file not found: {name})"))
            else:
                cells = [(row.get(k) or "").strip() or None for k in _CSV_OPTIONAL]
                entries.append((label, full, Meta(started, *cells), None))
    return entries


# --- the import ------------------------------------------------------------------------------


async def import_dir(
    archiver: ArchiveService,
    directory: Path,
    *,
    pattern: str | None = None,
    csv_path: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import every recording in `directory` described by `pattern` or by `csv_path`."""
    if (pattern is None) == (csv_path is None):
        raise InvalidInput("请给出文件名模式或 CSV 之一 (give either a pattern or a CSV, one)")
    directory = directory.resolve()
    if not directory.is_dir():
        raise InvalidInput(f"导入目录不存在 (no such folder: {directory})")
    tz = ZoneInfo(archiver.timezone)
    if pattern is not None:
        entries = _from_pattern(directory, FilenamePattern.parse(pattern), tz)
    else:
        assert csv_path is not None
        entries = _from_csv(directory, csv_path, tz)

    report = ImportReport(total=sum(1 for _, path, _, err in entries if path or err))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, report.total)

    def count(rec: Recording, name: str) -> None:
        if rec.status == Status.ARCHIVED:
            report.imported += 1
        elif rec.status == Status.FAILED:
            report.failed += 1
            report.failures.append((name, rec.reason or ""))
        else:
            report.pending += 1
        tick()

    if progress:
        progress(0, report.total)
    handled: set[int] = set()
    batch: list[tuple[Recording, str]] = []
    for name, path, meta, error in entries:
        if path is None or meta is None:
            if error:
                report.failed += 1
                report.failures.append((name, error))
                tick()
            else:
                report.ignored += 1
            continue
        started = meta.started_at or datetime.fromtimestamp(path.stat().st_mtime, UTC)
        rec = await archiver.add_file(
            path,
            started_at=started,
            caller_number=meta.caller_number,
            agent=meta.agent,
            queue=meta.queue,
            call_id=meta.call_id,
        )
        if rec is None:
            report.skipped += 1
            tick()
            continue
        batch.append((rec, name))
        if len(batch) >= _BATCH:
            await _process(archiver, batch, count, handled)
            batch = []
    await _process(archiver, batch, count, handled)
    report.resumed = await _resume(archiver, directory, handled)
    return report


async def _process(
    archiver: ArchiveService,
    batch: list[tuple[Recording, str]],
    count: Callable[[Recording, str], None],
    handled: set[int],
) -> None:
    names = {rec.id: name for rec, name in batch}
    handled.update(names)
    await archiver.process_all([rec for rec, _ in batch], on_done=lambda r: count(r, names[r.id]))


async def _resume(archiver: ArchiveService, directory: Path, handled: set[int]) -> int:
    """Archive rows an interrupted earlier import of this folder left pending."""
    due = await archiver.store.due(archiver.now(), limit=1_000_000)
    left = [
        r
        for r in due
        if r.id not in handled and Path(r.sources.get("mixed", "/")).is_relative_to(directory)
    ]
    done = await archiver.process_all(left)
    return sum(1 for r in done if r.status == Status.ARCHIVED)
