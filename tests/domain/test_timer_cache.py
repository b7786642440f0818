"""A transition starts from the row this process last wrote, and trusts only its write."""

from __future__ import annotations

from server.domain.rowcache import RowCache
from server.state import STATE
from tests.wsclient import Device


def test_the_cache_keeps_the_newest_rows_and_gives_each_once_when_taken():
    cache = RowCache(capacity=2)
    cache.put("a", {"version": 1})
    cache.put("b", {"version": 1})
    cache.put("a", {"version": 2})  # rewritten: now the newest
    cache.put("c", {"version": 1})  # over capacity: "b", the oldest written, goes
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (
        {"version": 2},
        None,
        {"version": 1},
    )
    assert cache.take("a") == {"version": 2}
    assert cache.get("a") is None
    assert len(cache) == 1


async def two_instances(start_server, token):
    first, second = await start_server(), await start_server()
    here = await Device.connect(first, token("alice"))
    there = await Device.connect(second, token("alice"))
    return first, here, there


def cached_version(server, timer_id: str) -> int | None:
    row = server.server.app[STATE].services.timer_rows.get(("alice", timer_id))
    return None if row is None else int(row["version"])


async def test_a_transition_after_a_change_elsewhere_reads_the_row_again(start_server, token):
    first, here, there = await two_instances(start_server, token)
    timer = await here.ok("timer.start", {"allocated_ms": 60_000})
    ident = {"id": timer["id"]}
    assert (await here.ok("timer.pause", ident))["version"] == 2
    assert cached_version(first, timer["id"]) == 2
    # Elsewhere: resumed (the cache here says PAUSED), then retitled.
    await there.ok("timer.resume", ident)
    await there.ok("timer.update", {**ident, "title": "renamed"})
    paused = await here.ok("timer.pause", ident)  # the cached PAUSED row would refuse it
    assert (paused["status"], paused["title"], paused["version"]) == ("PAUSED", "renamed", 5)
    # Elsewhere again, a change the cached row would allow: its write must not land.
    await there.ok("timer.update", {**ident, "title": "again"})
    resumed = await here.ok("timer.resume", ident)
    assert (resumed["status"], resumed["title"], resumed["version"]) == ("RUNNING", "again", 7)
    assert cached_version(first, timer["id"]) == 7
    whole = await there.ok("timer.get", ident)
    assert [e["action"] for e in whole["pause_history"]] == ["pause", "resume", "pause", "resume"]


async def test_if_version_is_checked_against_the_row_not_the_cache(start_server, token):
    _first, here, there = await two_instances(start_server, token)
    timer = await here.ok("timer.start", {"allocated_ms": 60_000})
    ident = {"id": timer["id"]}
    await here.ok("timer.pause", ident)  # cached here at version 2
    await there.ok("timer.update", {**ident, "title": "renamed"})  # version 3
    resumed = await here.ok("timer.resume", {**ident, "if_version": 3})
    assert resumed["version"] == 4
    error = await here.error("timer.pause", {**ident, "if_version": 3})
    assert (error["code"], error["details"]) == ("conflict", {"version": 4})


async def test_a_deleted_timer_is_not_found_though_cached(start_server, token):
    first, here, there = await two_instances(start_server, token)
    timer = await here.ok("timer.start", {"allocated_ms": 60_000})
    await here.ok("timer.pause", {"id": timer["id"]})
    await there.ok("timer.delete", {"id": timer["id"]})
    error = await here.error("timer.resume", {"id": timer["id"]})
    assert error["code"] == "not_found"
    assert cached_version(first, timer["id"]) is None
