"""The customer file in the database (SQLite and PostgreSQL): kept up to date, found by any
of its numbers or its 户号, imported from CSV or XLSX with a report of rejected rows, and an
import stopped halfway resumes where it stopped without importing a row twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from openpyxl import Workbook
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.core import db
from hotline.core.errors import Conflict, InvalidInput
from hotline.customers.importer import Importer, ImportStatus
from hotline.customers.model import CustomerIn
from hotline.customers.store import CustomerStore
from tests.customers.factories import T0

HEADER = "户号,姓名,地址,电话,区县,街道\n"


def csv_file(tmp_path: Path, rows: list[str], name: str = "customers.csv") -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


@pytest.fixture
def store(engine: AsyncEngine) -> CustomerStore:
    return CustomerStore(db.session_factory(engine))


async def test_a_customer_is_kept_up_to_date_and_found_by_every_number(
    store: CustomerStore,
) -> None:
    zhang = await store.create(
        CustomerIn.make("100001", "张三", "西湖区文三路1号", ["13800138000", "0571-88886666"]),
        actor="boss",
        at=T0,
    )
    # a second customer on the same landline: a number may have several customers
    shop = await store.create(
        CustomerIn.make("100002", "张三小卖部", "西湖区文三路1号底商", ["057188886666"]),
        actor="boss",
        at=T0,
    )
    assert [c.account_no for c in await store.by_number("+86 138 0013 8000")] == ["100001"]
    assert [c.account_no for c in await store.by_number("0571-88886666")] == ["100001", "100002"]
    assert (await store.by_account(" 100002 ")) == shop

    moved = await store.update(
        zhang.id,
        CustomerIn.make("100001", "张三", "拱墅区湖墅南路8号", ["13800138000", "13900139000"]),
        actor="boss",
        at=T0,
    )
    assert moved.address == "拱墅区湖墅南路8号" and moved.phones == ("13800138000", "13900139000")
    assert [c.id for c in await store.by_number("057188886666")] == [shop.id]
    with pytest.raises(Conflict, match="户号 100002 已有档案"):
        await store.create(CustomerIn.make("100002", "李四", "某路", []), actor="boss", at=T0)
    await store.delete(shop.id, actor="boss", at=T0)
    assert await store.by_number("057188886666") == []
    actions = [(e.actor, e.action) for e in await store.audit_log()]
    assert actions == [
        ("boss", "delete"),
        ("boss", "update"),
        ("boss", "create"),
        ("boss", "create"),
    ]


async def test_an_import_reports_rejected_rows_and_duplicates_without_merging(
    store: CustomerStore, engine: AsyncEngine, tmp_path: Path
) -> None:
    await store.create(CustomerIn.make("100009", "老客户", "某路9号", []), actor="boss", at=T0)
    importer = Importer(db.session_factory(engine), tmp_path, batch=2)
    content = csv_file(
        tmp_path,
        [
            "100001,张三,西湖区文三路1号,13800138000;057188886666,西湖区,文三路",
            "100002,李四,西湖区文三路2号,057188886666,西湖区,文三路",
            "100001,张三丰,另一个地址,13700137000,,",  # duplicate in the file
            "100009,老客户,某路9号,,,",  # already in the file before the import
            "100003,,某路3号,13600136000,,",  # no name
            "100004,王五,某路4号,12,,",  # bad number
        ],
    )
    job = await importer.create("客户.csv", content, actor="boss")
    assert job.total_rows == 6 and job.cursor == 0
    done = await importer.run(job.id)
    assert done.status is ImportStatus.DONE and done.percent == 100.0
    assert (done.accepted, done.rejected) == (2, 4)
    rejects = await importer.rejects(job.id)
    assert [(r.row_no, r.account_no) for r in rejects] == [
        (4, "100001"),
        (5, "100009"),
        (6, None),
        (7, None),
    ]
    assert "第2行" in rejects[0].reason and "未合并" in rejects[0].reason
    assert "已存在" in rejects[1].reason
    assert "姓名为空" in rejects[2].reason and "电话号码「12」" in rejects[3].reason
    zhang = await store.by_account("100001")
    assert zhang is not None and zhang.name == "张三" and zhang.district == "西湖区"
    assert [c.account_no for c in await store.by_number("057188886666")] == ["100001", "100002"]


async def test_an_import_stopped_halfway_resumes_at_its_cursor(
    store: CustomerStore, engine: AsyncEngine, tmp_path: Path
) -> None:
    rows = [f"{200000 + i},客户{i},某路{i}号,139{i:08d},," for i in range(25)]
    rows.insert(12, "200003,重复,某路,13000000000,,")  # a duplicate after the first batches
    first = Importer(db.session_factory(engine), tmp_path, batch=5)
    job = await first.create("big.csv", csv_file(tmp_path, rows), actor="boss")
    halfway = await first.run(job.id, max_batches=2)  # the process dies after two batches
    assert (halfway.status, halfway.cursor, halfway.accepted) == (ImportStatus.RUNNING, 10, 10)
    assert halfway.percent == pytest.approx(38.5)

    second = Importer(db.session_factory(engine), tmp_path, batch=5)  # a new process
    assert await second.resume_all() == [job.id]
    done = await second.wait(job.id)
    assert (done.status, done.cursor, done.accepted, done.rejected) == (
        ImportStatus.DONE,
        26,
        25,
        1,
    )
    assert await store.count() == 25
    [dup] = await second.rejects(job.id)
    assert dup.row_no == 14 and f"导入#{job.id}第5行" in dup.reason


async def test_an_xlsx_import_and_wrong_columns(
    store: CustomerStore, engine: AsyncEngine, tmp_path: Path
) -> None:
    importer = Importer(db.session_factory(engine), tmp_path)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["户号", "户名", "用水地址", "手机"])
    ws.append([300001, "赵六", "滨江区江南大道5号", 13512345678])
    ws.append([None, None, None, None])  # an empty row is skipped
    ws.append(["300002", "钱七", "滨江区江南大道6号", "13512345679/13512345670"])
    path = tmp_path / "upload.xlsx"
    wb.save(path)
    job = await importer.create("客户.xlsx", path.read_bytes(), actor="boss")
    done = await importer.run(job.id)
    assert (done.total_rows, done.accepted, done.rejected) == (2, 2, 0)
    qian = await store.by_account("300002")
    assert qian is not None and qian.phones == ("13512345670", "13512345679")

    with pytest.raises(InvalidInput) as exc:
        await importer.create("bad.csv", "编号,名字\n1,张三\n".encode(), actor="boss")
    assert (
        exc.value.error_id == "import_columns"
        and "必需列：户号、姓名、地址、电话" in exc.value.message
    )
    gbk = (HEADER + "400001,孙八,上城区解放路1号,13800000001,,\n").encode("gb18030")
    job = await importer.create("excel.csv", gbk, actor="boss")
    assert (await importer.run(job.id)).accepted == 1
    assert (await store.by_account("400001")).name == "孙八"  # type: ignore[union-attr]


DESK_TABLES = {
    "customers",
    "customer_phones",
    "customer_imports",
    "customer_import_rejects",
    "call_customers",
    "identity_checks",
    "customer_audit",
    "kb_articles",
    "kb_versions",
    "kb_grams",
    "notices",
}


async def test_the_migration_makes_the_desk_tables_as_the_models_declare(
    engine: AsyncEngine,
) -> None:
    import hotline.knowledge.notices
    import hotline.knowledge.store  # noqa: F401 - their tables join the metadata

    def check(conn):  # type: ignore[no-untyped-def]
        assert set(inspect(conn).get_table_names()) >= DESK_TABLES
        diff = compare_metadata(MigrationContext.configure(conn), db.Base.metadata)
        ours = [d for d in diff if any(f"'{t}'" in repr(d) for t in DESK_TABLES)]
        assert ours == []

    async with engine.connect() as conn:
        await conn.run_sync(check)
