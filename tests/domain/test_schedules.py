"""Schedules over the real protocol: series, occurrences, scopes, overrides, todo links."""

from __future__ import annotations

import contextlib

import pytest

from tests.dbstate import refused
from tests.wsclient import new_op

MISSING = "00000000-0000-4000-8000-000000000000"
NY = "America/New_York"
WEEK = {"start": "2026-03-02T00:00:00Z", "end": "2026-03-16T00:00:00Z"}


async def weekly(dev, **fields):
    """A weekly Monday 09:00 New York meeting from 2026-03-02 (the DST change is 03-08)."""
    data = {
        "title": "Standup",
        "start_time": "2026-03-02T09:00:00-05:00",
        "end_time": "2026-03-02T09:30:00-05:00",
        "timezone": NY,
        "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO",
        **fields,
    }
    return await dev.ok("schedule.create", data)


async def window(dev, start, end, **filters):
    page = await dev.ok("schedule.list", {"start": start, "end": end, **filters})
    assert page["next_cursor"] is None
    return page["items"]


async def test_a_weekly_series_keeps_its_wall_clock_time_across_dst(device):
    dev = await device()
    series = await weekly(dev)
    assert series["recurrence_rule"] == "FREQ=WEEKLY;BYDAY=MO"
    items = await window(dev, **WEEK)
    assert [i["start_time"] for i in items] == [
        "2026-03-02T14:00:00.000Z",
        "2026-03-09T13:00:00.000Z",
    ]
    assert [i["id"] for i in items] == [
        f"{series['id']}:20260302T140000Z",
        f"{series['id']}:20260309T130000Z",
    ]
    assert {i["series_id"] for i in items} == {series["id"]}
    zoned = await window(dev, **WEEK, tz=NY)
    assert [i["start_time"] for i in zoned] == [
        "2026-03-02T09:00:00.000-05:00",
        "2026-03-09T09:00:00.000-04:00",
    ]


async def test_occurrence_ids_are_stable_and_fetchable(device):
    dev = await device()
    series = await weekly(dev)
    first = await window(dev, **WEEK)
    again = await window(dev, **WEEK)
    assert first == again
    got = await dev.ok("schedule.get", {"id": first[1]["id"]})
    assert got == first[1]
    assert (await dev.error("schedule.get", {"id": f"{series['id']}:20260303T140000Z"}))[
        "code"
    ] == "not_found"


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"recurrence_rule": "FREQ=SOMETIMES"}, "invalid_rrule"),
        ({"recurrence_rule": "FREQ=DAILY;COUNT=0"}, "invalid_rrule"),
        ({"recurrence_rule": "BYDAY=MO"}, "invalid_rrule"),
        ({"end_time": "2026-03-02T08:00:00-05:00"}, "validation_error"),
        ({"recurrence_end": "2026-03-01T00:00:00Z"}, "validation_error"),
        ({"timezone": "Mars/Olympus"}, "validation_error"),
        ({"start_time": "2026-03-02T09:00:00"}, "validation_error"),
        ({"tag_ids": [MISSING]}, "not_found"),
    ],
)
async def test_bad_schedules_are_refused_and_change_nothing(client, device, fields, code):
    dev = await device()
    data = {
        "title": "x",
        "start_time": "2026-03-02T09:00:00-05:00",
        "end_time": "2026-03-02T09:30:00-05:00",
        "recurrence_rule": "FREQ=DAILY",
        **fields,
    }
    await refused(client, dev, "schedule.create", data, code)


async def test_this_scope_moves_one_occurrence_to_another_day(client, device):
    dev = await device()
    series = await weekly(dev)
    second = f"{series['id']}:20260309T130000Z"
    moved = await dev.ok(
        "schedule.update",
        {"id": second, "start_time": "2026-03-11T15:00:00Z", "title": "Moved"},
        op_id=new_op(),
    )
    assert moved["schedule"]["start_time"] == "2026-03-11T15:00:00.000Z"
    assert moved["schedule"]["end_time"] == "2026-03-11T15:30:00.000Z"
    assert moved["schedule"]["overridden"] is True
    assert moved["schedule"]["title"] == "Moved"
    only_wednesday = await window(dev, "2026-03-11T00:00:00Z", "2026-03-12T00:00:00Z")
    assert [i["id"] for i in only_wednesday] == [second]
    assert await window(dev, "2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z") == []
    items = await window(dev, **WEEK)
    assert [i["title"] for i in items] == ["Standup", "Moved"]
    await refused(
        client,
        dev,
        "schedule.update",
        {"id": second, "recurrence_rule": "FREQ=DAILY"},
        "validation_error",
    )


