"""Tag groups and tags over the real protocol, on the real database."""

from __future__ import annotations

import pytest

from tests.dbstate import refused
from tests.wsclient import new_op

MISSING = "00000000-0000-4000-8000-000000000000"


async def make_group(dev, name="Work", **fields):
    return await dev.ok("tag_group.create", {"name": name, **fields})


async def make_tag(dev, group, name, **fields):
    return await dev.ok("tag.create", {"group_id": group["id"], "name": name, **fields})


@pytest.mark.parametrize(("given", "stored"), [("#abc", "#ABC"), ("#a1B2c3", "#A1B2C3")])
async def test_colors_are_stored_upper_case(device, given, stored):
    dev = await device()
    group = await make_group(dev, color=given)
    assert group["color"] == stored
    tag = await make_tag(dev, group, "Deep", color=given)
    assert tag["color"] == stored
    assert (await make_tag(dev, group, "Plain"))["color"] == "#808080"


@pytest.mark.parametrize("color", ["red", "#12345", "#GGG", "123456", "#1234567", "", "#ABCD"])
async def test_anything_but_hex_colors_is_refused(client, device, color):
    dev = await device()
    group = await make_group(dev)
    await refused(
        client, dev, "tag_group.create", {"name": "X", "color": color}, "validation_error"
    )
    await refused(
        client,
        dev,
        "tag.create",
        {"group_id": group["id"], "name": "t", "color": color},
        "validation_error",
    )
    await refused(
        client, dev, "tag_group.update", {"id": group["id"], "color": color}, "validation_error"
    )


async def test_tag_names_are_unique_per_group_whatever_the_case(client, device):
    dev = await device()
    work, home = await make_group(dev, "Work"), await make_group(dev, "Home")
    first = await make_tag(dev, work, "Deep work")
    error = await refused(
        client, dev, "tag.create", {"group_id": work["id"], "name": "  DEEP WORK "}, "conflict"
    )
    assert error["details"] == {"field": "name", "tag_id": first["id"]}
    other = await make_tag(dev, home, "deep work")
    assert other["name"] == "deep work"
    second = await make_tag(dev, work, "  Shallow  ")
    assert second["name"] == "Shallow"
    await refused(client, dev, "tag.update", {"id": second["id"], "name": "deep WORK"}, "conflict")
    await refused(
        client, dev, "tag.update", {"id": other["id"], "group_id": work["id"]}, "conflict"
    )
    renamed = await dev.ok("tag.update", {"id": first["id"], "name": "DEEP WORK"})
    assert renamed["name"] == "DEEP WORK"
    assert renamed["version"] == 2
    await refused(
        client, dev, "tag.create", {"group_id": work["id"], "name": "   "}, "validation_error"
    )


async def test_group_names_need_not_be_unique(device):
    dev = await device()
    assert (await make_group(dev, "Same"))["id"] != (await make_group(dev, "Same"))["id"]


async def test_goal_ratios_are_checked(client, device):
    dev = await device()
    group = await make_group(dev)
    a, b = await make_tag(dev, group, "a"), await make_tag(dev, group, "b")
    elsewhere = await make_tag(dev, await make_group(dev, "Other"), "c")
    gid = group["id"]
    for ratios in (
        {elsewhere["id"]: 0.5},
        {MISSING: 0.1},
        {a["id"]: 0.7, b["id"]: 0.4},
        {a["id"]: -0.1},
        {a["id"]: 1.5},
        {"not-a-uuid": 0.1},
    ):
        await refused(
            client, dev, "tag_group.update", {"id": gid, "goal_ratios": ratios}, "validation_error"
        )
    await refused(
        client,
        dev,
        "tag_group.create",
        {"name": "n", "goal_ratios": {a["id"]: 0.1}},
        "validation_error",
    )
    await refused(
        client, dev, "tag_group.update", {"id": gid, "goal_ratios": None}, "validation_error"
    )
    updated = await dev.ok(
        "tag_group.update", {"id": gid, "goal_ratios": {a["id"]: 0.3, b["id"]: 0.7}}
    )
    assert updated["goal_ratios"] == {a["id"]: 0.3, b["id"]: 0.7}
    assert [t["id"] for t in updated["tags"]] == [a["id"], b["id"]]


