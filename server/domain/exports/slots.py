"""How many exports run at once: each takes a core's worth of formatting while it runs."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator

from schema.errors import ErrorCode
from server.errors import ApiError

# A user's second export in parallel is reasonable (CSV and the archive); a
# third is a script that should wait for the first.
PER_USER = 2


class ExportSlots:
    """Count the exports running on this instance, in all and per user."""

    def __init__(self, total: int, per_user: int = PER_USER) -> None:
        self.total = total
        self.per_user = per_user
        self._running: Counter[str] = Counter()

    def running(self, user_id: str | None = None) -> int:
        """Return how many exports run now: the user's, or all."""
        return self._running[user_id] if user_id is not None else self._running.total()

    @contextlib.contextmanager
    def hold(self, user_id: str) -> Iterator[None]:
        """Hold a slot while the block runs; refuse with rate_limited when none is free."""
        if self._running[user_id] >= self.per_user:
            raise _busy("you already have this many exports running", self.per_user, "user")
        if self._running.total() >= self.total:
            raise _busy("this server is running its limit of exports", self.total, "instance")
        self._running[user_id] += 1
        try:
            yield
        finally:
            self._running[user_id] -= 1
            if not self._running[user_id]:
                del self._running[user_id]


def _busy(message: str, limit: int, scope: str) -> ApiError:
    text = f"{message} ({limit}); retry when one finishes"
    return ApiError(ErrorCode.RATE_LIMITED, text, {"limit": limit, "scope": scope})
