"""The publish queue: frames waiting for Redis, bounded, dropping the oldest when full."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

Frame = tuple[str, bytes]  # (topic, message)


class Outbox:
    """Hold frames in publish order within ``max_frames`` and ``max_bytes``.

    A full outbox drops its oldest frames: the newest still reach other instances
    at once, and their seq shows each receiving hub the gap, which it reads from
    the event log. A single frame larger than ``max_bytes`` is still kept, alone.
    """

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        if max_frames < 1 or max_bytes < 1:
            raise ValueError("an outbox holds at least one frame and one byte")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._frames: deque[Frame] = deque()
        self._bytes = 0
        self.dropped = 0  # since the last take_dropped()
        self.dropped_total = 0
        self.high_water = 0  # the most frames ever held at once

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def size(self) -> int:
        """Return the bytes of the frames held."""
        return self._bytes

    def put(self, topic: str, message: bytes) -> None:
        """Append a frame, first dropping the oldest ones it does not fit beside."""
        while self._frames and not self._fits(len(message)):
            self._bytes -= len(self._frames.popleft()[1])
            self.count_dropped(1)
        self._frames.append((topic, message))
        self._bytes += len(message)
        self.high_water = max(self.high_water, len(self._frames))

    def take(self, max_frames: int, max_bytes: int) -> list[Frame]:
        """Remove and return the oldest frames: at least one, within both limits."""
        batch: list[Frame] = []
        size = 0
        while self._frames and len(batch) < max_frames:
            message = self._frames[0][1]
            if batch and size + len(message) > max_bytes:
                break
            batch.append(self._frames.popleft())
            size += len(message)
        self._bytes -= size
        return batch

    def put_back(self, batch: Sequence[Frame]) -> None:
        """Return a batch that could not be sent to the head, dropping what no longer fits.

        The batch is older than anything queued since, so its own oldest frames go first.
        """
        for kept, (topic, message) in enumerate(reversed(batch)):
            if self._frames and not self._fits(len(message)):
                self.count_dropped(len(batch) - kept)
                break
            self._frames.appendleft((topic, message))
            self._bytes += len(message)
        self.high_water = max(self.high_water, len(self._frames))

    def take_dropped(self) -> int:
        """Return how many frames were dropped since the last call, and reset that count."""
        dropped, self.dropped = self.dropped, 0
        return dropped

    def clear(self) -> int:
        """Drop every frame; return how many there were."""
        count = len(self._frames)
        self._frames.clear()
        self._bytes = 0
        return count

    def _fits(self, size: int) -> bool:
        """Tell whether one more frame of ``size`` bytes stays within both bounds."""
        return len(self._frames) < self.max_frames and self._bytes + size <= self.max_bytes

    def count_dropped(self, count: int) -> None:
        """Count frames dropped, here or by the publisher (a batch Redis refused)."""
        self.dropped += count
        self.dropped_total += count
