"""Who is viewing a poll right now: live, across instances, and never logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.state import STATE
from server.storage.tables import events
from tests.conftest import REDIS_URL, requires_redis
from tests.meetings.helpers import guest, poll
from tests.wsclient import Device


async def presence(dev: Device, want: set[tuple[str, str | None]]) -> list[dict[str, Any]]:
    """Wait for a ``presence`` frame listing exactly ``want`` (connection, participant)."""
    while True:
        for frame in dev.other:
            if frame["type"] == "presence":
                seen = {(v["connection"], v["participant_id"]) for v in frame["viewers"]}
                if seen == want:
                    return list(frame["viewers"])
        dev.other.clear()
        await dev.pump()


async def test_pages_see_each_other_come_join_and_go(client, device):
    ana = await device("ana")
    meeting = await poll(ana)
    topic = f"meeting:{meeting['id']}"
    await ana.ok("subscribe", {"topic": topic})
    gus = await guest(client, meeting["share_token"])
    a, g = ana.ready["connection"], gus.ready["connection"]
    await presence(ana, {(a, None), (g, None)})
    joined = await gus.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "G"}
    )
    pid = joined["participant"]["id"]
    await presence(ana, {(a, None), (g, pid)})
    await presence(gus, {(a, None), (g, pid)})
    await gus.close()
    await presence(ana, {(a, None)})
    async with client.server.app[STATE].services.db.read() as conn:
        names = [row.name for row in await conn.execute(select(events.c.name))]
    assert not [name for name in names if "presence" in name]


@requires_redis
async def test_presence_spans_instances(start_server, token, over_redis):
    first, second = await start_server(**over_redis), await start_server(**over_redis)
    ana = await Device.connect(first, token("ana"))
    meeting = await poll(ana)
    await ana.ok("subscribe", {"topic": f"meeting:{meeting['id']}"})
    gus = await guest(second, meeting["share_token"])
    a, g = ana.ready["connection"], gus.ready["connection"]
    await presence(ana, {(a, None), (g, None)})
    await presence(gus, {(a, None), (g, None)})
    await gus.close()
    await presence(ana, {(a, None)})
    await ana.close()
    assert REDIS_URL
