"""Peak memory of writing a large XLSX sheet: openpyxl's in-memory workbook (how
core.sheets wrote every report before issue 17) against the streaming one it writes now.

    PYTHONPATH=. python benchmarks/sheets_memory.py --rows 200000

Each way runs in its own child process; it prints the tracemalloc peak and the process's
peak RSS, and the ratio of each to the in-memory baseline of the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import BytesIO
from typing import Any

HEADER = ["通话编号", "坐席", "队列", "来电号码", "开始时间", "时长(秒)", "得分", "摘要"]


def rows(n: int) -> Iterator[list[Any]]:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        yield [
            f"1767225600.{i}",
            f"PJSIP/{1000 + i % 750}",
            f"q{i % 60}",
            f"138{i:08d}",
            (t0 + timedelta(seconds=37 * i)).strftime("%Y-%m-%d %H:%M"),
            60 + i % 600,
            70 + i % 30,
            "客户来电反映燃气表读数异常，已登记并派发抢修中心处理",
        ]


def in_memory(n: int) -> int:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for row in rows(n):
        ws.append(row)
    out = BytesIO()
    wb.save(out)
    return len(out.getvalue())


def streaming(n: int) -> int:
    from hotline.core import sheets

    wb = sheets.workbook()
    sheets.add_sheet(wb, "明细", HEADER, rows(n))
    out = BytesIO()
    sheets.save(wb, out)
    return len(out.getvalue())


def child(way: str, n: int) -> None:
    tracemalloc.start()
    t = time.perf_counter()
    size = {"in-memory": in_memory, "streaming": streaming}[way](n)
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"way": way, "bytes": size, "s": elapsed, "peak": peak, "rss": rss}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--child", choices=["in-memory", "streaming"])
    a = ap.parse_args()
    if a.child:
        child(a.child, a.rows)
        return
    results = []
    for way in ("in-memory", "streaming"):
        cmd = [sys.executable, __file__, "--rows", str(a.rows), "--child", way]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        results.append(json.loads(out))
    base = results[0]
    print(f"{a.rows:,} rows x {len(HEADER)} columns")
    print(f"{'way':<10} {'file MB':>8} {'time s':>7} {'py peak MB':>11} {'RSS MB':>8} ratio")
    for r in results:
        print(
            f"{r['way']:<10} {r['bytes'] / 1e6:8.1f} {r['s']:7.1f} {r['peak'] / 1e6:11.1f} "
            f"{r['rss'] / 1e6:8.1f} {r['peak'] / base['peak']:.3f} / {r['rss'] / base['rss']:.3f}"
        )


if __name__ == "__main__":
    main()
