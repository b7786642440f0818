"""A local Redis Cluster for tests: three masters on loopback ports, no persistence."""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from redis.asyncio import Redis
from redis.crc import key_slot

MASTERS = 3
# A bus port is the client port + 10000: pick client ports whose bus port is free too.
BUS_OFFSET = 10_000
_START_TIMEOUT_S = 20.0


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_cluster_ports(count: int = MASTERS) -> list[int]:
    """Pick ``count`` consecutive client ports that, with their bus ports, are free."""
    for _ in range(200):
        base = random.randrange(20_000, 29_000)
        ports = list(range(base, base + count))
        if all(_free(p) and _free(p + BUS_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no free ports for a local Redis Cluster")


def _ask(port: int, *command: str) -> str:
    """Run one redis-cli command against a node and return its output."""
    done = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command],
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    )
    return done.stdout


class LocalCluster:
    """Redis Cluster masters as child processes: start, create, restart one, move a slot."""

    def __init__(self, workdir: Path, ports: list[int]) -> None:
        self.workdir = workdir
        self.ports = ports
        self._procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def seeds(self) -> list[str]:
        """The node URLs, as REDIS_CLUSTER_URL lists them."""
        return [f"redis://127.0.0.1:{port}" for port in self.ports]

    def start(self) -> None:
        """Start every master and join them into one cluster covering all slots."""
        for port in self.ports:
            self.start_node(port)
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{port}" for port in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )
        self.wait_ok()

    def start_node(self, port: int) -> None:
        """Start (or restart) one master; it keeps its identity in its nodes.conf."""
        workdir = self.workdir / str(port)
        workdir.mkdir(exist_ok=True)
        self._procs[port] = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
        )
        self._wait(lambda: _ask(port, "ping").strip() == "PONG", f"node {port} to answer")

    def kill_node(self, port: int) -> None:
        """SIGKILL one master."""
        proc = self._procs.pop(port)
        proc.kill()
        proc.wait()

    def pause(self, port: int) -> None:
        """SIGSTOP one master: its connections stay open, nothing is answered."""
        self._procs[port].send_signal(signal.SIGSTOP)

    def resume(self, port: int) -> None:
        """SIGCONT a paused master."""
        self._procs[port].send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill every master."""
        for port in list(self._procs):
            self.kill_node(port)

    def wait_ok(self) -> None:
        """Wait until every master says the cluster is ok."""
        self._wait(
            lambda: all("cluster_state:ok" in _ask(port, "cluster", "info") for port in self.ports),
            "cluster_state:ok on every master",
        )

    async def owner(self, channel: str) -> int:
        """Return the port of the master owning ``channel``'s hash slot."""
        async with Redis(port=self.ports[0]) as client:
            return await _owner_port(client, key_slot(channel.encode()))

    async def move_slot(self, slot: int, to_port: int) -> None:
        """Move ``slot`` to the master on ``to_port`` as a resharding does, without blocking."""
        clients = {port: Redis(port=port) for port in self.ports}
        try:
            ids = {
                port: (await c.execute_command("CLUSTER MYID")).decode()
                for port, c in clients.items()
            }
            source = await _owner_port(clients[to_port], slot)
            await clients[to_port].execute_command(
                "CLUSTER SETSLOT", slot, "IMPORTING", ids[source]
            )
            await clients[source].execute_command(
                "CLUSTER SETSLOT", slot, "MIGRATING", ids[to_port]
            )
            # Channels are no keys: nothing to MIGRATE before handing the slot over.
            others = [port for port in self.ports if port not in (source, to_port)]
            for port in [to_port, source, *others]:
                await clients[port].execute_command("CLUSTER SETSLOT", slot, "NODE", ids[to_port])
        finally:
            for client in clients.values():
                await client.aclose()

    def _wait(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(0.05)


async def _owner_port(client: Redis, slot: int) -> int:
    """Ask one node which master owns ``slot``."""
    for start, end, (_host, port, *_), *_ in await client.execute_command("CLUSTER SLOTS"):
        if start <= slot <= end:
            return int(port)
    raise AssertionError(f"no master owns slot {slot}")
