"""Where an archived recording lives and how long it stays. Pure: no I/O, no clock.

Rules kept here: a stored path is always relative, inside the archive root and unique
(date folders plus the call and the file's own hash); retention is one year by default
(资料保存一年), longer for important calls (重要的资料长期保存), and nothing under legal hold
is ever purged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from zoneinfo import ZoneInfo

from hotline.core.errors import InvalidInput

EXTENSIONS = {"opus": ".ogg", "mp3": ".mp3", "flac": ".flac", "wav": ".wav"}
_SAFE = re.compile(r"[^0-9A-Za-z._-]")


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    days: int = 365
    important_days: int = 3650

    def retain_until(self, started_at: datetime, important: bool) -> datetime:
        return started_at + timedelta(days=self.important_days if important else self.days)


def archive_path(
    started_at: datetime, name: str, sha256: str, codec: str, timezone: str = "Asia/Shanghai"
) -> str:
    """`YYYY/MM/DD/<name>-<sha8><ext>`: the day in the hotline's time zone, the call id (or
    the imported file's stem) made filename-safe, and the first hex of the content hash,
    so two different files never share a path."""
    local = started_at.astimezone(ZoneInfo(timezone))
    stem = _SAFE.sub("_", name)[:80] or "recording"
    return f"{local:%Y/%m/%d}/{stem}-{sha256[:8]}{EXTENSIONS[codec]}"


def inside(root: Path, relative: str) -> Path:
    """The absolute path of `relative` under `root`; refuses anything that would leave it
    (`..`, absolute paths, a symlink pointing out)."""
    rel = PurePosixPath(relative)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise InvalidInput(
            f"path {relative!r} is not a plain relative path inside the archive; "
            "use the recording's id instead of a path"
        )
    full = (root / rel).resolve()
    if not full.is_relative_to(root.resolve()):
        raise InvalidInput(f"path {relative!r} leads outside the archive; refused")
    return full


def sources_for(mixed: str) -> dict[str, str]:
    """The files MixMonitor writes for one call, as the deploy dialplan names them:
    `<stem>.wav` (both parties), `<stem>-in.wav` (the customer: what came in) and
    `<stem>-out.wav` (the agent side: what the customer heard)."""
    path = PurePosixPath(mixed)
    stem = path.with_suffix("")
    return {
        "mixed": str(path),
        "customer": f"{stem}-in{path.suffix}",
        "agent": f"{stem}-out{path.suffix}",
    }
