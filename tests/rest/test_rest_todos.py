"""Thin REST: tag groups, todos with filters and cursors, and their place in bootstrap."""

from __future__ import annotations

import pytest

from tests.rest.test_rest import bearer
from tests.wsclient import Device


@pytest.fixture
async def tree(client, token):
    """A group with a tag and a three-level tree; the leaf carries the tag."""
    dev = await Device.connect(client, token())
    group = await dev.ok("tag_group.create", {"name": "Work", "color": "#0af"})
    tag = await dev.ok("tag.create", {"group_id": group["id"], "name": "urgent"})
    root = await dev.ok("todo.create", {"title": "root", "tag_group_id": group["id"]})
    mid = await dev.ok(
        "todo.create", {"title": "mid", "tag_group_id": group["id"], "parent_id": root["id"]}
    )
    leaf = await dev.ok(
        "todo.create",
        {
            "title": "leaf",
            "tag_group_id": group["id"],
            "parent_id": mid["id"],
            "tag_ids": [tag["id"]],
        },
    )
    yield {"group": group, "tag": tag, "todos": [root, mid, leaf]}
    await dev.close()


async def test_tag_groups_come_with_their_tags(client, token, tree):
    response = await client.get("/v1/tags/groups", headers=bearer(token()))
    assert response.status == 200
    body = await response.json()
    assert body == {"items": [{**tree["group"], "tags": [tree["tag"]]}], "next_cursor": None}
    assert body["items"][0]["color"] == "#0AF"


async def test_todos_page_with_a_cursor_and_filter_by_tag_with_ancestors(client, token, tree):
    first = await (await client.get("/v1/todos?limit=2", headers=bearer(token()))).json()
    rest = await (
        await client.get(
            f"/v1/todos?limit=2&cursor={first['next_cursor']}", headers=bearer(token())
        )
    ).json()
    assert rest["next_cursor"] is None
    assert len(first["items"]) + len(rest["items"]) == 3
    ids = {t["id"] for t in first["items"] + rest["items"]}
    assert ids == {t["id"] for t in tree["todos"]}
    query = f"tag_ids={tree['tag']['id']}&group_ids={tree['group']['id']}"
    filtered = await (await client.get(f"/v1/todos?{query}", headers=bearer(token()))).json()
    assert {t["title"]: t["include_reason"] for t in filtered["items"]} == {
        "root": "ANCESTOR",
        "mid": "ANCESTOR",
        "leaf": "MATCH",
    }


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=0", 422),
        ("limit=5001", 422),
        ("tag_ids=nope", 422),
        ("cursor=bad", 422),
        ("colour=1", 422),
        ("group_ids=00000000-0000-4000-8000-000000000000", 404),
    ],
)
async def test_bad_todo_queries_are_refused(client, token, tree, query, status):
    response = await client.get(f"/v1/todos?{query}", headers=bearer(token()))
    assert response.status == status
    assert (await response.json())["error"]["code"] in ("validation_error", "not_found")


async def test_bootstrap_holds_tag_groups_and_todos(client, token, tree):
    body = await (await client.get("/v1/bootstrap", headers=bearer(token()))).json()
    assert body["tag_groups"] == [{**tree["group"], "tags": [tree["tag"]]}]
    assert {t["id"] for t in body["todos"]} == {t["id"] for t in tree["todos"]}
    assert body["todos_next_cursor"] is None
    other = await (await client.get("/v1/bootstrap", headers=bearer(token("bob")))).json()
    assert (other["tag_groups"], other["todos"]) == ([], [])