async def test_list_and_get_include_the_tags(device):
    dev = await device()
    work, home = await make_group(dev, "Work"), await make_group(dev, "Home")
    deep = await make_tag(dev, work, "Deep")
    cook = await make_tag(dev, home, "Cook")
    listed = await dev.ok("tag_group.list")
    assert listed["next_cursor"] is None
    assert [(g["name"], [t["name"] for t in g["tags"]]) for g in listed["items"]] == [
        ("Work", ["Deep"]),
        ("Home", ["Cook"]),
    ]
    got = await dev.ok("tag_group.get", {"id": work["id"]})
    assert got["tags"] == [deep]
    assert (await dev.ok("tag.get", {"id": cook["id"]})) == cook
    assert (await dev.ok("tag.list", {"group_id": home["id"]}))["items"] == [cook]
    assert [t["name"] for t in (await dev.ok("tag.list"))["items"]] == ["Deep", "Cook"]


async def test_another_users_groups_and_tags_are_not_found(client, device):
    alice, bob = await device("alice"), await device("bob")
    group = await make_group(alice)
    tag = await make_tag(alice, group, "Mine")
    for command, data in (
        ("tag_group.get", {"id": group["id"]}),
        ("tag_group.update", {"id": group["id"], "name": "x"}),
        ("tag_group.delete", {"id": group["id"]}),
        ("tag.create", {"group_id": group["id"], "name": "theirs"}),
        ("tag.list", {"group_id": group["id"]}),
        ("tag.get", {"id": tag["id"]}),
        ("tag.update", {"id": tag["id"], "name": "x"}),
        ("tag.delete", {"id": tag["id"]}),
        ("timer.start", {"allocated_ms": 1000, "tag_ids": [tag["id"]]}),
    ):
        error = await bob.error(command, data)
        assert error["code"] == "not_found", command
    bobs = await make_group(bob)
    await refused(
        client,
        bob,
        "tag.update",
        {"id": (await make_tag(bob, bobs, "b"))["id"], "group_id": group["id"]},
        "not_found",
    )
    assert (await bob.ok("tag_group.list"))["items"] == [
        {**bobs, "tags": (await bob.ok("tag_group.get", {"id": bobs["id"]}))["tags"]}
    ]


async def test_stale_if_version_is_a_conflict(client, device):
    dev = await device()
    group = await make_group(dev)
    tag = await make_tag(dev, group, "a")
    await dev.ok("tag.update", {"id": tag["id"], "description": "d"})
    await refused(
        client, dev, "tag.update", {"id": tag["id"], "if_version": 1, "name": "b"}, "conflict"
    )
    await refused(client, dev, "tag.delete", {"id": tag["id"], "if_version": 1}, "conflict")
    await refused(client, dev, "tag_group.delete", {"id": group["id"], "if_version": 2}, "conflict")


async def test_moving_a_tag_drops_it_from_the_old_groups_goal_ratios(device):
    dev = await device()
    work, home = await make_group(dev, "Work"), await make_group(dev, "Home")
    a, b = await make_tag(dev, work, "a"), await make_tag(dev, work, "b")
    await dev.ok(
        "tag_group.update", {"id": work["id"], "goal_ratios": {a["id"]: 0.5, b["id"]: 0.5}}
    )
    await dev.wait_events(5)
    dev.events.clear()
    moved = await dev.ok("tag.update", {"id": a["id"], "group_id": home["id"]})
    assert moved["group_id"] == home["id"]
    events = await dev.wait_events(2)
    assert [e["name"] for e in events] == ["tag.updated", "tag_group.updated"]
    assert events[1]["data"]["goal_ratios"] == {b["id"]: 0.5}
    assert [t["id"] for t in events[1]["data"]["tags"]] == [b["id"]]
    assert [e["batch"] for e in events] == [{"index": 1, "size": 2}, {"index": 2, "size": 2}]