async def test_this_scope_delete_cancels_one_occurrence(device):
    dev = await device()
    series = await weekly(dev)
    first = f"{series['id']}:20260302T140000Z"
    reply = await dev.ok("schedule.delete", {"id": first})
    assert reply == {"id": first, "scope": "this", "series_deleted": False, "series": None}
    assert [i["start_time"] for i in await window(dev, **WEEK)] == ["2026-03-09T13:00:00.000Z"]
    assert (await dev.error("schedule.get", {"id": first}))["code"] == "not_found"


async def test_following_scope_splits_the_series_in_one_batch(device):
    dev, other = await device(), await device()
    series = await weekly(dev, recurrence_rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4")
    await other.wait_events(1)
    other.events.clear()
    third = f"{series['id']}:20260316T130000Z"
    reply = await dev.ok(
        "schedule.update",
        {
            "id": third,
            "scope": "following",
            "title": "New era",
            "start_time": "2026-03-16T14:00:00Z",
        },
    )
    assert reply["previous"]["id"] == series["id"]
    assert "UNTIL=" in reply["previous"]["recurrence_rule"]
    assert set(reply["schedule"]["recurrence_rule"].split(";")) == {
        "FREQ=WEEKLY",
        "COUNT=2",
        "BYDAY=MO",
    }
    events = await other.wait_events(2)
    assert sorted(e["name"] for e in events) == ["schedule.created", "schedule.updated"]
    assert {e["batch"]["size"] for e in events} == {2}
    items = await window(dev, "2026-03-01T00:00:00Z", "2026-04-15T00:00:00Z")
    assert [(i["title"], i["start_time"]) for i in items] == [
        ("Standup", "2026-03-02T14:00:00.000Z"),
        ("Standup", "2026-03-09T13:00:00.000Z"),
        ("New era", "2026-03-16T14:00:00.000Z"),
        ("New era", "2026-03-23T14:00:00.000Z"),
    ]


async def test_following_scope_delete_ends_the_series(device):
    dev = await device()
    series = await weekly(dev)
    reply = await dev.ok(
        "schedule.delete", {"id": f"{series['id']}:20260316T130000Z", "scope": "following"}
    )
    assert reply["series"]["id"] == series["id"]
    items = await window(dev, "2026-03-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert len(items) == 2


async def test_series_scope_from_an_occurrence_shifts_the_whole_series(device):
    dev = await device()
    series = await weekly(dev)
    second = f"{series['id']}:20260309T130000Z"
    reply = await dev.ok(
        "schedule.update",
        {"id": second, "scope": "series", "start_time": "2026-03-09T10:00:00-04:00"},
    )
    assert reply["schedule"]["start_time"] == "2026-03-02T15:00:00.000Z"
    assert [i["start_time"] for i in await window(dev, **WEEK, tz=NY)] == [
        "2026-03-02T10:00:00.000-05:00",
        "2026-03-09T10:00:00.000-04:00",
    ]


async def test_a_series_edit_drops_the_overrides_it_orphans_and_says_so(device):
    dev = await device()
    series = await weekly(dev)
    second = f"{series['id']}:20260309T130000Z"
    await dev.ok("schedule.update", {"id": second, "title": "Special"})
    kept = await dev.ok("schedule.update", {"id": series["id"], "description": "same times"})
    assert kept["dropped_overrides"] == []
    moved = await dev.ok(
        "schedule.update", {"id": series["id"], "recurrence_rule": "FREQ=WEEKLY;BYDAY=TU"}
    )
    assert moved["dropped_overrides"] == ["2026-03-09T13:00:00.000Z"]
    assert "Special" not in [i["title"] for i in await window(dev, **WEEK)]


async def test_a_series_id_refuses_an_occurrence_scope(client, device):
    dev = await device()
    series = await weekly(dev)
    await refused(
        client,
        dev,
        "schedule.update",
        {"id": series["id"], "scope": "following", "title": "x"},
        "validation_error",
    )
    await refused(
        client, dev, "schedule.delete", {"id": series["id"], "scope": "this"}, "validation_error"
    )


async def test_another_users_schedules_are_not_found(client, device):
    alice, bob = await device("alice"), await device("bob")
    series = await weekly(alice)
    occurrence = f"{series['id']}:20260302T140000Z"
    for command, data in (
        ("schedule.get", {"id": series["id"]}),
        ("schedule.get", {"id": occurrence}),
        ("schedule.update", {"id": occurrence, "title": "x"}),
        ("schedule.delete", {"id": series["id"]}),
        ("timer.start", {"allocated_ms": 1000, "schedule_id": series["id"]}),
    ):
        await refused(client, bob, command, data, "not_found")
    assert await window(bob, **WEEK) == []


async def test_tag_filters_all_tags_and_any_group(device):
    dev = await device()
    work = await dev.ok("tag_group.create", {"name": "Work"})
    home = await dev.ok("tag_group.create", {"name": "Home"})
    a = await dev.ok("tag.create", {"group_id": work["id"], "name": "a"})
    b = await dev.ok("tag.create", {"group_id": work["id"], "name": "b"})
    h = await dev.ok("tag.create", {"group_id": home["id"], "name": "h"})
    both = await weekly(dev, title="both", tag_ids=[a["id"], b["id"]])
    await weekly(dev, title="only a", tag_ids=[a["id"]])
    await weekly(dev, title="home", tag_ids=[h["id"]])
    titles = lambda items: sorted({i["title"] for i in items})  # noqa: E731
    assert titles(await window(dev, **WEEK, tag_ids=[a["id"], b["id"]])) == ["both"]
    assert titles(await window(dev, **WEEK, group_ids=[work["id"]])) == ["both", "only a"]
    assert titles(await window(dev, **WEEK, group_ids=[home["id"]], tag_ids=[a["id"]])) == []
    assert {i["series_id"] for i in await window(dev, **WEEK, tag_ids=[b["id"]])} == {both["id"]}


async def test_paging_a_window_returns_everything_once_in_order(device):
    dev = await device()
    await weekly(dev, recurrence_rule="FREQ=DAILY")
    await weekly(dev, title="Other", recurrence_rule="FREQ=DAILY;BYHOUR=12")
    full = (
        await dev.ok(
            "schedule.list", {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
        )
    )["items"]
    seen, cursor = [], None
    while True:
        data = {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z", "limit": 7}
        page = await dev.ok("schedule.list", {**data, **({"cursor": cursor} if cursor else {})})
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == full
    assert len(full) == 31 + 30
    starts = [i["start_time"] for i in full]
    assert starts == sorted(starts)


async def test_a_todo_deadline_makes_moves_and_clears_its_schedule(device):
    dev = await device()
    group = await dev.ok("tag_group.create", {"name": "W"})
    tag = await dev.ok("tag.create", {"group_id": group["id"], "name": "t"})
    todo = await dev.ok(
        "todo.create",
        {
            "title": "Report",
            "tag_group_id": group["id"],
            "deadline": "2026-03-10T17:00:00Z",
            "tag_ids": [tag["id"]],
        },
    )
    [schedule_id] = todo["schedule_ids"]
    generated = await dev.ok("schedule.get", {"id": schedule_id})
    assert (generated["title"], generated["source_todo_id"], generated["tag_ids"]) == (
        "Report",
        todo["id"],
        [tag["id"]],
    )
    assert (generated["start_time"], generated["end_time"]) == (
        "2026-03-10T17:00:00.000Z",
        "2026-03-10T18:00:00.000Z",
    )
    moved = await dev.ok("todo.update", {"id": todo["id"], "deadline": "2026-03-12T09:00:00Z"})
    assert moved["schedule_ids"] == [schedule_id]
    assert (await dev.ok("schedule.get", {"id": schedule_id}))[
        "start_time"
    ] == "2026-03-12T09:00:00.000Z"
    back = await dev.ok(
        "schedule.update", {"id": schedule_id, "start_time": "2026-03-13T08:00:00Z"}
    )
    assert back["schedule"]["end_time"] == "2026-03-13T09:00:00.000Z"
    assert (await dev.ok("todo.get", {"id": todo["id"]}))["deadline"] == "2026-03-13T08:00:00.000Z"
    cleared = await dev.ok("todo.update", {"id": todo["id"], "deadline": None})
    assert cleared["schedule_ids"] == []
    assert (await dev.error("schedule.get", {"id": schedule_id}))["code"] == "not_found"


async def test_deleting_the_generated_schedule_clears_the_deadline(device):
    dev = await device()
    group = await dev.ok("tag_group.create", {"name": "W"})
    todo = await dev.ok(
        "todo.create",
        {"title": "R", "tag_group_id": group["id"], "deadline": "2026-03-10T17:00:00Z"},
    )
    await dev.ok("schedule.delete", {"id": todo["schedule_ids"][0]})
    after = await dev.ok("todo.get", {"id": todo["id"]})
    assert (after["deadline"], after["schedule_ids"]) == (None, [])


async def test_deleting_a_todo_deletes_its_schedule_and_timers_follow_links(device):
    dev = await device()
    group = await dev.ok("tag_group.create", {"name": "W"})
    tag = await dev.ok("tag.create", {"group_id": group["id"], "name": "t"})
    todo = await dev.ok(
        "todo.create",
        {
            "title": "R",
            "tag_group_id": group["id"],
            "deadline": "2026-03-10T17:00:00Z",
            "tag_ids": [tag["id"]],
        },
    )
    schedule_id = todo["schedule_ids"][0]
    timer = await dev.ok(
        "timer.start", {"allocated_ms": 1000, "schedule_id": schedule_id, "inherit_tags": True}
    )
    assert (timer["schedule_id"], timer["todo_id"], timer["tag_ids"]) == (
        schedule_id,
        todo["id"],
        [tag["id"]],
    )
    reverse = await dev.ok("timer.start", {"allocated_ms": 1000, "todo_id": todo["id"]})
    assert reverse["schedule_id"] == schedule_id
    await dev.ok("todo.delete", {"id": todo["id"]})
    assert (await dev.error("schedule.get", {"id": schedule_id}))["code"] == "not_found"
    after = await dev.ok("timer.get", {"id": timer["id"]})
    assert (after["schedule_id"], after["todo_id"]) == (None, None)


async def test_two_devices_see_schedule_events_in_order(device):
    first, second = await device(), await device()
    series = await weekly(first)
    await second.ok("schedule.update", {"id": series["id"], "title": "Renamed"})
    await first.ok("schedule.update", {"id": f"{series['id']}:20260302T140000Z", "title": "One"})
    await second.ok("schedule.delete", {"id": series["id"]})
    for dev in (first, second):
        events = await dev.wait_events(4)
        assert [e["name"] for e in events] == [
            "schedule.created",
            "schedule.updated",
            "schedule.updated",
            "schedule.deleted",
        ]
        assert events[2]["data"]["id"] == f"{series['id']}:20260302T140000Z"


async def test_occurrence_ids_survive_a_restart(start_server, token):
    from tests.wsclient import Device

    server = await start_server()
    dev = await Device.connect(server, token())
    series = await weekly(dev)
    before = await window(dev, **WEEK)
    await dev.close()
    await server.close()
    again = await start_server()
    dev2 = await Device.connect(again, token())
    assert await window(dev2, **WEEK) == before
    assert before[0]["series_id"] == series["id"]
    await dev2.close()


async def test_a_first_override_continues_the_series_version(device):
    dev = await device()
    series = await weekly(dev)
    for title in ("a", "b", "c"):
        await dev.ok("schedule.update", {"id": series["id"], "title": title})
    changed = await dev.ok(
        "schedule.update", {"id": f"{series['id']}:20260302T140000Z", "description": "x"}
    )
    assert changed["schedule"]["version"] == 5


async def test_an_occurrence_moved_past_the_series_end_is_still_found(device):
    dev = await device()
    series = await weekly(dev, recurrence_rule="FREQ=WEEKLY;BYDAY=MO;COUNT=2")
    last = f"{series['id']}:20260309T130000Z"
    await dev.ok("schedule.update", {"id": last, "start_time": "2026-06-01T13:00:00Z"})
    june = await window(dev, "2026-05-31T00:00:00Z", "2026-06-02T00:00:00Z")
    assert [i["id"] for i in june] == [last]


async def test_a_cancelled_occurrence_cannot_be_edited_and_an_empty_edit_writes_nothing(
    client, device
):
    dev = await device()
    series = await weekly(dev)
    first = f"{series['id']}:20260302T140000Z"
    second = f"{series['id']}:20260309T130000Z"
    await dev.ok("schedule.delete", {"id": first})
    await refused(client, dev, "schedule.update", {"id": first, "title": "back?"}, "not_found")
    await refused(client, dev, "schedule.delete", {"id": first}, "not_found")
    await dev.wait_events(2)
    dev.events.clear()
    same = await dev.ok("schedule.update", {"id": second})
    assert same["schedule"]["overridden"] is False
    with contextlib.suppress(TimeoutError):
        await dev.pump(timeout=0.3)
    assert dev.events == []


async def test_a_title_only_override_follows_a_new_duration(device):
    dev = await device()
    series = await weekly(dev)
    second = f"{series['id']}:20260309T130000Z"
    await dev.ok("schedule.update", {"id": second, "title": "Special"})
    reply = await dev.ok(
        "schedule.update", {"id": series["id"], "end_time": "2026-03-02T10:00:00-05:00"}
    )
    assert reply["dropped_overrides"] == []
    got = await dev.ok("schedule.get", {"id": second})
    assert (got["title"], got["end_time"]) == ("Special", "2026-03-09T14:00:00.000Z")


async def test_deleting_a_recurring_generated_schedule_through_an_occurrence_clears_the_deadline(
    device,
):
    dev = await device()
    group = await dev.ok("tag_group.create", {"name": "W"})
    todo = await dev.ok(
        "todo.create",
        {"title": "R", "tag_group_id": group["id"], "deadline": "2026-03-02T14:00:00Z"},
    )
    schedule_id = todo["schedule_ids"][0]
    await dev.ok("schedule.update", {"id": schedule_id, "recurrence_rule": "FREQ=DAILY"})
    await dev.ok("schedule.delete", {"id": f"{schedule_id}:20260302T140000Z", "scope": "series"})
    after = await dev.ok("todo.get", {"id": todo["id"]})
    assert (after["deadline"], after["schedule_ids"]) == (None, [])


async def test_deleting_a_todo_unlinks_a_timer_on_both_links_once(device):
    dev = await device()
    group = await dev.ok("tag_group.create", {"name": "W"})
    todo = await dev.ok(
        "todo.create",
        {"title": "R", "tag_group_id": group["id"], "deadline": "2026-03-02T14:00:00Z"},
    )
    timer = await dev.ok("timer.start", {"allocated_ms": 1000, "todo_id": todo["id"]})
    assert timer["schedule_id"] == todo["schedule_ids"][0]
    reply = await dev.ok("todo.delete", {"id": todo["id"]})
    assert reply["unlinked_timers"] == 1
    after = await dev.ok("timer.get", {"id": timer["id"]})
    assert (after["schedule_id"], after["todo_id"], after["version"]) == (
        None,
        None,
        timer["version"] + 1,
    )


async def test_count_is_applied_before_exclusions(device):
    dev = await device()
    series = await weekly(dev, recurrence_rule="FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    await dev.ok("schedule.delete", {"id": f"{series['id']}:20260309T130000Z"})
    items = await window(dev, "2026-03-01T00:00:00Z", "2026-06-01T00:00:00Z")
    assert [i["start_time"] for i in items] == [
        "2026-03-02T14:00:00.000Z",
        "2026-03-16T13:00:00.000Z",
    ]
