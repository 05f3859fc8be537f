"""Importing an existing archive folder: by filename pattern, by CSV, resumable, safe."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core.errors import InvalidInput
from hotline.recording.importer import FilenamePattern, import_dir
from hotline.recording.store import RecordingFilter, Status
from tests.recording import audio_fixtures as af

PATTERN = "{date:%Y%m%d}/{caller}_{agent}_{time:%H%M%S}.wav"


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> af.AudioKit:
    return af.session_kit(tmp_path_factory.getbasetemp())


def old_archive(base: Path, kit: af.AudioKit) -> Path:
    """Three good recordings, one broken, one stranger file, in the old system's layout."""
    d = base / "old"
    for (day, name), src in zip(
        [
            ("20240105", "13800138000_1001_093015.wav"),
            ("20240105", "13900139000_1002_101500.wav"),
            ("20240106", "075512345678_1001_235959.wav"),
        ],
        [kit.mix, kit.leg_in, kit.leg_out],
        strict=True,
    ):
        (d / day).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, d / day / name)  # different content: the same would be skipped
    af.random_bytes(d / "20240106" / "13700137000_1003_080000.wav")
    (d / "README.txt").write_text("旧系统导出", encoding="utf-8")
    return d


async def test_import_by_pattern_then_rerun_skips_everything(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    folder = old_archive(tmp_path, kit)
    ticks: list[tuple[int, int]] = []

    report = await import_dir(
        h.service, folder, pattern=PATTERN, progress=lambda d, t: ticks.append((d, t))
    )

    assert (report.total, report.imported, report.failed, report.skipped) == (4, 3, 1, 0)
    assert report.ignored == 1  # README.txt
    assert report.failures[0][0] == "20240106/13700137000_1003_080000.wav"
    assert "不是音频文件" in report.failures[0][1]
    assert ticks[0] == (0, 4) and ticks[-1] == (4, 4)
    found, total = await h.store.search(RecordingFilter(number="13800138000"))
    assert total == 1
    rec = found[0]
    assert rec.status == Status.ARCHIVED and rec.agent == "1001"
    assert rec.started_at == datetime(2024, 1, 5, 1, 30, 15, tzinfo=UTC)  # 09:30:15 Shanghai
    assert rec.path is not None and rec.path.startswith("2024/01/05/13800138000_1001_093015-")
    late, _ = await h.store.search(RecordingFilter(number="075512345678"))
    assert late[0].path is not None and late[0].path.startswith("2024/01/06/")
    assert (folder / "20240105" / "13800138000_1001_093015.wav").exists()  # never moved

    again = await import_dir(h.service, folder, pattern=PATTERN)
    assert (again.imported, again.skipped, again.failed) == (0, 4, 0)
    assert len(h.archived_files()) == 3


async def test_interrupted_import_resumes(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    """Rows an earlier run enqueued but never processed are archived by the next run."""
    h = af.harness(engine, tmp_path)
    folder = old_archive(tmp_path, kit)
    left = await h.service.add_file(
        folder / "20240105" / "13800138000_1001_093015.wav",
        started_at=datetime(2024, 1, 5, 1, 30, 15, tzinfo=UTC),
        caller_number="13800138000",
        agent="1001",
        queue=None,
    )
    assert left is not None  # ...and then the import was killed

    report = await import_dir(h.service, folder, pattern=PATTERN)
    assert (report.imported, report.skipped, report.resumed) == (2, 1, 1)
    assert (await h.store.get(left.id)).status == Status.ARCHIVED  # type: ignore[union-attr]


async def test_import_by_csv(engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit) -> None:
    h = af.harness(engine, tmp_path)
    folder = tmp_path / "export"
    (folder / "a").mkdir(parents=True)
    shutil.copy(kit.mix, folder / "a" / "rec1.wav")
    shutil.copy(kit.leg_out, folder / "rec2.wav")
    outside = tmp_path / "secret.wav"
    shutil.copy(kit.mix, outside)
    sheet = tmp_path / "index.csv"
    sheet.write_text(
        "\ufefffile,started_at,caller_number,agent,queue,call_id\n"
        "a/rec1.wav,2023-03-01 08:15:00,13800138000,1001,燃气报修,old-1\n"
        "rec2.wav,2023-03-02T10:00:00+00:00,13900139000,1002,,\n"
        "../secret.wav,2023-03-03 10:00:00,1,1,,\n"
        "/etc/passwd,2023-03-03 10:00:00,1,1,,\n"
        "missing.wav,2023-03-03 10:00:00,1,1,,\n"
        "rec2.wav,yesterday,1,1,,\n",
        encoding="utf-8",
    )
    report = await import_dir(h.service, folder, csv_path=sheet)
    assert (report.imported, report.failed) == (2, 4)
    reasons = dict(report.failures)
    assert "'..' would leave" in reasons["../secret.wav"]
    assert "absolute path" in reasons["/etc/passwd"]
    assert "录音文件不存在" in reasons["missing.wav"]
    assert any("时间无效" in r for r in reasons.values())
    rec = await h.store.by_call("old-1")
    assert rec is not None and rec.queue == "燃气报修" and rec.caller_number == "13800138000"
    assert rec.started_at == datetime(2023, 3, 1, 0, 15, tzinfo=UTC)
    second, _ = await h.store.search(RecordingFilter(number="13900139000"))
    assert second[0].queue is None and second[0].call_id is None


async def test_csv_without_the_needed_columns(engine: AsyncEngine, tmp_path: Path) -> None:
    h = af.harness(engine, tmp_path)
    sheet = tmp_path / "x.csv"
    sheet.write_text("path,when\nx.wav,2020-01-01\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="started_at"):
        await import_dir(h.service, tmp_path, csv_path=sheet)


async def test_symlink_out_of_the_folder_refused(
    engine: AsyncEngine, tmp_path: Path, kit: af.AudioKit
) -> None:
    h = af.harness(engine, tmp_path)
    folder = tmp_path / "old" / "20240105"
    folder.mkdir(parents=True)
    shutil.copy(kit.mix, tmp_path / "private.wav")
    (folder / "1_2_030000.wav").symlink_to(tmp_path / "private.wav")
    report = await import_dir(h.service, tmp_path / "old", pattern=PATTERN)
    assert report.imported == 0 and report.failed == 1
    assert "refused" in report.failures[0][1]


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("../{caller}.wav", "'..'"),
        ("{date}/../../{caller}.wav", "'..'"),
        ("/var/spool/{caller}.wav", "absolute"),
        ("C:/rec/{caller}.wav", "absolute"),
        ("{date}\\{caller}.wav", "backslash"),
        ("{caller}_{password}.wav", "unknown field {password}"),
        ("{caller}_{caller}.wav", "twice"),
        ("{date:%Y%m%d%Z}/{caller}.wav", "%Z unsupported"),
        ("{date:%Y/%m}/{caller}.wav", "inside a date format"),
        ("{caller:%d}.wav", "takes no format"),
        ("{caller.wav", "unmatched"),
        ("", "empty"),
    ],
)
def test_bad_patterns_refused_with_the_reason(pattern: str, words: str) -> None:
    with pytest.raises(InvalidInput) as err:
        FilenamePattern.parse(pattern)
    assert err.value.message.startswith("文件名模式被拒绝")
    assert words in err.value.message


def test_pattern_fields() -> None:
    from zoneinfo import ZoneInfo

    p = FilenamePattern.parse("{queue}/*/{call_id}-{date:%Y-%m-%d_%H%M}.wav")
    meta = p.match("燃气报修/box7/17000.5-2022-12-31_2359.wav", ZoneInfo("Asia/Shanghai"))
    assert meta is not None
    assert (meta.queue, meta.call_id, meta.caller_number) == ("燃气报修", "17000.5", None)
    assert meta.started_at == datetime(2022, 12, 31, 15, 59, tzinfo=UTC)
    assert p.match("燃气报修/17000.5-2022-12-31_2359.wav", ZoneInfo("UTC")) is None
