"""GET /metrics: Prometheus text from each instance's own registry, every family documented."""

from __future__ import annotations

import asyncio
import gc
import re
import socket
import uuid
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import ValidationError

from server.metrics import GcPauses
from server.settings import Settings
from server.state import STATE
from tests.conftest import REDIS_URL
from tests.wsclient import Device

ROOT = Path(__file__).resolve().parents[1]
OPERATIONS = ROOT / "docs" / "operations.md"
METRICS_TOKEN = "m" * 40
OTHER_EPOCH = "0000000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Scrape:
    """One parsed exposition: families by their exposed name, and their samples."""

    def __init__(self, text: str) -> None:
        self.families: dict[str, tuple[str, set[str]]] = {}
        self.samples: list[Sample] = []
        for family in text_string_to_metric_families(text):
            # The parser drops a counter's `_total`; the exposition (and the docs) keep it.
            name = family.name + "_total" if family.type == "counter" else family.name
            labels = {label for s in family.samples for label in s.labels if label != "le"}
            self.families[name] = (family.type, labels)
            self.samples.extend(family.samples)

    def value(self, name: str, **labels: str) -> float | None:
        """Return the sample ``name`` with exactly ``labels``, or None."""
        for sample in self.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
        return None


async def scrape(url: str, **headers: str) -> Scrape:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return Scrape(await response.text())


async def scrape_until(url: str, name: str, labels: dict[str, str], expected: float) -> Scrape:
    """Scrape until a sample reaches ``expected`` (work after a close finishes in the server)."""
    async with asyncio.timeout(5):
        while True:
            result = await scrape(url)
            if result.value(name, **labels) == expected:
                return result
            await asyncio.sleep(0.02)


def documented() -> dict[str, tuple[str, set[str]]]:
    """Read the metrics table of docs/operations.md: name -> (type, labels)."""
    rows = {}
    text = OPERATIONS.read_text("utf-8")
    table = text[text.index("\n## Metrics\n") :]
    for match in re.finditer(r"^\| `([a-z_]+)` \| (\w+) \|([^|]*)\|", table, re.MULTILINE):
        labels = set(re.findall(r"`([a-z_]+)`", match[3]))
        assert match[1] not in rows, f"{match[1]} is documented twice"
        rows[match[1]] = (match[2], labels)
    return rows


@pytest.fixture
def metrics_port() -> int:
    """A free port for the metrics listener."""
    return free_port()


async def test_metrics_count_commands_events_replays_and_closes(start_server, token, metrics_port):
    client = await start_server(metrics_port=metrics_port)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    phone, laptop = [await Device.connect(client, token("alice")) for _ in range(2)]
    await phone.ok("timer.start", {"allocated_ms": 60_000, "title": "Write"})
    await laptop.wait_events(1)
    await phone.wait_events(1)
    await phone.error("timer.pause", {"id": str(uuid.uuid4())})
    await phone.error("no.such.command")
    topic = "user:alice"
    resumed = await Device.connect(client, token("alice"), resume={topic: 0})
    foreign = await Device.connect(client, token("alice"), resume={topic: 0}, epoch=OTHER_EPOCH)
    assert (len(resumed.replayed), foreign.ready["reset"]) == (1, [topic])
    await resumed.close()  # the client's close: not counted
    refused = await Device.open(client)
    await refused.ws.send_json({"type": "auth", "token": "not-a-token"})
    assert await refused.wait_close() == 4401

    result = await scrape_until(url, "hipster_connections", {"state": "ready"}, 3)
    value = result.value
    assert value("hipster_commands_total", command="timer.start", outcome="ok") == 1
    assert value("hipster_commands_total", command="timer.pause", outcome="not_found") == 1
    assert value("hipster_commands_total", command="none", outcome="unknown_command") == 1
    assert value("hipster_command_duration_seconds_count", command="timer.start") == 1
    assert value("hipster_events_published_total") == 1
    assert value("hipster_events_delivered_total") == 2
    assert value("hipster_fanout_lag_seconds_count") == 1
    assert value("hipster_events_replayed_total") == 1
    assert value("hipster_topic_resets_total") == 1
    assert value("hipster_ws_closes_total", code="4401") == 1
    assert [s.labels for s in result.samples if s.name == "hipster_ws_closes_total"] == [
        {"code": "4401"}
    ]
    assert value("hipster_connections", state="authenticating") == 0
    assert value("hipster_hub_topics") == 1
    assert value("hipster_fanout_up", backend="redis" if REDIS_URL else "memory") == 1
    # Checked out right now varies with the background tasks; the pool's size does not.
    assert value("hipster_db_pool_checked_out") is not None
    assert (value("hipster_db_pool_size") or 0) >= 1
    assert (value("process_cpu_seconds_total") or 0) > 0
    for dev in (phone, laptop, foreign):
        await dev.close()


