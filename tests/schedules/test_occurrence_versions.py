"""An occurrence has one version sequence: the same in replies, events, every read and
``if_version``, and never lower after any change of the occurrence or of its series."""

from __future__ import annotations

import pytest

from tests.dbstate import refused
from tests.domain.test_schedules import weekly
from tests.rest.test_rest import bearer

SPAN = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
SECOND = "20260309T130000Z"  # the series' second Monday, 09:00 New York


@pytest.fixture
async def dev(device):
    return await device()


async def read_version(client, token, dev, ident):
    """Return the occurrence's version, after checking every read answers the same one."""
    got = await dev.ok("schedule.get", {"id": ident})
    listed = (await dev.ok("schedule.list", SPAN))["items"]
    query = f"start={SPAN['start']}&end={SPAN['end']}"
    streamed = await (await client.get(f"/v1/schedules?{query}", headers=bearer(token()))).json()
    paged = await (
        await client.get(f"/v1/schedules?{query}&limit=50", headers=bearer(token()))
    ).json()
    versions = {got["version"]}
    for items in (listed, streamed["items"], paged["items"]):
        versions |= {item["version"] for item in items if item["id"] == ident}
    assert len(versions) == 1, versions
    return got["version"]


async def event_version(dev, ident):
    """Return the version of the latest event about ``ident`` (events cleared before the act)."""
    while not [e for e in dev.events if e["data"].get("id") == ident]:
        await dev.pump()
    return [e for e in dev.events if e["data"].get("id") == ident][-1]["data"]["version"]


async def test_reply_event_and_reads_agree_and_only_go_up(client, token, dev):
    series = await weekly(dev)
    occurrence = f"{series['id']}:{SECOND}"
    seen = [await read_version(client, token, dev, occurrence)]
    await dev.ok("schedule.update", {"id": series["id"], "title": "Renamed"})
    seen.append(await read_version(client, token, dev, occurrence))
    for title in ("Once", "Twice"):
        dev.events.clear()
        reply = await dev.ok("schedule.update", {"id": occurrence, "title": title})
        assert reply["schedule"]["version"] == await event_version(dev, occurrence)
        seen.append(await read_version(client, token, dev, occurrence))
        assert reply["schedule"]["version"] == seen[-1]
    await dev.ok("schedule.update", {"id": series["id"], "description": "agenda"})
    seen.append(await read_version(client, token, dev, occurrence))
    assert seen == sorted(set(seen)), seen


async def test_if_version_takes_the_version_the_reply_gave_and_refuses_a_stale_one(
    client, token, dev
):
    series = await weekly(dev)
    occurrence = f"{series['id']}:{SECOND}"
    stale = await read_version(client, token, dev, occurrence)
    first = await dev.ok("schedule.update", {"id": occurrence, "title": "Once"})
    current = first["schedule"]["version"]
    for command, data in (
        ("schedule.update", {"id": occurrence, "title": "Lost", "if_version": stale}),
        ("schedule.delete", {"id": occurrence, "if_version": stale}),
    ):
        error = await refused(client, dev, command, data, "conflict")
        assert error["details"] == {"version": current}
    again = await dev.ok(
        "schedule.update", {"id": occurrence, "title": "Kept", "if_version": current}
    )
    latest = again["schedule"]["version"]
    assert latest > current
    await refused(
        client, dev, "schedule.delete", {"id": occurrence, "if_version": current}, "conflict"
    )
    await dev.ok("schedule.delete", {"id": occurrence, "if_version": latest})
    assert (await dev.error("schedule.get", {"id": occurrence}))["code"] == "not_found"


