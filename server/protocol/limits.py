"""Rate limits (token buckets) and the client address behind trusted proxies."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Sequence

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TokenBucket:
    """Allow ``rate`` events a second on average, ``burst`` at once."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when none is left."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True

    def wait_s(self) -> float:
        """Return how long until the bucket holds a whole token again."""
        return max(0.0, (1 - self.tokens) / self.rate)

    def full(self) -> bool:
        """Tell whether the bucket has refilled completely (nothing to remember)."""
        return self.tokens + (time.monotonic() - self.stamp) * self.rate >= self.burst


class WindowCounter:
    """Count events in a sliding window of ``window_s`` seconds."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self._stamps: list[float] = []

    def add(self) -> int:
        """Record one event; return how many fall in the window."""
        now = time.monotonic()
        self._stamps = [t for t in self._stamps if now - t < self.window_s]
        self._stamps.append(now)
        return len(self._stamps)


class ConnectLimiter:
    """A token bucket per client address for new connections."""

    # Forget refilled buckets past this many addresses so memory stays bounded.
    MAX_TRACKED = 10_000

    def __init__(self, per_min: float, burst: int) -> None:
        self.rate = per_min / 60.0
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, address: str) -> float | None:
        """Spend one connection for ``address``: None, or the seconds until it may try again."""
        bucket = self._buckets.get(address)
        if bucket is None:
            if len(self._buckets) >= self.MAX_TRACKED:
                self._forget_full()
            bucket = self._buckets[address] = TokenBucket(self.rate, self.burst)
        return None if bucket.take() else bucket.wait_s()

    def _forget_full(self) -> None:
        for address in [a for a, b in self._buckets.items() if b.full()]:
            del self._buckets[address]


def parse_networks(cidrs: Sequence[str]) -> list[IpNetwork]:
    """Parse TRUSTED_PROXY_IPS."""
    return [ipaddress.ip_network(cidr, strict=False) for cidr in cidrs]


def _trusted(address: str, networks: Sequence[IpNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in networks)


def client_address(
    peer: str | None, forwarded_for: str | None, networks: Sequence[IpNetwork]
) -> str:
    """Return the client's address: the peer's, or, behind trusted proxies, the first
    untrusted hop of X-Forwarded-For read from the right."""
    address = peer or "unknown"
    if not forwarded_for or not _trusted(address, networks):
        return address
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if not _trusted(hop, networks):
            return hop
        address = hop
    return address
