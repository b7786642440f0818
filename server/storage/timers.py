"""Timer rows and their queries."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.storage.rows import one_of, put_row, run_prebuilt
from server.storage.tables import timer_history, timers

ACTIVE = ("RUNNING", "PAUSED")


async def insert_timer(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """Insert a timer row."""
    await conn.execute(insert(timers).values(**values))


# Built once: the hot path of every timer command skips statement construction.
_GET = select(timers).where(
    timers.c.id == bindparam("b_id"), timers.c.owner_id == bindparam("b_owner")
)
_GET_FOR_UPDATE = _GET.with_for_update()
_UPDATE = (
    update(timers).where(timers.c.id == bindparam("b_id")).values(version=timers.c.version + 1)
)


async def get_timer(
    conn: AsyncConnection, owner_id: str, timer_id: str, *, for_update: bool = False
) -> RowMapping | None:
    """Return the owner's timer, locked for the transaction when asked; None if absent."""
    stmt = _GET_FOR_UPDATE if for_update else _GET
    found = await run_prebuilt(conn, stmt, {"b_id": timer_id, "b_owner": owner_id})
    return cast(RowMapping, found[0]) if found else None


async def update_timer(conn: AsyncConnection, timer_id: str, values: dict[str, Any]) -> None:
    """Write changed timer fields (the SET clause follows the keys) and bump the version."""
    await conn.execute(_UPDATE, {**values, "b_id": timer_id})


async def put_history(conn: AsyncConnection, entry: dict[str, Any]) -> None:
    """Write an entry of a timer's history into its slot (``timer_history`` values)."""
    await put_row(conn, timer_history, entry)


def history_counts(rows: Iterable[Any]) -> dict[str, int]:
    """Return each timer row's ``history_n`` by id (what ``read_histories`` takes)."""
    return {row["id"]: row["history_n"] for row in rows}


async def read_histories(
    conn: AsyncConnection, counts: Mapping[str, int], slots: int
) -> dict[str, str]:
    """Return each timer's history entries as a JSON array, oldest first, by timer id
    (``counts``: each timer's ``history_n``; ``slots``: the ring's size, entry n being
    in slot n modulo it; a timer with none gets ``[]``)."""
    found: dict[str, list[tuple[int, str]]] = {ident: [] for ident, n in counts.items() if n}
    if found:
        stmt = select(timer_history.c.timer_id, timer_history.c.slot, timer_history.c.entry).where(
            one_of(conn, timer_history.c.timer_id, found)
        )
        for timer_id, slot, entry in (await conn.execute(stmt)).all():
            # Counted from the oldest kept entry, which is in the slot after the newest's.
            position = (slot - counts[timer_id] - 1) % slots
            found[timer_id].append((position, entry))
    histories = dict.fromkeys(counts, "[]")
    histories.update(
        {i: "[" + ",".join(entry for _, entry in sorted(kept)) + "]" for i, kept in found.items()}
    )
    return histories


async def delete_timer(conn: AsyncConnection, timer_id: str) -> None:
    """Delete a timer row."""
    await conn.execute(delete(timers).where(timers.c.id == timer_id))


async def list_timers(
    conn: AsyncConnection,
    owner_id: str,
    *,
    status: str | None = None,
    kind: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    after: Sequence[Any] | None = None,
    limit: int = 100,
    levels: Sequence[str] | None = None,
) -> Sequence[RowMapping]:
    """Return the owner's timers newest first, filtered, after the keyset cursor ``after``.

    ``levels`` keeps only timers of those visibility levels (a viewer's pre-filter).
    """
    stmt = select(timers).where(timers.c.owner_id == owner_id)
    if levels is not None:
        stmt = stmt.where(timers.c.visibility.in_(list(levels)))
    if status is not None:
        stmt = stmt.where(timers.c.status == status)
    if kind is not None:
        stmt = stmt.where(_kind_clause(kind))
    if start_ms is not None:
        stmt = stmt.where(timers.c.started_at >= start_ms)
    if end_ms is not None:
        stmt = stmt.where(timers.c.started_at < end_ms)
    if after is not None:
        created, ident = after
        stmt = stmt.where(
            or_(
                timers.c.created_at < created,
                and_(timers.c.created_at == created, timers.c.id < ident),
            )
        )
    stmt = stmt.order_by(timers.c.created_at.desc(), timers.c.id.desc()).limit(limit)
    return (await conn.execute(stmt)).mappings().all()


def _kind_clause(kind: str) -> Any:
    if kind == "schedule":
        return timers.c.schedule_id.is_not(None)
    if kind == "todo":
        return timers.c.todo_id.is_not(None)
    return and_(timers.c.schedule_id.is_(None), timers.c.todo_id.is_(None))


async def list_active_timers(
    conn: AsyncConnection,
    owner_id: str,
    statuses: Sequence[str] = ACTIVE,
    levels: Sequence[str] | None = None,
) -> Sequence[RowMapping]:
    """Return the owner's timers in ``statuses`` (and visibility ``levels``), oldest first."""
    stmt = (
        select(timers)
        .where(timers.c.owner_id == owner_id, timers.c.status.in_(statuses))
        .order_by(timers.c.started_at, timers.c.id)
    )
    if levels is not None:
        stmt = stmt.where(timers.c.visibility.in_(list(levels)))
    return (await conn.execute(stmt)).mappings().all()


# The due scheduler's two queries, run after every earlier due a resume announces.
_NEXT_DUE = select(func.min(timers.c.due_at).label("due_at")).where(
    timers.c.status == "RUNNING", timers.c.due_fired.is_(False)
)
_DUE = (
    select(timers.c.id, timers.c.owner_id)
    .where(
        timers.c.status == "RUNNING",
        timers.c.due_fired.is_(False),
        timers.c.due_at <= bindparam("b_now"),
    )
    .order_by(timers.c.due_at)
    .limit(bindparam("b_limit"))
)


async def next_due_at(conn: AsyncConnection) -> int | None:
    """Return the earliest due instant among running timers whose due is not emitted yet."""
    value = (await run_prebuilt(conn, _NEXT_DUE, {}))[0]["due_at"]
    return None if value is None else int(value)


async def list_due_timers(
    conn: AsyncConnection, now: int, limit: int = 500
) -> list[tuple[str, str]]:
    """Return ``(id, owner_id)`` of running timers that reached their allocation, unannounced."""
    rows = await run_prebuilt(conn, _DUE, {"b_now": now, "b_limit": limit})
    return [(row["id"], row["owner_id"]) for row in rows]


async def claim_due(conn: AsyncConnection, timer_id: str, now: int) -> RowMapping | None:
    """Mark the timer's due as emitted; return its row only if this caller won the claim."""
    stmt = (
        update(timers)
        .where(
            timers.c.id == timer_id,
            timers.c.status == "RUNNING",
            timers.c.due_fired.is_(False),
            timers.c.due_at <= now,
        )
        .values(due_fired=True)
        .returning(*timers.c)
    )
    return (await conn.execute(stmt)).mappings().first()