async def test_deleting_a_tag_unlinks_it_everywhere(client, device):
    dev = await device()
    group = await make_group(dev)
    keep, drop = await make_tag(dev, group, "keep"), await make_tag(dev, group, "drop")
    await dev.ok(
        "tag_group.update", {"id": group["id"], "goal_ratios": {drop["id"]: 0.2, keep["id"]: 0.3}}
    )
    both = [drop["id"], keep["id"]]
    timer = await dev.ok("timer.start", {"allocated_ms": 60_000, "tag_ids": both})
    todo = await dev.ok("todo.create", {"title": "t", "tag_group_id": group["id"], "tag_ids": both})
    await dev.wait_events(6)
    dev.events.clear()
    reply = await dev.ok("tag.delete", {"id": drop["id"]})
    assert reply == {
        "id": drop["id"],
        "group_id": group["id"],
        "group_deleted": False,
        "unlinked": 2,
    }
    events = await dev.wait_events(4)
    assert [e["name"] for e in events] == [
        "timer.updated",
        "todo.updated",
        "tag.deleted",
        "tag_group.updated",
    ]
    assert {e["batch"]["size"] for e in events} == {4}
    assert events[0]["data"]["tag_ids"] == [keep["id"]]
    assert events[1]["data"]["tag_ids"] == [keep["id"]]
    assert events[3]["data"]["goal_ratios"] == {keep["id"]: 0.3}
    assert (await dev.ok("timer.get", {"id": timer["id"]}))["tag_ids"] == [keep["id"]]
    assert (await dev.ok("todo.get", {"id": todo["id"]}))["tag_ids"] == [keep["id"]]
    listed = await dev.ok("todo.list", {"tag_ids": [keep["id"]]})
    assert [t["id"] for t in listed["items"]] == [todo["id"]]
    await refused(client, dev, "todo.list", {"tag_ids": [drop["id"]]}, "not_found")


async def test_deleting_the_last_tag_deletes_an_unused_group(device):
    dev = await device()
    group = await make_group(dev)
    tag = await make_tag(dev, group, "only")
    await dev.wait_events(2)
    dev.events.clear()
    reply = await dev.ok("tag.delete", {"id": tag["id"]})
    assert reply == {"id": tag["id"], "group_id": group["id"], "group_deleted": True, "unlinked": 0}
    events = await dev.wait_events(2)
    assert [(e["name"], e["data"]) for e in events] == [
        ("tag.deleted", {"id": tag["id"]}),
        ("tag_group.deleted", {"id": group["id"]}),
    ]
    assert (await dev.error("tag_group.get", {"id": group["id"]}))["code"] == "not_found"


async def test_deleting_the_last_tag_keeps_a_group_that_has_todos(device):
    dev = await device()
    group = await make_group(dev)
    tag = await make_tag(dev, group, "only")
    await dev.ok("todo.create", {"title": "t", "tag_group_id": group["id"]})
    reply = await dev.ok("tag.delete", {"id": tag["id"]})
    assert reply["group_deleted"] is False
    assert (await dev.ok("tag_group.get", {"id": group["id"]}))["tags"] == []


