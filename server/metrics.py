"""One app's metrics in its own Prometheus registry; docs/operations.md lists every one."""

from __future__ import annotations

import bisect
import gc
import itertools
import time
from collections import Counter as Tally
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from server.storage.write_lane import lane_for

if TYPE_CHECKING:
    from server.state import AppState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# A command is a read or one transaction: milliseconds, up to the 10 s of a send timeout.
COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Fan-out is milliseconds when healthy; the tail shows sweeps (HUB_SWEEP_S) and reconnects.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CONNECTION_STATES = ("authenticating", "ready", "closing")
# A collection stops the whole process: from under a millisecond (the youngest
# generation) to the tens of milliseconds a full one takes with thousands of sockets.
GC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

# The `<name>_created` series the client adds to every counter double the output and
# no dashboard reads them.
disable_created_metrics()


class Metrics:
    """The counters hooks bump; what can be read at scrape time is read then.

    Hot paths (every event, every frame) add to plain ints, exported by a
    collector: an int add costs a tenth of a labelled prometheus Counter's.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.gc_pauses = GcPauses()
        self.commands = Counter(
            "hipster_commands",
            "WebSocket commands answered, by command and outcome (ok or the error code).",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "hipster_command_duration_seconds",
            "Time from reading a command frame to its reply, by command.",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.fanout_lag = Histogram(
            "hipster_fanout_lag_seconds",
            "Time from an event's `at` to the hub handing it to this instance's connections.",
            buckets=LAG_BUCKETS,
            registry=self.registry,
        )
        self.events_published = 0
        self.events_delivered = 0
        self.events_replayed = 0
        self.topic_resets = 0
        self.closes: Tally[str] = Tally()
        # labels() validates and locks on every call (4 us a command); the children do not
        # change, and there are at most (registered commands) x (outcomes) of them.
        self._command_children: dict[tuple[str, str], tuple[Any, Any]] = {}

    def command_done(self, command: str | None, outcome: str, seconds: float) -> None:
        """Count one answered command and its latency."""
        key = (command or "none", outcome)
        children = self._command_children.get(key)
        if children is None:
            children = (self.commands.labels(*key), self.command_seconds.labels(key[0]))
            self._command_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def observe_lag(self, event: dict[str, Any]) -> None:
        """Observe how long an event took from its mutation to this instance's hub."""
        at = event.get("at")
        if isinstance(at, str):
            lag = time.time() - datetime.fromisoformat(at).timestamp()
            # Instances' clocks differ a little; a negative lag is skew, not news from the future.
            self.fanout_lag.observe(max(lag, 0.0))

    def joined(self, replayed: int, reset: bool) -> None:
        """Count a subscription's replayed events, or its reset."""
        self.events_replayed += replayed
        self.topic_resets += reset

    def closed(self, code: int) -> None:
        """Count a WebSocket the server closes, by its close code."""
        self.closes[str(code)] += 1

    def watch(self, state: AppState) -> None:
        """Read the app's state and the process's figures at every scrape, and time
        the garbage collector's pauses until ``close``."""
        self.registry.register(StateCollector(state))
        self.registry.register(self.gc_pauses)
        gc.callbacks.append(self.gc_pauses.observe)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

    def close(self) -> None:
        """Stop timing the garbage collector (its callbacks are the process's)."""
        if self.gc_pauses.observe in gc.callbacks:
            gc.callbacks.remove(self.gc_pauses.observe)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)


