"""When a quiet pub/sub link is PINGed, and when its silence means Redis hangs."""

from __future__ import annotations

from dataclasses import dataclass

# The shortest wait for a message, so a decision already due cannot spin.
MIN_WAIT_S = 0.001


@dataclass
class Liveness:
    """Decide when a quiet pub/sub link gets a PING, and when its silence means a hang.

    Any message proves Redis is alive; a PING is needed only when none came for
    ``quiet_s``. Without one, a stopped Redis (SIGSTOP, a stalled VM, a dropped
    route) would leave the reader waiting forever with the link still "up".
    """

    quiet_s: float
    timeout_s: float
    heard: float  # when the link last delivered anything
    pinged: float | None = None  # when the unanswered PING went out

    def hear(self, now: float) -> None:
        """Note that the link delivered something."""
        self.heard, self.pinged = now, None

    def ping(self, now: float) -> None:
        """Note that a PING went out."""
        self.pinged = now

    def wait(self, now: float) -> float:
        """Return how long to wait for a message before deciding again."""
        due = self.heard + self.quiet_s if self.pinged is None else self.pinged + self.timeout_s
        return max(due - now, MIN_WAIT_S)

    def ping_due(self, now: float) -> bool:
        """Tell whether the link has been quiet long enough to PING it."""
        return self.pinged is None and now >= self.heard + self.quiet_s

    def hung(self, now: float) -> bool:
        """Tell whether a PING went unanswered for ``timeout_s``."""
        return self.pinged is not None and now >= self.pinged + self.timeout_s