async def test_deleting_a_group_takes_its_tags_and_todos_in_one_batch(client, device):
    dev = await device()
    other = await device()
    work, home = await make_group(dev, "Work"), await make_group(dev, "Home")
    deep, focus = await make_tag(dev, work, "deep"), await make_tag(dev, work, "focus")
    cook = await make_tag(dev, home, "cook")
    root = await dev.ok("todo.create", {"title": "root", "tag_group_id": work["id"]})
    child = await dev.ok(
        "todo.create", {"title": "child", "tag_group_id": work["id"], "parent_id": root["id"]}
    )
    outside = await dev.ok(
        "todo.create",
        {"title": "home", "tag_group_id": home["id"], "tag_ids": [cook["id"], deep["id"]]},
    )
    on_todo = await dev.ok("timer.start", {"allocated_ms": 60_000, "todo_id": child["id"]})
    tagged = await dev.ok("timer.start", {"allocated_ms": 60_000, "tag_ids": [focus["id"]]})
    head = (await other.wait_events(10))[-1]["seq"]
    other.events.clear()
    reply = await dev.ok("tag_group.delete", {"id": work["id"]}, op_id=new_op())
    assert reply == {"id": work["id"], "deleted_tags": 2, "deleted_todos": 2, "unlinked": 3}
    events = await other.wait_events(8)
    assert [e["seq"] for e in events] == list(range(head + 1, head + 9))
    assert [e["batch"] for e in events] == [{"index": i, "size": 8} for i in range(1, 9)]
    assert {e["op_id"] for e in events} == {events[0]["op_id"]}
    names = [(e["name"], e["data"]["id"]) for e in events]
    assert sorted(names[:3]) == sorted(
        [
            ("timer.updated", tagged["id"]),
            ("todo.updated", outside["id"]),
            ("timer.updated", on_todo["id"]),
        ]
    )
    assert sorted(names[3:5]) == sorted(
        [("todo.deleted", root["id"]), ("todo.deleted", child["id"])]
    )
    assert sorted(names[5:7]) == sorted([("tag.deleted", deep["id"]), ("tag.deleted", focus["id"])])
    assert names[7] == ("tag_group.deleted", work["id"])
    assert (await dev.ok("todo.get", {"id": outside["id"]}))["tag_ids"] == [cook["id"]]
    assert (await dev.ok("timer.get", {"id": on_todo["id"]}))["todo_id"] is None
    assert (await dev.ok("timer.get", {"id": tagged["id"]}))["tag_ids"] == []
    assert [g["id"] for g in (await dev.ok("tag_group.list"))["items"]] == [home["id"]]
    assert [t["id"] for t in (await dev.ok("todo.list"))["items"]] == [outside["id"]]


async def test_two_devices_see_every_change_in_order(device):
    first, second = await device(), await device()
    group = await make_group(first)
    tag = await make_tag(second, group, "a")
    await first.ok("tag.update", {"id": tag["id"], "color": "#fff"})
    await second.ok("tag_group.update", {"id": group["id"], "name": "Renamed"})
    await first.ok("tag.delete", {"id": tag["id"]})
    expected = [
        "tag_group.created",
        "tag.created",
        "tag.updated",
        "tag_group.updated",
        "tag.deleted",
        "tag_group.deleted",
    ]
    for dev in (first, second):
        events = await dev.wait_events(6)
        assert [e["name"] for e in events] == expected
        assert [e["seq"] for e in events] == list(range(1, 7))


async def test_a_limit_on_tags_per_group(client, device, monkeypatch):
    monkeypatch.setattr("server.domain.tags.actions.MAX_TAGS_PER_GROUP", 2)
    dev = await device()
    group = await make_group(dev)
    await make_tag(dev, group, "a")
    await make_tag(dev, group, "b")
    await refused(
        client, dev, "tag.create", {"group_id": group["id"], "name": "c"}, "validation_error"
    )


async def test_a_timer_losing_a_tag_and_a_todo_to_one_group_deletion_changes_once(device):
    dev = await device()
    group = await make_group(dev)
    tag = await make_tag(dev, group, "t")
    todo = await dev.ok("todo.create", {"title": "x", "tag_group_id": group["id"]})
    timer = await dev.ok(
        "timer.start", {"allocated_ms": 60_000, "todo_id": todo["id"], "tag_ids": [tag["id"]]}
    )
    reply = await dev.ok("tag_group.delete", {"id": group["id"]})
    assert reply["unlinked"] == 1
    after = await dev.ok("timer.get", {"id": timer["id"]})
    assert (after["todo_id"], after["tag_ids"], after["version"]) == (
        None,
        [],
        timer["version"] + 1,
    )


async def test_moving_a_tag_into_a_full_group_is_refused(client, device, monkeypatch):
    monkeypatch.setattr("server.domain.tags.actions.MAX_TAGS_PER_GROUP", 1)
    dev = await device()
    full, other = await make_group(dev, "Full"), await make_group(dev, "Other")
    await make_tag(dev, full, "a")
    mover = await make_tag(dev, other, "b")
    error = await refused(
        client, dev, "tag.update", {"id": mover["id"], "group_id": full["id"]}, "validation_error"
    )
    assert error["details"] == {"limit": 1}