async def test_a_series_scope_edit_from_an_occurrence_raises_its_version(client, token, dev):
    series = await weekly(dev)
    occurrence = f"{series['id']}:{SECOND}"
    changed = await dev.ok("schedule.update", {"id": occurrence, "title": "Once"})
    before = changed["schedule"]["version"]
    # With scope series, if_version is the series' version, not the occurrence's.
    await refused(
        client,
        dev,
        "schedule.update",
        {"id": occurrence, "scope": "series", "description": "x", "if_version": before},
        "conflict",
    )
    await dev.ok(
        "schedule.update",
        {"id": occurrence, "scope": "series", "description": "x", "if_version": 1},
    )
    assert await read_version(client, token, dev, occurrence) > before


async def test_an_occurrence_that_comes_back_shows_a_higher_version(client, token, dev):
    series = await weekly(dev)
    occurrence = f"{series['id']}:{SECOND}"
    for title in ("a", "b", "c", "d"):
        await dev.ok("schedule.update", {"id": occurrence, "title": title})
    before = await read_version(client, token, dev, occurrence)
    dropped = await dev.ok(
        "schedule.update", {"id": series["id"], "recurrence_rule": "FREQ=WEEKLY;BYDAY=TU"}
    )
    assert dropped["dropped_overrides"] == ["2026-03-09T13:00:00.000Z"]
    back = await dev.ok(
        "schedule.update", {"id": series["id"], "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO"}
    )
    assert back["schedule"]["version"] == await read_version(client, token, dev, occurrence)
    assert back["schedule"]["version"] > before


async def test_a_following_split_keeps_every_sequence_going_up(client, token, dev):
    series = await weekly(dev)
    early = f"{series['id']}:20260302T140000Z"
    late = f"{series['id']}:20260323T130000Z"
    for title in ("a", "b", "c", "More special"):
        await dev.ok("schedule.update", {"id": late, "title": title})
    before = {ident: await read_version(client, token, dev, ident) for ident in (early, late)}
    await refused(
        client,
        dev,
        "schedule.update",
        {"id": f"{series['id']}:{SECOND}", "scope": "following", "title": "New", "if_version": 2},
        "conflict",
    )
    dev.events.clear()
    split = await dev.ok(
        "schedule.update",
        {"id": f"{series['id']}:{SECOND}", "scope": "following", "title": "New", "if_version": 1},
    )
    assert split["previous"]["version"] == await event_version(dev, series["id"])
    assert await read_version(client, token, dev, early) == split["previous"]["version"]
    assert split["previous"]["version"] > before[early]
    moved = f"{split['schedule']['id']}:20260323T130000Z"
    assert (await dev.ok("schedule.get", {"id": moved}))["title"] == "More special"
    await read_version(client, token, dev, moved)
    # The old series grows back over the occurrence its override left with the split.
    regrown = await dev.ok(
        "schedule.update", {"id": series["id"], "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO"}
    )
    assert await read_version(client, token, dev, late) == regrown["schedule"]["version"]
    assert regrown["schedule"]["version"] > before[late]


async def test_a_deadline_schedule_and_its_todo_answer_the_versions_they_store(dev):
    group = await dev.ok("tag_group.create", {"name": "W"})
    todo = await dev.ok(
        "todo.create",
        {"title": "R", "tag_group_id": group["id"], "deadline": "2026-03-02T14:00:00Z"},
    )
    schedule_id = todo["schedule_ids"][0]
    dev.events.clear()
    moved = await dev.ok("todo.update", {"id": todo["id"], "deadline": "2026-03-03T14:00:00Z"})
    schedule = await dev.ok("schedule.get", {"id": schedule_id})
    assert await event_version(dev, schedule_id) == schedule["version"] == 2
    assert (await dev.ok("todo.get", {"id": todo["id"]}))["version"] == moved["version"]
    dev.events.clear()
    reply = await dev.ok(
        "schedule.update", {"id": schedule_id, "start_time": "2026-03-04T14:00:00Z"}
    )
    assert reply["schedule"]["version"] == 3
    followed = await dev.ok("todo.get", {"id": todo["id"]})
    assert followed["deadline"] == "2026-03-04T14:00:00.000Z"
    assert await event_version(dev, todo["id"]) == followed["version"] == moved["version"] + 1
