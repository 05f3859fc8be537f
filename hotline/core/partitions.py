"""Monthly RANGE partitions of a PostgreSQL table. Rule: no row is ever lost.

`convert` turns a plain table into a partitioned one of the same name, reading its columns,
indexes and constraints from the catalog (so a later release's index comes along), with one
partition per month of its rows and a DEFAULT partition for a row of any month without one.
`ensure_months` creates the months ahead and moves rows out of DEFAULT into their month;
`drop_months` detaches and drops whole months before a cutoff, except the months a guard
query says must stay. Months are the hotline's local months. SQLite has no partitions:
every function refuses it. The code above reads and writes the tables by name and never
sees the difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline.core.errors import HotlineError


class PartitionError(HotlineError):
    error_id = "partition_error"


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def of(cls, at: datetime, zone: ZoneInfo) -> Month:
        local = at.astimezone(zone)
        return cls(local.year, local.month)

    def plus(self, months: int) -> Month:
        n = self.year * 12 + self.month - 1 + months
        return Month(n // 12, n % 12 + 1)

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime(self.year, self.month, 1, tzinfo=zone)

    def suffix(self) -> str:
        return f"p{self.year:04d}{self.month:02d}"


@dataclass(frozen=True, slots=True)
class Dropped:
    partition: str
    rows: int
    held: int  # rows the guard keeps; 0: dropped (or would be, in a dry run)


def months_between(first: Month, last: Month) -> list[Month]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = m.plus(1)
    return out


_MONTH_NAME = re.compile(r"_p(\d{4})(\d{2})$")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def require_postgres(conn: AsyncConnection) -> None:
    if conn.dialect.name != "postgresql":
        raise PartitionError(
            "分区只适用于 PostgreSQL：当前数据库是 SQLite（嵌入式默认），它不需要也不支持分区。"
            "如需按月分区，请先改用 PostgreSQL（设置 database.url），再运行 hotline partition。"
        )


async def is_partitioned(conn: AsyncConnection, table: str) -> bool:
    kind = await conn.scalar(
        text("SELECT relkind::text FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table}
    )
    if kind is None:
        raise PartitionError(f"表 {table} 不存在：请先运行 hotline migrate。")
    return bool(kind == "p")


async def _columns(conn: AsyncConnection, table: str) -> list[str]:
    rows = await conn.execute(
        text(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(:t) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        ),
        {"t": table},
    )
    return [r[0] for r in rows]


def _bounds(month: Month, zone: ZoneInfo) -> str:
    start, end = month.start(zone), month.plus(1).start(zone)
    return f"FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"


async def _rebuild_statements(conn: AsyncConnection, table: str, key: str) -> list[str]:
    """The statements that give the new parent the old table's constraints and indexes, a
    unique one widened by the partition key (PostgreSQL requires it to contain the key)."""
    incoming = await conn.scalar(
        text(
            "SELECT string_agg(conrelid::regclass::text || '.' || conname, ', ') "
            "FROM pg_constraint WHERE confrelid = to_regclass(:t) AND contype = 'f'"
        ),
        {"t": table},
    )
    if incoming:
        raise PartitionError(
            f"表 {table} 被外键引用（{incoming}），分区表不能这样被引用："
            "请先去掉这些外键或不分区这张表。"
        )
    rows = (
        await conn.execute(
            text(
                "SELECT ic.relname, pg_get_indexdef(i.indexrelid), i.indisunique, "
                "c.conname, c.contype, i.indpred IS NOT NULL OR i.indexprs IS NOT NULL, "
                "ARRAY(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
                "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n "
                "  ORDER BY k.o) "
                "FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid "
                "LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid "
                "  AND c.conrelid = i.indrelid "
                "WHERE i.indrelid = to_regclass(:t) ORDER BY ic.relname"
            ),
            {"t": table},
        )
    ).all()
    unique_sets = {frozenset(r[6]) for r in rows if r[2] and key in r[6]}
    out: list[str] = []
    for name, indexdef, unique, conname, contype, partial, cols in rows:
        if not unique or key in cols:
            if contype in ("p", "u"):
                kind = "PRIMARY KEY" if contype == "p" else "UNIQUE"
                col_list = ", ".join(_q(c) for c in cols)
                out.append(
                    f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(conname)} {kind} ({col_list})"
                )
            else:
                out.append(indexdef)
            continue
        if partial:
            raise PartitionError(
                f"表 {table} 的唯一索引 {name} 是部分或表达式索引，无法加入分区键 {key}："
                "请先改成普通列上的唯一索引。"
            )
        widened = [*cols, key]
        if frozenset(widened) in unique_sets:
            continue  # another unique index already is (these columns, key)
        unique_sets.add(frozenset(widened))
        col_list = ", ".join(_q(c) for c in widened)
        if contype in ("p", "u"):
            kind = "PRIMARY KEY" if contype == "p" else "UNIQUE"
            out.append(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(conname)} {kind} ({col_list})")
        else:
            out.append(f"CREATE UNIQUE INDEX {_q(name)} ON {_q(table)} ({col_list})")
    others = await conn.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = to_regclass(:t) AND contype IN ('c', 'f') ORDER BY conname"
        ),
        {"t": table},
    )
    out += [f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(n)} {d}" for n, d in others]
    return out


async def convert(
    conn: AsyncConnection, table: str, key: str, zone: ZoneInfo, now: datetime, ahead: int
) -> int:
    """Partition `table` by month of `key` in the caller's transaction; the rows copied."""
    await require_postgres(conn)
    if await is_partitioned(conn, table):
        return 0
    await conn.execute(text(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE"))
    rebuild = await _rebuild_statements(conn, table, key)
    old = f"{table}__unpartitioned"
    sequences = await conn.execute(
        text(
            "SELECT d.objid::regclass::text, a.attname FROM pg_depend d "
            "JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' "
            "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
            "WHERE d.refobjid = to_regclass(:t) AND d.deptype = 'a'"
        ),
        {"t": table},
    )
    owned = sequences.all()
    first, last = (
        await conn.execute(text(f"SELECT min({_q(key)}), max({_q(key)}) FROM {_q(table)}"))
    ).one()
    months = months_between(
        Month.of(first or now, zone), max(Month.of(last or now, zone), Month.of(now, zone))
    )
    months = months_between(months[0], months[-1].plus(ahead))
    await conn.execute(text(f"ALTER TABLE {_q(table)} RENAME TO {_q(old)}"))
    await conn.execute(
        text(
            f"CREATE TABLE {_q(table)} (LIKE {_q(old)} INCLUDING DEFAULTS INCLUDING GENERATED "
            f"INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE ({_q(key)})"
        )
    )
    for m in months:
        part = f"{table}_{m.suffix()}"
        await conn.execute(
            text(f"CREATE TABLE {_q(part)} PARTITION OF {_q(table)} FOR VALUES {_bounds(m, zone)}")
        )
    await conn.execute(
        text(f"CREATE TABLE {_q(table + '_default')} PARTITION OF {_q(table)} DEFAULT")
    )
    cols = ", ".join(_q(c) for c in await _columns(conn, old))
    copied = await conn.execute(
        text(f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {_q(old)}")
    )
    for seq, column in owned:
        await conn.execute(text(f"ALTER SEQUENCE {seq} OWNED BY {_q(table)}.{_q(column)}"))
    await conn.execute(text(f"DROP TABLE {_q(old)}"))
    for statement in rebuild:
        await conn.execute(text(statement))
    return int(copied.rowcount)


async def _month_partitions(conn: AsyncConnection, table: str) -> dict[Month, str]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(:t)"
        ),
        {"t": table},
    )
    out: dict[Month, str] = {}
    for (name,) in rows:
        found = _MONTH_NAME.search(name)
        if found and name.startswith(table + "_"):
            out[Month(int(found[1]), int(found[2]))] = name
    return out


async def ensure_months(
    conn: AsyncConnection, table: str, key: str, zone: ZoneInfo, now: datetime, ahead: int
) -> list[str]:
    """Create this month and `ahead` more, and a month for every row waiting in DEFAULT
    (its rows moved there); idempotent. The partitions created."""
    await require_postgres(conn)
    default = f"{table}_default"
    have = await _month_partitions(conn, table)
    waiting = await conn.execute(
        text(f"SELECT DISTINCT date_trunc('month', {_q(key)} AT TIME ZONE :z) FROM {_q(default)}"),
        {"z": zone.key},
    )
    wanted = set(months_between(Month.of(now, zone), Month.of(now, zone).plus(ahead)))
    wanted |= {Month(d.year, d.month) for (d,) in waiting}
    created = []
    cols = ", ".join(_q(c) for c in await _columns(conn, table))
    for m in sorted(wanted - have.keys()):
        part = f"{table}_{m.suffix()}"
        start, end = m.start(zone), m.plus(1).start(zone)
        like = "INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
        await conn.execute(text(f"CREATE TABLE {_q(part)} (LIKE {_q(table)} {like})"))
        await conn.execute(
            text(
                f"WITH moved AS (DELETE FROM {_q(default)} WHERE {_q(key)} >= :a "
                f"AND {_q(key)} < :b RETURNING {cols}) "
                f"INSERT INTO {_q(part)} ({cols}) SELECT {cols} FROM moved"
            ),
            {"a": start, "b": end},
        )
        await conn.execute(
            text(
                f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(part)} FOR VALUES {_bounds(m, zone)}"
            )
        )
        created.append(part)
    return created


async def drop_months(
    conn: AsyncConnection,
    table: str,
    zone: ZoneInfo,
    before: datetime,
    now: datetime,
    guard: str | None,
    *,
    dry_run: bool = False,
) -> list[Dropped]:
    """Detach and drop each month that ends by `before`, unless `guard` (SQL counting the
    rows of the partition `{part}` that must be kept, with `:now` and `:before` bound)
    counts any. The DEFAULT partition is never dropped (`ensure_months` empties it)."""
    await require_postgres(conn)
    out = []
    for m, part in sorted((await _month_partitions(conn, table)).items()):
        if m.plus(1).start(zone) > before:
            continue
        rows = int(await conn.scalar(text(f"SELECT count(*) FROM {_q(part)}")) or 0)
        kept = None
        if guard and rows:
            held = await conn.scalar(
                text(guard.format(part=_q(part))), {"now": now, "before": before}
            )
            kept = f"{held} 行仍在保存期或法律保全中 (held)" if held else None
        if kept is None and not dry_run:
            await conn.execute(text(f"ALTER TABLE {_q(table)} DETACH PARTITION {_q(part)}"))
            await conn.execute(text(f"DROP TABLE {_q(part)}"))
        out.append(Dropped(part, rows, held))
    return out
