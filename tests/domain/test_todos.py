"""Todo trees over the real protocol, on the real database."""

from __future__ import annotations

import asyncio

import pytest

from tests.dbstate import refused
from tests.wsclient import new_op

MISSING = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
async def alice(device):
    dev = await device("alice")
    dev.work = await dev.ok("tag_group.create", {"name": "Work"})
    dev.home = await dev.ok("tag_group.create", {"name": "Home"})
    return dev


async def todo(dev, title, group=None, **fields):
    group_id = (group or dev.work)["id"]
    return await dev.ok("todo.create", {"title": title, "tag_group_id": group_id, **fields})


async def test_create_returns_the_whole_todo(alice):
    created = await todo(alice, "Write", description="d", deadline="2026-03-08T09:00:00-05:00")
    assert created["title"] == "Write"
    assert created["deadline"] == "2026-03-08T14:00:00.000Z"
    assert created["status"] == "UNSCHEDULED"
    assert created["parent_id"] is None
    assert created["tag_ids"] == []
    assert len(created["schedule_ids"]) == 1  # the deadline's generated schedule
    assert created["version"] == 1
    assert created == await alice.ok("todo.get", {"id": created["id"]})


@pytest.mark.parametrize(
    "data",
    [
        {"title": ""},
        {"title": "x" * 201},
        {"deadline": "2026-03-08T09:00:00"},
        {"deadline": "yesterday"},
        {"status": "OPEN"},
        {"tag_group_id": None},
        {"tag_ids": [MISSING, MISSING]},
        {"extra": 1},
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(client, alice, data):
    await refused(
        client,
        alice,
        "todo.create",
        {"title": "t", "tag_group_id": alice.work["id"], **data},
        "validation_error",
    )
    existing = await todo(alice, "t")
    if "title" in data or "status" in data or "tag_group_id" in data or "deadline" in data:
        await refused(
            client, alice, "todo.update", {"id": existing["id"], **data}, "validation_error"
        )


async def test_null_clears_the_deadline_and_the_parent(alice):
    root = await todo(alice, "root")
    child = await todo(alice, "child", parent_id=root["id"], deadline="2026-01-01T00:00:00Z")
    updated = await alice.ok(
        "todo.update", {"id": child["id"], "deadline": None, "parent_id": None}
    )
    assert (updated["deadline"], updated["parent_id"], updated["version"]) == (None, None, 2)


async def test_self_reference_is_refused(client, alice):
    node = await todo(alice, "n")
    error = await refused(
        client,
        alice,
        "todo.update",
        {"id": node["id"], "parent_id": node["id"]},
        "validation_error",
    )
    assert error["details"]["field"] == "parent_id"


async def test_a_cycle_at_any_depth_is_refused(client, alice):
    chain = [await todo(alice, "0")]
    for level in range(1, 30):
        chain.append(await todo(alice, str(level), parent_id=chain[-1]["id"]))
    error = await refused(
        client,
        alice,
        "todo.update",
        {"id": chain[0]["id"], "parent_id": chain[-1]["id"]},
        "cycle_detected",
    )
    assert error["details"]["path"] == [t["id"] for t in reversed(chain)]
    await refused(
        client,
        alice,
        "todo.update",
        {"id": chain[5]["id"], "parent_id": chain[6]["id"]},
        "cycle_detected",
    )
    moved = await alice.ok("todo.update", {"id": chain[6]["id"], "parent_id": chain[0]["id"]})
    assert moved["parent_id"] == chain[0]["id"]


async def test_a_parent_in_another_group_is_a_group_mismatch(client, alice):
    work_root = await todo(alice, "w")
    home_root = await todo(alice, "h", alice.home)
    error = await refused(
        client,
        alice,
        "todo.create",
        {"title": "c", "tag_group_id": alice.home["id"], "parent_id": work_root["id"]},
        "group_mismatch",
    )
    assert error["details"]["parent_group_id"] == alice.work["id"]
    await refused(
        client,
        alice,
        "todo.update",
        {"id": home_root["id"], "parent_id": work_root["id"]},
        "group_mismatch",
    )


async def test_changing_the_group_of_a_todo_in_a_tree_is_a_group_mismatch(client, alice):
    root = await todo(alice, "root")
    child = await todo(alice, "child", parent_id=root["id"])
    error = await refused(
        client,
        alice,
        "todo.update",
        {"id": root["id"], "tag_group_id": alice.home["id"]},
        "group_mismatch",
    )
    assert error["details"]["child_ids"] == [child["id"]]
    await refused(
        client,
        alice,
        "todo.update",
        {"id": child["id"], "tag_group_id": alice.home["id"]},
        "group_mismatch",
    )
    moved = await alice.ok(
        "todo.update", {"id": child["id"], "tag_group_id": alice.home["id"], "parent_id": None}
    )
    assert (moved["tag_group_id"], moved["parent_id"]) == (alice.home["id"], None)
    home_root = await todo(alice, "home root", alice.home)
    regrouped = await alice.ok(
        "todo.update",
        {"id": root["id"], "tag_group_id": alice.home["id"], "parent_id": home_root["id"]},
    )
    assert regrouped["parent_id"] == home_root["id"]


async def test_references_to_another_users_resources_are_not_found(client, alice, device):
    bob = await device("bob")
    bobs_group = await bob.ok("tag_group.create", {"name": "B"})
    bobs_tag = await bob.ok("tag.create", {"group_id": bobs_group["id"], "name": "b"})
    bobs_todo = await bob.ok("todo.create", {"title": "b", "tag_group_id": bobs_group["id"]})
    mine = await todo(alice, "mine")
    for command, data in (
        ("todo.create", {"title": "t", "tag_group_id": bobs_group["id"]}),
        (
            "todo.create",
            {"title": "t", "tag_group_id": alice.work["id"], "parent_id": bobs_todo["id"]},
        ),
        (
            "todo.create",
            {"title": "t", "tag_group_id": alice.work["id"], "tag_ids": [bobs_tag["id"]]},
        ),
        ("todo.update", {"id": mine["id"], "tag_group_id": bobs_group["id"]}),
        ("todo.update", {"id": mine["id"], "parent_id": bobs_todo["id"]}),
        ("todo.update", {"id": mine["id"], "tag_ids": [bobs_tag["id"]]}),
        ("todo.update", {"id": bobs_todo["id"], "title": "x"}),
        ("todo.delete", {"id": bobs_todo["id"]}),
        ("todo.list", {"group_ids": [bobs_group["id"]]}),
        ("todo.list", {"tag_ids": [bobs_tag["id"]]}),
        ("todo.stats", {"group_id": bobs_group["id"]}),
        ("timer.start", {"allocated_ms": 1000, "todo_id": bobs_todo["id"]}),
    ):
        error = await refused(client, alice, command, data, "not_found")
        assert error["details"]["id"] in (bobs_group["id"], bobs_tag["id"], bobs_todo["id"]), (
            command
        )
    assert (await alice.error("todo.get", {"id": bobs_todo["id"]}))["code"] == "not_found"


async def test_deleting_a_todo_promotes_its_children_and_unlinks_its_timers(alice, device):
    other = await device("alice")
    root = await todo(alice, "root")
    middle = await todo(alice, "middle", parent_id=root["id"])
    kids = [await todo(alice, f"kid {i}", parent_id=middle["id"]) for i in range(2)]
    grandchild = await todo(alice, "grandchild", parent_id=kids[0]["id"])
    timer = await alice.ok("timer.start", {"allocated_ms": 60_000, "todo_id": middle["id"]})
    # A device that connects without a cursor starts at the head its instance knows,
    # which may not yet count the fixture's last tag group (its event is on its way):
    # wait for the timer's event, not for a count.
    async with asyncio.timeout(10):
        while not any(e["name"] == "timer.started" for e in other.events):
            await other.pump()
    other.events.clear()
    reply = await alice.ok("todo.delete", {"id": middle["id"]}, op_id=new_op())
    assert reply == {
        "id": middle["id"],
        "promoted": sorted(k["id"] for k in kids),
        "unlinked_timers": 1,
    }
    events = await other.wait_events(4)
    assert [e["name"] for e in events] == [
        "todo.updated",
        "todo.updated",
        "timer.updated",
        "todo.deleted",
    ]
    assert {e["batch"]["size"] for e in events} == {4}
    assert {e["data"]["parent_id"] for e in events[:2]} == {None}
    assert events[2]["data"]["todo_id"] is None
    assert events[2]["data"]["id"] == timer["id"]
    assert (await alice.ok("todo.get", {"id": grandchild["id"]}))["parent_id"] == kids[0]["id"]
    assert (await alice.error("todo.get", {"id": middle["id"]}))["code"] == "not_found"


async def test_list_order_is_status_rank_then_deadline_nulls_last_then_newest(alice):
    made = {}
    for name, status, deadline in [
        ("done", "DONE", None),
        ("late", "UNSCHEDULED", "2026-05-01T00:00:00Z"),
        ("none-old", "UNSCHEDULED", None),
        ("soon", "UNSCHEDULED", "2026-04-01T00:00:00Z"),
        ("none-new", "UNSCHEDULED", None),
        ("scheduled", "SCHEDULED", None),
        ("cancelled", "CANCELLED", "2026-01-01T00:00:00Z"),
    ]:
        made[name] = await todo(alice, name, status=status, deadline=deadline)
    listed = await alice.ok("todo.list")
    assert [t["title"] for t in listed["items"]] == [
        "soon",
        "late",
        "none-new",
        "none-old",
        "scheduled",
        "done",
        "cancelled",
    ]
    assert {t["include_reason"] for t in listed["items"]} == {"MATCH"}
    titles = []
    cursor = None
    while True:
        page = await alice.ok("todo.list", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        titles += [t["title"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert titles == [t["title"] for t in listed["items"]]


async def test_a_tag_filter_brings_the_ancestors_of_matches(alice):
    urgent = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "urgent"})
    small = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "small"})
    root = await todo(alice, "root")
    branch = await todo(alice, "branch", parent_id=root["id"], tag_ids=[urgent["id"]])
    leaf = await todo(alice, "leaf", parent_id=branch["id"], tag_ids=[urgent["id"], small["id"]])
    await todo(alice, "sibling", parent_id=root["id"], tag_ids=[small["id"]])
    await todo(alice, "home", alice.home, tag_ids=[urgent["id"], small["id"]])
    both = await alice.ok(
        "todo.list", {"tag_ids": [urgent["id"], small["id"]], "group_ids": [alice.work["id"]]}
    )
    reasons = {t["title"]: t["include_reason"] for t in both["items"]}
    assert reasons == {"root": "ANCESTOR", "branch": "ANCESTOR", "leaf": "MATCH"}
    one = await alice.ok("todo.list", {"tag_ids": [urgent["id"]]})
    reasons = {t["title"]: t["include_reason"] for t in one["items"]}
    assert reasons == {"root": "ANCESTOR", "branch": "MATCH", "leaf": "MATCH", "home": "MATCH"}
    grouped = await alice.ok("todo.list", {"group_ids": [alice.home["id"]]})
    assert [t["title"] for t in grouped["items"]] == ["home"]
    assert leaf["id"] in {t["id"] for t in both["items"]}


async def test_a_forged_cursor_is_a_validation_error(client, alice):
    for cursor in ("nope", "WzEsMl0", "W10"):
        await refused(client, alice, "todo.list", {"cursor": cursor}, "validation_error")


async def test_stats_count_by_status_and_tag(alice):
    deep = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "deep"})
    idle = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "idle"})
    cook = await alice.ok("tag.create", {"group_id": alice.home["id"], "name": "cook"})
    await todo(alice, "a", tag_ids=[deep["id"]])
    await todo(alice, "b", tag_ids=[deep["id"], cook["id"]], status="DONE")
    await todo(alice, "c", alice.home, tag_ids=[cook["id"]])
    work = await alice.ok("todo.stats", {"group_id": alice.work["id"]})
    assert work == {
        "total_count": 2,
        "by_status": {"UNSCHEDULED": 1, "SCHEDULED": 0, "DONE": 1, "CANCELLED": 0},
        "by_tag": [
            {"tag_id": deep["id"], "tag_name": "deep", "count": 2},
            {"tag_id": cook["id"], "tag_name": "cook", "count": 1},
            {"tag_id": idle["id"], "tag_name": "idle", "count": 0},
        ],
    }
    everything = await alice.ok("todo.stats")
    assert everything["total_count"] == 3
    assert {t["tag_name"]: t["count"] for t in everything["by_tag"]} == {
        "deep": 2,
        "cook": 2,
        "idle": 0,
    }


