"""One Redis's capacity for the fan-out's publish load: messages/s and CPU per message.

A private redis-server (plain, or a one-master cluster for SPUBLISH) receives pipelined
PUBLISHes of event-sized frames from redis-benchmark, and fans each out to N subscribing
"instances" (redis-cli processes subscribed to every channel, their output counted by wc).
Redis is single-threaded, so its CPU per message sets one shard's ceiling:
1e6 / (CPU µs per message) messages/s at one full core.

Usage: .venv/bin/python bench/redis_capacity.py   (see bench/README.md)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rediscluster import free_cluster_ports

COMMANDS = {"publish": ("PUBLISH", "SUBSCRIBE"), "spublish": ("SPUBLISH", "SSUBSCRIBE")}
DRAIN_TIMEOUT_S = 120.0
SETTLE_S = 1.0


@dataclass(frozen=True)
class Config:
    """Command-line settings of one run."""

    kinds: list[str]
    sizes: list[int]
    fanouts: list[int]
    messages: int
    channels: int
    pipeline: int
    clients: int


def redis_cli(port: int, *args: str) -> str:
    """Run one redis-cli command and return its output."""
    done = subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


class PrivateRedis:
    """A redis-server of this run only; for SPUBLISH, a cluster of one master owning every slot."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.port = free_cluster_ports(1)[0]
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        # A subscriber slower than the publisher must be counted, not disconnected.
        args += ["--client-output-buffer-limit", "pubsub 0 0 0"]
        if kind == "spublish":
            args += ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
        self.proc = subprocess.Popen(
            ["redis-server", *args], cwd=workdir, stdout=subprocess.DEVNULL
        )
        self._until(lambda: self._ask("ping") == "PONG")
        if kind == "spublish":
            redis_cli(self.port, "cluster", "addslotsrange", "0", "16383")
            self._until(lambda: "cluster_state:ok" in self._ask("cluster", "info"))

    def cpu_s(self) -> float:
        """Return the CPU seconds this Redis used so far."""
        times = psutil.Process(self.proc.pid).cpu_times()
        return float(times.user + times.system)

    def output_queued(self) -> int:
        """Return the bytes waiting in subscribers' output buffers."""
        clients = self._ask("client", "list").splitlines()
        return sum(
            int(field[5:]) for c in clients for field in c.split() if field.startswith("omem=")
        )

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def _ask(self, *args: str) -> str:
        try:
            return redis_cli(self.port, *args)
        except subprocess.CalledProcessError:
            return ""

    def _until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + 20
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not come up")
            time.sleep(0.05)


def channel_names(count: int) -> list[str]:
    """Name the channels as redis-benchmark's __rand_int__ fills them; one slot (a hash tag)."""
    return [f"ht:{{t}}:{i:012d}" for i in range(count)]


class Subscriber:
    """One 'instance': redis-cli subscribed to every channel, its output lines counted by wc."""

    def __init__(self, port: int, command: str, channels: list[str]) -> None:
        self.cli = subprocess.Popen(
            ["redis-cli", "-p", str(port), command, *channels], stdout=subprocess.PIPE
        )
        self.wc = subprocess.Popen(["wc", "-l"], stdin=self.cli.stdout, stdout=subprocess.PIPE)
        assert self.cli.stdout is not None
        self.cli.stdout.close()  # wc holds the pipe now
        self.channels = len(channels)

    def messages(self) -> int:
        """Stop and return how many messages arrived (3 lines each, after the confirmations)."""
        self.cli.terminate()
        out, _ = self.wc.communicate(timeout=30)
        self.cli.wait()
        return (int(out) - 3 * self.channels) // 3


