"""Redis Cluster fan-out: sharded pub/sub (SPUBLISH, SSUBSCRIBE) spread over the masters."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, ClassVar, cast
from urllib.parse import urlsplit, urlunsplit

import redis.exceptions
from redis.asyncio import Redis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

from server.realtime.redis import LINK_ERRORS, Kind, RedisBackend, Request
from server.realtime.redis_pubsub import NodePubSub

# Besides a lost connection: the cluster is resharding, failing over or partly down.
CLUSTER_LINK_ERRORS: tuple[type[BaseException], ...] = (
    *LINK_ERRORS,
    redis.exceptions.AskError,  # MovedError too
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterError,
    redis.exceptions.RedisClusterException,
)


class RedisClusterBackend(RedisBackend):
    """Fan messages out through a Redis Cluster's sharded pub/sub.

    A channel lives on the master owning its hash slot. The publisher SPUBLISHes
    through a cluster client, which follows redirections itself; the subscriptions
    are SSUBSCRIBEd on one pub/sub connection per master, one command per slot.
    Moving a slot ends its subscriptions (Redis sends SUNSUBSCRIBE) and a node
    restart drops its connection: either is an outage of the whole link, which
    reads the slot map again, resubscribes everything and lets the hub catch up.
    """

    KINDS: ClassVar[dict[str, Kind]] = {
        "smessage": "message",
        "ssubscribe": "subscribe",
        "sunsubscribe": "unsubscribe",
    }
    PUBLISH_COMMAND: ClassVar[str] = "SPUBLISH"
    STREAMING: ClassVar[bool] = False  # SPUBLISH goes through the cluster client, which routes it
    link_errors: ClassVar[tuple[type[BaseException], ...]] = CLUSTER_LINK_ERRORS

    def __init__(self, seeds: Sequence[str], prefix: str = "ht", **options: Any) -> None:
        if not seeds:
            raise ValueError("a Redis Cluster needs at least one seed node")
        super().__init__(seeds[0], prefix, **options)
        self._seeds = list(seeds)
        self._owners: list[str] = []  # the URL of the master owning each hash slot

    def _connect_publisher(self) -> RedisCluster:
        """Create the cluster client that SPUBLISHes; it discovers the masters from the seeds."""
        nodes = [ClusterNode(*_address(url)) for url in self._seeds]
        return RedisCluster.from_url(self._url, startup_nodes=nodes, **self._client_options())

    async def _node_urls(self) -> list[str]:
        """Read the slot map afresh and name every master that owns a slot."""
        self._owners = await self._read_slot_map()
        return sorted(set(self._owners))

    def _route(self, channels: Collection[str]) -> dict[str, set[str]]:
        """Group ``channels`` by the master that owns their hash slot."""
        routed: dict[str, set[str]] = {}
        for channel in channels:
            routed.setdefault(self._owners[_slot(channel)], set()).add(channel)
        return routed

    async def _send_request(
        self, pubsub: NodePubSub, kind: Request, channels: Collection[str]
    ) -> None:
        """Send SSUBSCRIBE or SUNSUBSCRIBE, one command per hash slot as Redis demands."""
        by_slot: dict[int, list[str]] = {}
        for channel in channels:
            by_slot.setdefault(_slot(channel), []).append(channel)
        for group in by_slot.values():
            await pubsub.send("S" + kind.upper(), group)

    async def _read_slot_map(self) -> list[str]:
        """Ask the seeds, then the masters known so far, which master owns each slot."""
        error: BaseException = redis.exceptions.ConnectionError("no seed node to ask")
        for url in dict.fromkeys([*self._seeds, *self._owners]):
            client = Redis.from_url(url, retry=Retry(NoBackoff(), 0), **self._client_options())
            try:
                return self._slot_owners(url, await client.execute_command("CLUSTER", "SLOTS"))
            except self.link_errors as exc:
                error = exc
            finally:
                await client.aclose()
        raise error

    def _slot_owners(self, asked: str, ranges: list[list[Any]]) -> list[str]:
        """Turn the CLUSTER SLOTS reply of node ``asked`` into the URL of each slot's master."""
        owners: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        for start, end, (host, port, *_), *_replicas in ranges:
            # An empty host means the node answering, as Redis documents.
            url = _with_address(self._url, _decode(host) or _address(asked)[0], int(port))
            owners[start : end + 1] = [url] * (end + 1 - start)
        if None in owners:
            raise redis.exceptions.ClusterDownError("some hash slots have no master")
        return cast(list[str], owners)


def _slot(channel: str) -> int:
    """Return the hash slot of ``channel``."""
    return key_slot(channel.encode())


def _address(url: str) -> tuple[str, int]:
    """Return the host and port a node URL names."""
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 6379


def _with_address(url: str, host: str, port: int) -> str:
    """Point ``url`` at another node, keeping its scheme, credentials and options."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{address}" if userinfo else address))


def _decode(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
