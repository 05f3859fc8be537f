"""How other packages read calls. Rule: outside telephony a call is read through this
module only, the `CallView` fields and the statements below, never through the calls table
(tests/test_boundaries.py keeps it so).

The statements are built here and executed in the caller's own session, so a store can
join or filter its rows by calls inside its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, RowMapping, Select, select, union
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from hotline.telephony.model import Outcome
from hotline.telephony.tables import CallRow


@dataclass(frozen=True, slots=True)
class CallView:
    """The few fields of a call other packages need."""

    call_id: str
    entered_at: datetime
    caller_number: str | None
    queue: str | None
    agent_member: str | None  # the queue member who answered
    agent_interface: str | None  # the phone that answered (PJSIP/1001)
    outcome: Outcome
    talk_seconds: float | None

    @classmethod
    def from_row(cls, row: RowMapping) -> CallView:
        """A view from a result row of `calls_from_number` (`result.mappings()`)."""
        return cls(
            call_id=row["call_id"],
            entered_at=row["entered_at"],
            caller_number=row["caller_number"],
            queue=row["queue"],
            agent_member=row["agent_member"],
            agent_interface=row["agent_interface"],
            outcome=Outcome(row["outcome"]),
            talk_seconds=row["talk_seconds"],
        )


_VIEW_COLUMNS = (
    CallRow.call_id,
    CallRow.entered_at,
    CallRow.caller_number,
    CallRow.queue,
    CallRow.agent_member,
    CallRow.agent_interface,
    CallRow.outcome,
    CallRow.talk_seconds,
)


def answered_by(agent: str) -> ColumnElement[bool]:
    """Calls `agent` answered: an agent user names the queue member or the interface."""
    return (CallRow.agent_member == agent) | (CallRow.agent_interface == agent)


def calls_answered_by(agent: str) -> Select[str]:
    """The ids of the calls `agent` answered, for what is kept per call (recordings,
    transcripts, scores, tickets): use as `Row.call_id.in_(calls_answered_by(agent))`."""
    return select(CallRow.call_id).where(answered_by(agent))


def owned_by(agent: str, id_col: Any, agent_col: Any, call_id_col: Any) -> ColumnElement[bool]:
    """Rows of a per-call table (a recording, score, ticket) that are `agent`'s: the row's
    own agent is them, or its call is one they answered. Written as `id IN (… UNION …)`
    so each part uses its index; `agent = X OR call_id IN (…)` makes the planner scan the
    whole table."""
    by_row = select(id_col).where(agent_col == agent)
    by_call = select(id_col).where(AmongCallsAnsweredBy(call_id_col, agent))
    return id_col.in_(union(by_row, by_call))  # type: ignore[no-any-return]


class AmongCallsAnsweredBy(ColumnElement[bool]):
    """`call_id_col` is one of the calls `agent` answered, found as the union of two index
    scans (member, interface). On PostgreSQL written `= ANY(ARRAY(…))`: as `IN (…)` the
    planner guesses a few thousand calls and reads the whole per-call table to hash-join
    them; with the array it looks each id up in the table's call_id index."""

    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate already: no `= 1` after it on SQLite
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy's own declaration)
        ("column", InternalTraversal.dp_clauseelement),
        ("calls", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, call_id_col: Any, agent: str) -> None:
        self.column = call_id_col
        self.calls = union(
            select(CallRow.call_id).where(CallRow.agent_member == agent),
            select(CallRow.call_id).where(CallRow.agent_interface == agent),
        ).scalar_subquery()


@compiles(AmongCallsAnsweredBy)
def _among_in(element: AmongCallsAnsweredBy, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.calls, **kw)}"


@compiles(AmongCallsAnsweredBy, "postgresql")
def _among_any(element: AmongCallsAnsweredBy, compiler: Any, **kw: Any) -> str:
    column, calls = compiler.process(element.column, **kw), compiler.process(element.calls, **kw)
    return f"{column} = ANY(ARRAY{calls})"


def call_answered_by(call_id: str, agent: str) -> Select[str]:
    """The id of call `call_id` if `agent` answered it, else no row."""
    return calls_answered_by(agent).where(CallRow.call_id == call_id)


def calls_from_number(
    number: str, *, exclude_call: str | None = None, limit: int = 20
) -> Select[str, datetime, str | None, str | None, str | None, str | None, str, float | None]:
    """The calls from `number` (all of `CallView`'s fields), newest first, but
    `exclude_call`; read each row with `CallView.from_row`."""
    return (
        select(*_VIEW_COLUMNS)
        .where(CallRow.caller_number == number, CallRow.call_id != (exclude_call or ""))
        .order_by(CallRow.entered_at.desc())
        .limit(limit)
    )
