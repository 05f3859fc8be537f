"""Customer file at size: an import of N customers (default 1,000,000) from a CSV into a
fresh PostgreSQL database through the product's importer (resumable batches: rows, their
phone numbers, rejects and the row cursor committed together), then the time to find a
caller's file by phone number and by 户号 through the product's store, p50/p99.

Baselines from the same run: the same rows written by a bare COPY into the same tables
(no parsing, no checks, no cursor), and the same look-ups as one bare asyncpg query each.

Run: .venv/bin/python benchmarks/customers_import.py [--rows 1000000] [--lookups 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import asyncpg  # type: ignore[import-untyped]  # noqa: E402

from benchmarks.million_calls import PG, create_database, drop_database  # noqa: E402
from hotline.core import db  # noqa: E402
from hotline.customers.importer import Importer  # noqa: E402
from hotline.customers.store import CustomerStore  # noqa: E402

DISTRICTS = ["西湖区", "上城区", "拱墅区", "滨江区", "萧山区", "余杭区", "临平区", "钱塘区"]
STREETS = ["文三路", "天目山路", "解放路", "延安路", "湖墅南路", "江南大道", "莫干山路"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def account(i: int) -> str:
    return f"{31_000_000 + i}"


def phones(i: int) -> list[str]:
    mobile = f"13{(i * 7919) % 1_000_000_000:09d}"
    return [mobile, f"0571{80_000_000 + i // 3:08d}"] if i % 3 == 0 else [mobile]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["户号", "姓名", "地址", "电话", "区县", "街道"])
        for i in range(rows):
            d, s = DISTRICTS[i % len(DISTRICTS)], STREETS[i % len(STREETS)]
            w.writerow(
                [
                    account(i),
                    SURNAMES[i % len(SURNAMES)] + "先生",
                    f"{d}{s}{i % 400 + 1}号{i % 30 + 1}幢{i % 6 + 1}单元",
                    ";".join(phones(i)),
                    d,
                    s,
                ]
            )


async def product_import(url: str, path: Path, folder: Path) -> tuple[float, int]:
    engine = db.make_engine(url)
    await db.migrate(engine)
    importer = Importer(db.session_factory(engine), folder)
    job = await importer.create(path.name, path.read_bytes(), actor="bench")
    started = time.perf_counter()
    done = await importer.run(job.id)
    elapsed = time.perf_counter() - started
    await engine.dispose()
    assert done.accepted == done.total_rows, (done.accepted, done.rejected)
    return elapsed, done.accepted


async def bare_copy(dsn: str, path: Path) -> float:
    """The rows straight into the tables with COPY: the floor for any import."""
    now = datetime.now(UTC)
    customers, numbers = [], []
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for i, (acc, name, address, ph, district, street) in enumerate(reader, start=1):
            customers.append((i, acc, name, address, district, street, now, now))
            numbers.extend((i, p) for p in ph.split(";"))
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        await conn.copy_records_to_table(
            "customers",
            records=customers,
            columns=[
                "id",
                "account_no",
                "name",
                "address",
                "district",
                "street",
                "created_at",
                "updated_at",
            ],
        )
        await conn.copy_records_to_table(
            "customer_phones", records=numbers, columns=["customer_id", "number"]
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def lookups(url: str, dsn: str, rows: int, n: int) -> dict[str, list[float]]:
    """Each pick looked up three ways in turn (product by number, by 户号, bare query), so
    the machine's load weighs on all three alike."""
    rnd = random.Random(16)
    picks = [rnd.randrange(rows) for _ in range(n)]
    engine = db.make_engine(url)
    store = CustomerStore(db.session_factory(engine))
    conn = await asyncpg.connect(dsn)
    bare = (
        "SELECT c.*, p2.number FROM customers c JOIN customer_phones p2 ON p2.customer_id = c.id "
        "WHERE c.id IN (SELECT customer_id FROM customer_phones WHERE number = $1)"
    )
    times: dict[str, list[float]] = {"number": [], "account": [], "bare number": []}
    try:
        await store.by_number(phones(0)[0])  # warm the pool
        for i in picks:
            t = time.perf_counter()
            found = await store.by_number(phones(i)[-1])
            times["number"].append((time.perf_counter() - t) * 1000)
            assert any(c.account_no == account(i) for c in found)
            t = time.perf_counter()
            one = await store.by_account(account(i))
            times["account"].append((time.perf_counter() - t) * 1000)
            assert one is not None and one.account_no == account(i)
            t = time.perf_counter()
            await conn.fetch(bare, phones(i)[-1])
            times["bare number"].append((time.perf_counter() - t) * 1000)
    finally:
        await conn.close()
        await engine.dispose()
    return times


async def main(rows: int, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.csv"
        t = time.perf_counter()
        write_csv(path, rows)
        size = path.stat().st_size / 1e6
        print(f"CSV: {rows:,} customers, {size:.0f} MB, written in {time.perf_counter() - t:.1f} s")
        name = await create_database()
        bare = await create_database()
        try:
            url = f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
            elapsed, accepted = await product_import(url, path, Path(tmp) / "imports")
            bare_url = f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/{bare}"
            engine = db.make_engine(bare_url)
            await db.migrate(engine)
            await engine.dispose()
            floor = await bare_copy(f"{PG}/{bare}", path)
            print(
                f"import (product, batches of {Importer(None, Path()).batch}): "  # type: ignore[arg-type]
                f"{accepted:,} rows in {elapsed:.1f} s = {accepted / elapsed:,.0f} rows/s"
            )
            print(
                f"bare COPY (baseline):  {rows / floor:,.0f} rows/s; "
                f"product / COPY = {floor / elapsed:.2f}"
            )
            times = await lookups(url, f"{PG}/{name}", rows, n)
            base = statistics.median(times["bare number"])
            for kind in ("number", "account", "bare number"):
                ms = times[kind]
                print(
                    f"find by {kind:<11} x{len(ms)}: p50 {statistics.median(ms):.2f} ms, "
                    f"p99 {pct(ms, 99):.2f} ms, max {max(ms):.2f} ms "
                    f"(p50 / bare {statistics.median(ms) / base:.1f})"
                )
        finally:
            await drop_database(name)
            await drop_database(bare)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.lookups))
