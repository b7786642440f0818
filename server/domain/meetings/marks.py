"""Participants' marks kept between result reads, valid while their versions are.

A result needs every participant's cells as bitmasks over the grid. Reading
and converting them is most of a result's cost (100 participants: 1 MB of
JSON, 3 ms of parsing and masking), yet between two reads usually one
participant changed, or none. So the ids and versions are read first (one
small query) and only the participants whose version moved are read whole.
Every write to a participant's cells bumps its version (``write_row``), on any
instance, so a kept mask is never stale; a changed grid (another definition)
starts a poll's masks over. One cache per database; polls are dropped least
recently used first beyond ``MAX_POLLS``.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from server.domain.meetings.views import cells_of
from server.slots import Grid, Marks, marks
from server.storage import meetings as store
from server.storage.db import Database

# A poll's masks take about 200 bytes a participant: 1,000 polls of 100 are ~20 MB.
MAX_POLLS = 1_000


@dataclass
class _Poll:
    grid: Grid
    people: dict[str, tuple[int, Marks]] = field(default_factory=dict)


class MarksCache:
    """Each poll's participants' masks, by version, least recently used dropped first."""

    def __init__(self) -> None:
        self._polls: OrderedDict[str, _Poll] = OrderedDict()

    async def people(self, conn: AsyncConnection, meeting_id: str, grid: Grid) -> dict[str, Marks]:
        """Return every participant's masks, in joining order, reading only what changed."""
        poll = self._poll(meeting_id, grid)
        versions = await store.participant_versions(conn, meeting_id)
        stale = [ident for ident, version in versions if poll.people.get(ident, (0,))[0] != version]
        for row in await store.participants_by_ids(conn, stale):
            mask = marks(grid, cells_of(row, "available"), cells_of(row, "if_need_be"))
            poll.people[row["id"]] = (row["version"], mask)
        current = {ident for ident, _ in versions}
        for gone in set(poll.people) - current:
            del poll.people[gone]
        return {ident: poll.people[ident][1] for ident, _ in versions if ident in poll.people}

    def _poll(self, meeting_id: str, grid: Grid) -> _Poll:
        poll = self._polls.get(meeting_id)
        if poll is None or poll.grid.definition != grid.definition:
            poll = _Poll(grid)
        self._polls[meeting_id] = poll
        self._polls.move_to_end(meeting_id)
        while len(self._polls) > MAX_POLLS:
            self._polls.popitem(last=False)
        return poll


_CACHES: weakref.WeakKeyDictionary[Database, MarksCache] = weakref.WeakKeyDictionary()


def marks_of(db: Database) -> MarksCache:
    """Return the masks kept for this database's polls."""
    cache = _CACHES.get(db)
    if cache is None:
        cache = _CACHES[db] = MarksCache()
    return cache
