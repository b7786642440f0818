"""The window cache: every change shows in the next read, on this instance and on another.

Window reads keep an owner's series and overrides keyed by the head of the
owner's event topic (server/domain/schedules/cache.py). Each test reads first, so
the rows are kept, then changes something and reads again through both instances.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from server.domain.schedules import cache
from server.domain.schedules.cache import Owned, WindowCache, cache_of
from server.state import STATE
from server.storage import schedules as store
from tests.rest.test_rest import bearer

WINDOW = "start=2026-03-01T00:00:00Z&end=2026-04-01T00:00:00Z"
NY = "America/New_York"


def weekly(**fields: Any) -> dict[str, Any]:
    """A weekly Monday 09:00 New York series from 2026-03-02."""
    return {
        "title": "Standup",
        "start_time": "2026-03-02T09:00:00-05:00",
        "end_time": "2026-03-02T09:30:00-05:00",
        "timezone": NY,
        "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
        **fields,
    }


@pytest.fixture
async def servers(client, start_server):
    """Two instances on one database: the default one and another."""
    return [client, await start_server()]


async def streamed(server, token, query: str = WINDOW) -> bytes:
    response = await server.get(f"/v1/schedules?{query}", headers=bearer(token()))
    assert response.status == 200
    return await response.read()


async def windows(servers, token, query: str = WINDOW) -> list[dict[str, Any]]:
    """Read the window streamed and paged on every instance; all must agree; return the items."""
    bodies = [await streamed(server, token, query) for server in servers]
    paged = await servers[1].get(f"/v1/schedules?{query}&limit=1000", headers=bearer(token()))
    bodies.append(await paged.read())
    assert all(body == bodies[0] for body in bodies), "instances or read forms disagree"
    items: list[dict[str, Any]] = orjson.loads(bodies[0])["items"]
    return items


async def test_every_change_shows_on_both_instances(servers, device, token):
    one, two = [await device(on=server) for server in servers]
    assert await windows(servers, token) == []
    series = await one.ok("schedule.create", weekly())
    items = await windows(servers, token)
    assert [i["start_time"][:10] for i in items] == [
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
        "2026-03-23",
        "2026-03-30",
    ]
    await two.ok("schedule.update", {"id": series["id"], "scope": "series", "title": "Sync"})
    assert {i["title"] for i in await windows(servers, token)} == {"Sync"}
    first, second, third = (i["id"] for i in items[:3])
    await one.ok("schedule.update", {"id": first, "title": "Kickoff"})
    await two.ok("schedule.update", {"id": second, "start_time": "2026-03-10T15:00:00Z"})
    await one.ok("schedule.delete", {"id": third})
    items = await windows(servers, token)
    assert [(i["title"], i["start_time"], i["overridden"]) for i in items[:3]] == [
        ("Kickoff", "2026-03-02T14:00:00.000Z", True),
        ("Sync", "2026-03-10T15:00:00.000Z", True),
        ("Sync", "2026-03-23T13:00:00.000Z", False),
    ]
    await two.ok("schedule.delete", {"id": series["id"], "scope": "series"})
    assert await windows(servers, token) == []


async def test_a_change_builds_again_only_the_changed_series_template(servers, device, token):
    one = await device(on=servers[0])
    first = await one.ok("schedule.create", weekly(title="first"))
    second = await one.ok("schedule.create", weekly(title="second"))
    await windows(servers, token)
    kept = cache_of(servers[0].server.app[STATE].services.db)
    before = dict(kept.get("alice").templates[None])
    await one.ok("schedule.update", {"id": first["id"], "title": "renamed"})
    assert {i["title"] for i in await windows(servers, token)} == {"renamed", "second"}
    after = kept.get("alice").templates[None]
    assert after[second["id"]] is before[second["id"]]
    assert after[first["id"]] is not before[first["id"]]


async def test_a_tag_and_a_visibility_change_show_too(servers, device, token):
    one = await device(on=servers[0])
    group = await one.ok("tag_group.create", {"name": "work"})
    tag = await one.ok("tag.create", {"group_id": group["id"], "name": "team"})
    series = await one.ok("schedule.create", weekly(tag_ids=[tag["id"]]))
    assert {tuple(i["tag_ids"]) for i in await windows(servers, token)} == {(tag["id"],)}
    await one.ok("tag.delete", {"id": tag["id"]})
    assert {tuple(i["tag_ids"]) for i in await windows(servers, token)} == {()}
    data = {"resource_type": "schedule", "resource_id": series["id"], "level": "friends"}
    await one.ok("visibility.set", data)
    assert {i["visibility"]["level"] for i in await windows(servers, token)} == {"friends"}


async def test_the_streamed_window_is_the_paged_one_byte_for_byte(servers, device, token):
    one = await device(on=servers[0])
    series = await one.ok("schedule.create", weekly(title='Quote " and é'))
    await one.ok("schedule.create", weekly(timezone="Asia/Seoul", title="Seoul"))
    await one.ok(
        "schedule.create",
        {"title": "once", "start_time": "2026-03-05T10:00:00Z", "end_time": "2026-03-05T11:00:00Z"},
    )
    await one.ok("schedule.update", {"id": f"{series['id']}:20260309T130000Z", "title": "x"})
    for query in (WINDOW, f"{WINDOW}&tz={NY}", f"{WINDOW}&tz=Asia/Kolkata"):
        assert len(await windows(servers, token, query)) == 11


async def test_an_owner_with_too_many_rows_is_read_by_window(servers, device, token, monkeypatch):
    monkeypatch.setattr(cache, "MAX_OWNER_ROWS", 2)
    one = await device(on=servers[0])
    for title in ("a", "b", "c"):
        await one.ok("schedule.create", weekly(title=title))
    assert len(await windows(servers, token)) == 15
    kept = cache_of(servers[0].server.app[STATE].services.db)._owners["alice"]
    assert kept.series is None


async def test_kept_rows_select_what_the_window_query_reads(servers, device, token):
    one = await device(on=servers[0])
    series = await one.ok("schedule.create", weekly())
    await one.ok("schedule.create", weekly(recurrence_end="2026-03-20T00:00:00Z", title="ends"))
    await one.ok(
        "schedule.create",
        {"title": "once", "start_time": "2026-03-05T10:00:00Z", "end_time": "2026-03-05T11:00:00Z"},
    )
    moves = [
        ("20260302T140000Z", "2026-05-02T10:00:00Z"),
        ("20260406T130000Z", "2026-03-03T10:00:00Z"),
    ]
    for stamp, start in moves:
        await one.ok("schedule.update", {"id": f"{series['id']}:{stamp}", "start_time": start})
    db = servers[0].server.app[STATE].services.db
    async with db.read() as conn:
        everything = await store.all_series(conn, "alice")
        overrides = await store.all_overrides(conn, "alice")
        for start, end in [
            (0, 2**50),
            (1772323200000, 1775001600000),
            (1777680000000, 1777766400000),
        ]:
            read = await store.window_rows(conn, "alice", start, end)
            kept = store.rows_in_window(everything, overrides, start, end)
            assert sorted(r["id"] for r in read[0]) == sorted(r["id"] for r in kept[0])
            assert sorted(o["original_start"] for o in read[1]) == sorted(
                o["original_start"] for o in kept[1]
            )


def test_the_cache_drops_the_least_recently_used_owner_beyond_its_rows():
    kept = WindowCache(max_rows=5)
    kept.put("a", Owned(1, ["row"] * 2))
    kept.put("b", Owned(1, ["row"] * 2))
    assert kept.get("a", 1) is not None
    assert kept.get("a", 2) is None
    kept.put("c", Owned(1, ["row"] * 2))
    assert kept.get("b", 1) is None
    assert kept.get("a", 1) is not None
    assert kept.get("c", 1) is not None


def test_rows_read_at_an_older_head_do_not_replace_newer_ones():
    kept = WindowCache()
    kept.put("a", Owned(7, []))
    kept.put("a", Owned(6, []))
    assert kept.get("a", 7) is not None
    assert kept.get("a", 6) is None