class GcPauses(Collector):
    """Time every garbage collection (a ``gc.callbacks`` hook), by generation.

    The hook counts into plain lists: a collection can start inside any
    allocation, a metric's own lock held included, so it takes no lock.
    """

    def __init__(self) -> None:
        self._started = 0.0
        self._counts = [[0] * (len(GC_BUCKETS) + 1) for _ in range(3)]
        self._sums = [0.0, 0.0, 0.0]

    def observe(self, phase: str, info: dict[str, int]) -> None:
        """Take a collection's start or stop."""
        if phase == "start":
            self._started = time.perf_counter()
            return
        seconds = time.perf_counter() - self._started
        generation = info["generation"]
        self._sums[generation] += seconds
        self._counts[generation][bisect.bisect_left(GC_BUCKETS, seconds)] += 1

    def collect(self) -> Iterator[Metric]:
        """Yield the pause histogram."""
        family = HistogramMetricFamily(
            "hipster_gc_pause_seconds",
            "Time each garbage collection stopped the process, by generation.",
            labels=["generation"],
        )
        bounds = [str(b) for b in GC_BUCKETS] + ["+Inf"]
        for generation, counts in enumerate(self._counts):
            cumulative = list(itertools.accumulate(counts))
            family.add_metric(
                [str(generation)],
                list(zip(bounds, cumulative, strict=True)),
                self._sums[generation],
            )
        yield family


class StateCollector(Collector):
    """Export the plain counters and what the app's state holds right now."""

    def __init__(self, state: AppState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """Yield the families read at scrape time."""
        yield from self._counters()
        yield self._connections()
        yield from self._pool()
        yield self._fanout_up()
        topics = len(self.state.hub.topics())
        yield gauge("hipster_hub_topics", "Topics with subscribers on this instance.", topics)

    def _counters(self) -> Iterator[Metric]:
        m = self.state.metrics
        yield counter(
            "hipster_events_published", "Events this instance published.", m.events_published
        )
        yield counter(
            "hipster_events_delivered",
            "Event frames sent live to this instance's connections.",
            m.events_delivered,
        )
        yield counter(
            "hipster_events_replayed", "Events replayed to resuming connections.", m.events_replayed
        )
        yield counter(
            "hipster_topic_resets", "Topics answered with a reset, not a replay.", m.topic_resets
        )
        closes = CounterMetricFamily(
            "hipster_ws_closes", "WebSockets the server closed, by close code.", labels=["code"]
        )
        for code, count in sorted(m.closes.items()):
            closes.add_metric([code], count)
        yield closes

    def _connections(self) -> Metric:
        counts = dict.fromkeys(CONNECTION_STATES, 0)
        for conn in list(self.state.connections):
            counts[connection_state(conn.closing, conn.user_id)] += 1
        family = GaugeMetricFamily(
            "hipster_connections", "Open WebSocket connections, by state.", labels=["state"]
        )
        for name, count in counts.items():
            family.add_metric([name], count)
        return family

    def _pool(self) -> Iterator[Metric]:
        db = self.state.services.db
        pool: Any = db.engine.pool
        if not hasattr(pool, "checkedout"):
            return
        kept = db.kept_idle  # checked out of the pool, yet idle
        yield gauge("hipster_db_pool_size", "Connections the pool keeps.", pool.size())
        yield gauge(
            "hipster_db_pool_checked_out", "Pooled connections in use.", pool.checkedout() - kept
        )
        yield gauge(
            "hipster_db_pool_idle", "Open pooled connections not in use.", pool.checkedin() + kept
        )
        lane = lane_for(db.engine)
        batches, batched, refused = (0, 0, 0) if lane is None else lane.counts()
        yield counter("hipster_db_write_batches", "Statements that wrote many changes.", batches)
        yield counter("hipster_db_batched_writes", "Changes written in those statements.", batched)
        yield counter(
            "hipster_db_refused_batches", "Batched statements refused, rerun alone.", refused
        )

    def _fanout_up(self) -> Metric:
        backend = self.state.settings.fanout
        family = GaugeMetricFamily(
            "hipster_fanout_up", "1 when the fan-out link is up, else 0.", labels=["backend"]
        )
        family.add_metric([backend], int(self.state.hub.backend.healthy()))
        return family


def connection_state(closing: bool, user_id: str) -> str:
    """Name a connection's state: authenticating, ready (token verified) or closing."""
    if closing:
        return "closing"
    return "ready" if user_id else "authenticating"


def counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    """Build an unlabelled counter family (the client adds `_total`)."""
    return CounterMetricFamily(name, documentation, value=value)


def gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    """Build an unlabelled gauge family."""
    return GaugeMetricFamily(name, documentation, value=value)