def measure(
    redis: PrivateRedis, kind: str, size: int, fanout: int, cfg: Config
) -> dict[str, object]:
    """Publish ``cfg.messages`` frames of ``size`` bytes to ``fanout`` subscribers; report."""
    publish, subscribe = COMMANDS[kind]
    channels = channel_names(cfg.channels)
    subscribers = [Subscriber(redis.port, subscribe, channels) for _ in range(fanout)]
    numsub = "shardnumsub" if kind == "spublish" else "numsub"
    deadline = time.monotonic() + 20
    while int(redis_cli(redis.port, "pubsub", numsub, channels[-1]).split()[-1]) < fanout:
        if time.monotonic() > deadline:
            raise RuntimeError("subscribers did not subscribe")
        time.sleep(0.05)
    cpu0, t0 = redis.cpu_s(), time.monotonic()
    subprocess.run(
        [
            "redis-benchmark", "-p", str(redis.port), "-q",
            "-n", str(cfg.messages), "-c", str(cfg.clients), "-P", str(cfg.pipeline),
            "-r", str(cfg.channels),
            publish, "ht:{t}:__rand_int__", "x" * size,
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    while redis.output_queued() and time.monotonic() - t0 < DRAIN_TIMEOUT_S:
        time.sleep(0.01)
    wall, cpu = time.monotonic() - t0, redis.cpu_s() - cpu0
    time.sleep(SETTLE_S)  # what left Redis may still sit in a socket or redis-cli's buffer
    delivered = sum(s.messages() for s in subscribers)
    return {
        "kind": kind,
        "bytes": size,
        "fanout": fanout,
        "messages": cfg.messages,
        "delivered": delivered,
        "expected": cfg.messages * fanout,
        "messages_per_s": round(cfg.messages / wall),
        "redis_cpu_us_per_message": round(cpu / cfg.messages * 1e6, 2),
        "redis_cpu_us_per_delivery": round(cpu / max(1, cfg.messages * fanout) * 1e6, 2),
        "messages_per_s_at_one_core": round(cfg.messages / cpu) if cpu else None,
        "redis_cpu_busy_pct": round(cpu / wall * 100, 1),
    }


def run(cfg: Config) -> list[dict[str, object]]:
    """Measure every kind, size and fan-out, each kind on its own fresh Redis."""
    results = []
    for kind in cfg.kinds:
        with tempfile.TemporaryDirectory(prefix="redis_capacity-") as workdir:
            redis = PrivateRedis(kind, Path(workdir))
            try:
                for size in cfg.sizes:
                    for fanout in cfg.fanouts:
                        result = measure(redis, kind, size, fanout, cfg)
                        print(json.dumps(result), file=sys.stderr, flush=True)
                        results.append(result)
            finally:
                redis.stop()
    return results


def print_table(results: list[dict[str, object]]) -> None:
    """Print one row per measurement."""
    header = ["kind", "bytes", "fanout", "msg/s", "CPU us/msg", "CPU us/delivery", "msg/s@1 core",
              "Redis busy %", "delivered/expected"]  # fmt: skip
    rows = [
        [
            r["kind"],
            r["bytes"],
            r["fanout"],
            r["messages_per_s"],
            r["redis_cpu_us_per_message"],
            r["redis_cpu_us_per_delivery"],
            r["messages_per_s_at_one_core"],
            r["redis_cpu_busy_pct"],
            f"{r['delivered']}/{r['expected']}",
        ]
        for r in results
    ]
    widths = [max(len(str(row[c])) for row in [header, *rows]) for c in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)))


def parse_args(argv: Sequence[str] | None) -> Config:
    """Parse the command line."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--kinds",
        default="publish,spublish",
        help="publish (one Redis), spublish (a cluster master)",
    )
    p.add_argument("--sizes", default="300,4000", help="frame bytes, comma-separated")
    p.add_argument("--fanouts", default="1,2,4,8", help="subscribing instances per message")
    p.add_argument("--messages", type=int, default=200_000, help="messages per measurement")
    p.add_argument("--channels", type=int, default=1000, help="channels (topics) published to")
    p.add_argument("--pipeline", type=int, default=16, help="commands per pipeline")
    p.add_argument("--clients", type=int, default=4, help="publishing connections")
    a = p.parse_args(argv)
    kinds = a.kinds.split(",")
    if any(kind not in COMMANDS for kind in kinds):
        p.error("--kinds takes publish and spublish")
    return Config(
        kinds,
        [int(size) for size in a.sizes.split(",")],
        [int(fanout) for fanout in a.fanouts.split(",")],
        a.messages,
        a.channels,
        a.pipeline,
        a.clients,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print the table and one JSON line; fail when a subscriber missed a message."""
    results = run(parse_args(argv))
    print_table(results)
    print(json.dumps(results))
    return 0 if all(r["delivered"] == r["expected"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