async def test_timers_link_todos_and_inherit_their_tags(client, alice):
    deep = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "deep"})
    focus = await alice.ok("tag.create", {"group_id": alice.work["id"], "name": "focus"})
    task = await todo(alice, "task", tag_ids=[deep["id"], focus["id"]])
    plain = await alice.ok("timer.start", {"allocated_ms": 1000, "todo_id": task["id"]})
    assert (plain["todo_id"], plain["tag_ids"]) == (task["id"], [])
    inherited = await alice.ok(
        "timer.start",
        {
            "allocated_ms": 1000,
            "todo_id": task["id"],
            "tag_ids": [focus["id"]],
            "inherit_tags": True,
        },
    )
    assert inherited["tag_ids"] == [focus["id"], deep["id"]]
    await refused(
        client, alice, "timer.update", {"id": plain["id"], "tag_ids": [MISSING]}, "not_found"
    )
    await refused(
        client, alice, "timer.update", {"id": plain["id"], "todo_id": MISSING}, "not_found"
    )
    updated = await alice.ok(
        "timer.update", {"id": plain["id"], "tag_ids": [deep["id"]], "todo_id": None}
    )
    assert (updated["tag_ids"], updated["todo_id"]) == ([deep["id"]], None)
    reply = await alice.ok("tag.delete", {"id": deep["id"]})
    assert reply["unlinked"] == 3


