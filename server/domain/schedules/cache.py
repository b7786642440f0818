"""An owner's series and overrides kept between window reads, valid while their topic head is.

Every change to a user's data appends an event to the topic ``user:<id>`` in
the writing transaction, which bumps that topic's head (``topic_heads.seq``).
A window read looks the head up (one primary-key read) and uses the rows kept
for the owner only if they were read at that very head; otherwise it reads all
of the owner's series and overrides once and keeps them. A change made through
any server instance moves the head, so every instance sees it on its next read
(a write to schedules or overrides must therefore emit on the owner's topic, as
every one does). The head is read before the rows, so kept rows are never older
than their head.

One cache per database (an app's ``Database``): heads of two databases say
nothing about each other. Owners are dropped least recently used first beyond
MAX_ROWS rows kept; an owner with more than MAX_OWNER_ROWS rows is read by
window, as without the cache. Kept with the rows are the per-series view
templates (per answer zone), which are as valid as the rows they come from;
they are the owner's views (with the allow-lists of ``visibility``).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.schedules.views import Template
from server.realtime.topics import user_topic
from server.storage import schedules as store
from server.storage.db import Database
from server.storage.events import get_heads

# Series plus overrides kept over all owners: a row takes about 1 KB, and its
# templates 2.5 KB for the first answer zone and 1.3 KB for the second: ~50 MB at most.
MAX_ROWS = 10_000
# A bigger calendar is read window by window, as without the cache.
MAX_OWNER_ROWS = 5_000
# Answer zones whose templates an owner keeps (UTC counts as one); a further zone
# starts them over.
MAX_ZONES = 2

Templates = dict[str, Template]


@dataclass
class Owned:
    """All of an owner's series (in (start_at, id) order) and overrides, read at ``head``.

    ``series`` is None when the owner has too many rows to keep (read by window).
    """

    head: int
    series: Sequence[RowMapping] | None
    overrides: Sequence[RowMapping] = ()
    templates: dict[str | None, Templates] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Count the rows this entry keeps (1 for a too-big marker)."""
        return 1 if self.series is None else len(self.series) + len(self.overrides)

    def templates_for(self, zone: str | None) -> Templates:
        """Return the shared templates of views answered in ``zone`` (None is UTC)."""
        zone = None if zone == "UTC" else zone
        if zone not in self.templates and len(self.templates) >= MAX_ZONES:
            self.templates.clear()
        return self.templates.setdefault(zone, {})


class WindowCache:
    """Owners' rows by owner id, least recently used first, at most ``max_rows`` rows in all."""

    def __init__(self, max_rows: int = MAX_ROWS) -> None:
        self.max_rows = max_rows
        self._owners: OrderedDict[str, Owned] = OrderedDict()
        self._rows = 0

    def get(self, owner_id: str, head: int | None = None) -> Owned | None:
        """Return what is kept for the owner if it was read at ``head`` (any head: None)."""
        owned = self._owners.get(owner_id)
        if owned is None or (head is not None and owned.head != head):
            return None
        self._owners.move_to_end(owner_id)
        return owned

    def put(self, owner_id: str, owned: Owned) -> None:
        """Keep ``owned`` unless something read at a later head is kept already."""
        old = self._owners.pop(owner_id, None)
        if old is not None:
            self._rows -= old.size
            if old.head > owned.head:
                owned = old
        self._owners[owner_id] = owned
        self._rows += owned.size
        while self._rows > self.max_rows and len(self._owners) > 1:
            _, dropped = self._owners.popitem(last=False)
            self._rows -= dropped.size


_CACHES: weakref.WeakKeyDictionary[Database, WindowCache] = weakref.WeakKeyDictionary()


def cache_of(db: Database) -> WindowCache:
    """Return the cache of this database's rows."""
    cache = _CACHES.get(db)
    if cache is None:
        cache = _CACHES[db] = WindowCache()
    return cache


async def window_rows(
    conn: AsyncConnection, db: Database, owner_id: str, start: int, end: int, zone: str | None
) -> tuple[list[RowMapping], Sequence[RowMapping], Templates]:
    """Return the series and overrides a window needs (as ``store.window_rows`` reads them)
    and the templates to build its views with."""
    owned = await _owned(conn, cache_of(db), owner_id)
    if owned.series is None:
        return (*await store.window_rows(conn, owner_id, start, end), {})
    candidates, overrides = store.rows_in_window(owned.series, owned.overrides, start, end)
    return candidates, overrides, owned.templates_for(zone)


async def _owned(conn: AsyncConnection, cache: WindowCache, owner_id: str) -> Owned:
    """Return the owner's rows at the current head, from the cache or read and kept."""
    topic = user_topic(owner_id)
    head = (await get_heads(conn, [topic]))[topic]
    owned = cache.get(owner_id, head)
    if owned is not None:
        return owned
    series = await store.all_series(conn, owner_id, limit=MAX_OWNER_ROWS + 1)
    room = MAX_OWNER_ROWS - len(series)
    overrides = await store.all_overrides(conn, owner_id, limit=room + 1) if room >= 0 else ()
    if room < len(overrides):
        owned = Owned(head, None)
    else:
        owned = Owned(head, series, overrides, _unchanged(cache.get(owner_id), series))
    cache.put(owner_id, owned)
    return owned


def _unchanged(before: Owned | None, series: Sequence[RowMapping]) -> dict[str | None, Templates]:
    """Return the templates kept at an earlier head of the series whose rows are unchanged
    (a change usually touches one series: the others' templates need not be built again)."""
    if before is None or before.series is None:
        return {}
    values = {row["id"]: tuple(row.values()) for row in before.series}
    same = {row["id"] for row in series if values.get(row["id"]) == tuple(row.values())}
    return {
        zone: {ident: kept for ident, kept in templates.items() if ident in same}
        for zone, templates in before.templates.items()
    }
