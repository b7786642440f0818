"""Reading a friend's schedules: windows expand only the series the viewer may see."""

from __future__ import annotations

from typing import Any

import pytest

from tests.rest.test_rest import bearer
from tests.visibility.fanout_helpers import befriend, share
from tests.wsclient import Device

START, END = "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"


async def daily(dev: Device, title: str) -> dict[str, Any]:
    data = {
        "title": title,
        "start_time": "2026-03-02T09:00:00-05:00",
        "end_time": "2026-03-02T10:00:00-05:00",
        "timezone": "America/New_York",
        "recurrence_rule": "FREQ=DAILY",
    }
    return dict(await dev.ok("schedule.create", data))


@pytest.fixture
async def olivia(device: Any) -> tuple[Device, dict[str, dict[str, Any]]]:
    """Olivia with a daily series per level; Fay is her friend."""
    owner = await device("olivia")
    fay = await device("fay")
    await befriend(owner, fay)
    series = {}
    for level, lists in [
        ("private", {}),
        ("friends", {}),
        ("selected", {"allowed_user_ids": ["fay"]}),
        ("public", {}),
    ]:
        series[level] = await daily(owner, level)
        if level != "private":
            await share(owner, "schedule", series[level]["id"], level, **lists)
    return owner, series


def titles(items: list[dict[str, Any]]) -> set[str]:
    return {item["title"] for item in items}


@pytest.mark.parametrize(
    ("viewer", "seen"),
    [
        ("olivia", {"private", "friends", "selected", "public"}),
        ("fay", {"friends", "selected", "public"}),
        ("sam", {"public"}),
    ],
)
async def test_a_window_of_another_owner_holds_what_the_viewer_may_see(
    device, olivia, viewer, seen
):
    dev = await device(viewer)
    page = await dev.ok("schedule.list", {"start": START, "end": END, "owner_id": "olivia"})
    assert titles(page["items"]) == seen
    assert len(page["items"]) == 7 * len(seen)
    if viewer != "olivia":
        assert all(item["visibility"].keys() == {"level"} for item in page["items"])


async def test_get_answers_a_visible_series_or_occurrence_and_not_found_otherwise(device, olivia):
    _, series = olivia
    fay = await device("fay")
    occurrence = f"{series['friends']['id']}:20260303T140000Z"
    got = await fay.ok("schedule.get", {"id": occurrence})
    assert got["visibility"] == {"level": "friends"}
    assert (await fay.ok("schedule.get", {"id": series["selected"]["id"]}))["title"] == "selected"
    hidden = await fay.error("schedule.get", {"id": series["private"]["id"]})
    missing = await fay.error("schedule.get", {"id": "00000000-0000-4000-8000-000000000000"})
    assert hidden["code"] == missing["code"] == "not_found"


async def test_blocked_viewers_get_an_empty_window(device, olivia):
    owner, _ = olivia
    sam = await device("sam")
    await owner.ok("friend.block", {"user_id": "sam"})
    page = await sam.ok("schedule.list", {"start": START, "end": END, "owner_id": "olivia"})
    assert page["items"] == []


async def test_tag_filters_name_the_callers_own_tags_only(device, olivia):
    fay = await device("fay")
    data = {
        "start": START,
        "end": END,
        "owner_id": "olivia",
        "group_ids": ["00000000-0000-4000-8000-000000000000"],
    }
    assert (await fay.error("schedule.list", data))["code"] == "validation_error"


async def test_rest_streams_a_friends_window(client, token, device, olivia):
    fay = await device("fay")
    url = f"/v1/schedules?start={START}&end={END}&owner_id=olivia"
    response = await client.get(url, headers=bearer(token("fay")))
    assert response.status == 200
    body = await response.json()
    page = await fay.ok("schedule.list", {"start": START, "end": END, "owner_id": "olivia"})
    assert body["items"] == page["items"]


async def test_the_owners_window_is_unchanged_by_a_friends_read(device, olivia):
    owner, _ = olivia
    fay = await device("fay")
    before = await owner.ok("schedule.list", {"start": START, "end": END})
    seen = await fay.ok("schedule.list", {"start": START, "end": END, "owner_id": "olivia"})
    assert all(item["visibility"].keys() == {"level"} for item in seen["items"])
    after = await owner.ok("schedule.list", {"start": START, "end": END})
    assert before == after
    selected = [i for i in after["items"] if i["title"] == "selected"]
    assert selected[0]["visibility"] == {"level": "selected", "allowed_user_ids": ["fay"]}


@pytest.mark.parametrize(
    ("email", "verified", "shares", "sees"),
    [
        ("vera@other.example", True, {"allowed_emails": ["VERA@other.example"]}, True),
        ("Vera@Other.Example", True, {"allowed_emails": ["vera@other.example"]}, True),
        ("vera@other.example", False, {"allowed_emails": ["vera@other.example"]}, False),
        ("una@corp.example", True, {"allowed_domains": ["corp.example"]}, True),
        ("una@corp.example", False, {"allowed_domains": ["corp.example"]}, False),
        ("una@sub.corp.example", True, {"allowed_domains": ["corp.example"]}, False),
    ],
)
async def test_allowed_emails_reach_strangers_with_a_verified_address(
    client, token, device, email, verified, shares, sees
):
    owner = await device("olivia")
    series = await daily(owner, "by email")
    await share(owner, "schedule", series["id"], "allowed_emails", **shares)
    viewer = await Device.connect(client, token("vera", email=email, email_verified=verified))
    try:
        page = await viewer.ok("schedule.list", {"start": START, "end": END, "owner_id": "olivia"})
        assert titles(page["items"]) == ({"by email"} if sees else set())
        got = await viewer.call("schedule.get", {"id": series["id"]})
        assert got["ok"] is sees
    finally:
        await viewer.close()