async def test_two_devices_see_every_change_in_order(alice, device):
    second = await device("alice")
    created = await todo(alice, "t")
    await second.ok("todo.update", {"id": created["id"], "status": "DONE"})
    await alice.ok("todo.update", {"id": created["id"], "title": "renamed"})
    await second.ok("todo.delete", {"id": created["id"]})
    for dev, count in ((alice, 6), (second, 4)):
        events = [e for e in await dev.wait_events(count) if e["name"].startswith("todo.")]
        assert [e["name"] for e in events] == [
            "todo.created",
            "todo.updated",
            "todo.updated",
            "todo.deleted",
        ]
        assert [e["data"].get("version") for e in events] == [1, 2, 3, None]
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs)


async def test_an_update_without_changes_changes_nothing(alice):
    created = await todo(alice, "t")
    alice.events.clear()
    assert await alice.ok("todo.update", {"id": created["id"]}) == created
    assert await alice.ok("todo.update", {"id": created["id"], "if_version": 1}) == created


async def test_inherited_tags_cannot_push_a_timer_past_the_limit(client, alice, monkeypatch):
    monkeypatch.setattr("server.domain.timers.links.MAX_TAGS", 2)
    tags = [await alice.ok("tag.create", {"group_id": alice.work["id"], "name": n}) for n in "abc"]
    task = await todo(alice, "task", tag_ids=[t["id"] for t in tags[:2]])
    data = {
        "allocated_ms": 1000,
        "todo_id": task["id"],
        "tag_ids": [tags[2]["id"]],
        "inherit_tags": True,
    }
    error = await refused(client, alice, "timer.start", data, "validation_error")
    assert error["details"]["field"] == "inherit_tags"


async def test_titles_are_trimmed_and_blank_ones_refused(client, alice):
    assert (await todo(alice, "  Write  "))["title"] == "Write"
    await refused(
        client,
        alice,
        "todo.create",
        {"title": "   ", "tag_group_id": alice.work["id"]},
        "validation_error",
    )


async def test_an_empty_group_filter_is_no_filter(alice):
    await todo(alice, "w")
    await todo(alice, "h", alice.home)
    assert len((await alice.ok("todo.list", {"group_ids": []}))["items"]) == 2