async def test_gc_pauses_are_timed_by_generation_while_the_app_runs(start_server, metrics_port):
    client = await start_server(metrics_port=metrics_port)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    before = await scrape(url)
    full_before = before.value("hipster_gc_pause_seconds_count", generation="2") or 0
    gc.collect()
    after = await scrape(url)
    assert (after.value("hipster_gc_pause_seconds_count", generation="2") or 0) >= full_before + 1
    assert (after.value("hipster_gc_pause_seconds_sum", generation="2") or 0) > 0
    inf = after.value("hipster_gc_pause_seconds_bucket", generation="2", le="+Inf")
    assert inf == after.value("hipster_gc_pause_seconds_count", generation="2")
    hook = client.server.app[STATE].metrics.gc_pauses.observe
    assert hook in gc.callbacks
    await client.close()  # the app's cleanup takes its hook out of the process's list
    assert hook not in gc.callbacks


def test_a_pause_falls_in_the_first_bucket_that_holds_it():
    pauses = GcPauses()
    clock = iter([0.0, 0.003, 1.0, 1.0005, 2.0, 4.0])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("server.metrics.time.perf_counter", lambda: next(clock))
        for generation in (2, 0, 1):
            pauses.observe("start", {"generation": generation})
            pauses.observe("stop", {"generation": generation})
    buckets = {
        (s.labels["generation"], s.labels["le"]): s.value
        for s in next(iter(pauses.collect())).samples
        if s.name.endswith("_bucket")
    }
    assert (buckets[("2", "0.0025")], buckets[("2", "0.005")]) == (0, 1)
    assert buckets[("0", "0.001")] == 1
    assert (buckets[("1", "1.0")], buckets[("1", "+Inf")]) == (0, 1)


async def test_every_exposed_metric_is_documented_with_its_type_and_labels(
    start_server, token, metrics_port
):
    client = await start_server(metrics_port=metrics_port)
    dev = await Device.connect(client, token("alice"))
    await dev.ok("timer.start", {"allocated_ms": 60_000})
    await dev.wait_events(1)
    refused = await Device.open(client)
    await refused.ws.send_json({"type": "auth", "token": "not-a-token"})
    await refused.wait_close()
    result = await scrape_until(
        f"http://127.0.0.1:{metrics_port}/metrics", "hipster_ws_closes_total", {"code": "4401"}, 1
    )
    assert result.families == documented()
    await dev.close()


async def test_main_port_serves_metrics_only_behind_the_token(start_server):
    closed = await start_server()
    assert (await closed.get("/metrics")).status == 404
    guarded = await start_server(metrics_token=METRICS_TOKEN)
    refused = await guarded.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "unauthorized"
    assert (await guarded.get("/metrics")).status == 401
    answered = await guarded.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answered.status == 200
    assert "hipster_connections" in await answered.text()


async def test_own_port_asks_for_the_token_when_one_is_set(start_server, metrics_port):
    await start_server(metrics_port=metrics_port, metrics_token=METRICS_TOKEN)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        assert response.status == 401
    result = await scrape(url, Authorization=f"Bearer {METRICS_TOKEN}")
    assert result.value("hipster_connections", state="ready") == 0


async def test_each_instance_counts_its_own_commands(start_server, token):
    first = await start_server(metrics_token=METRICS_TOKEN)
    second = await start_server(metrics_token=METRICS_TOKEN)
    dev = await Device.connect(first, token("alice"))
    await dev.ok("ping")
    await dev.close()
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    texts = [await (await c.get("/metrics", headers=auth)).text() for c in (first, second)]
    pings = [Scrape(t).value("hipster_commands_total", command="ping", outcome="ok") for t in texts]
    assert pings == [1, None]


def test_a_short_metrics_token_is_refused():
    with pytest.raises(ValidationError, match="METRICS_TOKEN"):
        Settings(metrics_token="short")
