"""Presence lists merged over instances: own lists announced, others kept until they lapse."""

from __future__ import annotations

import orjson
import pytest

from server.realtime import presence as module
from server.realtime.presence import TTL_S, Presence


@pytest.fixture
def wire():
    sent: list[tuple[str, dict]] = []
    notified: list[tuple[str, list]] = []

    async def publish(topic: str, message: bytes) -> None:
        sent.append((topic, orjson.loads(message)))

    def notify(topic: str, frame: bytes) -> None:
        notified.append((topic, orjson.loads(frame)["viewers"]))

    return Presence("A", publish, notify), sent, notified


def message(instance: str, viewers: list[dict], *, ask: bool = False) -> bytes:
    body = {"type": "presence", "instance": instance, "viewers": viewers, "ask": ask}
    return orjson.dumps(body)


async def test_a_first_viewer_asks_the_others_and_they_answer(wire):
    here, sent, notified = wire
    await here.show("t", {"connection": "c1", "participant_id": None})
    assert sent[-1] == (
        "t",
        {
            "type": "presence",
            "instance": "A",
            "viewers": [{"connection": "c1", "participant_id": None}],
            "ask": True,
        },
    )
    await here.on_message(
        "t", message("B", [{"connection": "c2", "participant_id": "p"}], ask=True)
    )
    assert sent[-1][1]["ask"] is False  # answered B's question with our list
    assert notified[-1] == (
        "t",
        [{"connection": "c1", "participant_id": None}, {"connection": "c2", "participant_id": "p"}],
    )


async def test_own_messages_are_ignored_and_a_silent_instance_lapses(wire, monkeypatch):
    here, _sent, notified = wire
    await here.on_message("t", message("A", [{"connection": "x", "participant_id": None}]))
    assert here.viewers("t") == []
    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    await here.on_message("t", message("B", [{"connection": "c2", "participant_id": None}]))
    await here.beat()
    assert [v["connection"] for v in here.viewers("t")] == ["c2"]
    clock[0] += TTL_S + 1
    await here.beat()
    assert here.viewers("t") == []
    assert notified[-1] == ("t", [])


async def test_hiding_the_last_viewer_announces_an_empty_list(wire):
    here, sent, _notified = wire
    await here.show("t", {"connection": "c1", "participant_id": None})
    await here.hide("t", "c1")
    assert sent[-1][1]["viewers"] == []
    await here.hide("t", "c1")  # twice is nothing
    assert len(sent) == 2
