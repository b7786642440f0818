"""Rows as this process last wrote them: a guess to skip a read, never the truth."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

Row = Mapping[Any, Any]


class RowCache:
    """The newest rows this process wrote, up to ``capacity`` (the oldest written go first).

    A change made from a cached row must write only while the row is still at the
    cached version (``UPDATE … WHERE version = v``), and must trust nothing else
    it concluded from it: a row changed meanwhile, here or on another instance,
    fails that guard or the change's checks, and the change reads it and runs again.
    """

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._rows: dict[Hashable, Row] = {}

    def get(self, key: Hashable) -> Row | None:
        """Return the row last written under ``key``, or None."""
        return self._rows.get(key)

    def put(self, key: Hashable, row: Row) -> None:
        """Keep ``row`` as the newest written under ``key``."""
        self._rows.pop(key, None)
        self._rows[key] = row
        if len(self._rows) > self.capacity:
            del self._rows[next(iter(self._rows))]

    def take(self, key: Hashable) -> Row | None:
        """Return and forget the row last written under ``key`` (None if none): a change
        that fails leaves nothing behind, and one that succeeds puts its own row."""
        return self._rows.pop(key, None)

    def __len__(self) -> int:
        return len(self._rows)
