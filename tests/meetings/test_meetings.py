"""Meeting polls over the real protocol: the poll, its link, joining, guests and their scope."""

from __future__ import annotations

import re

import pytest

from tests.dbstate import refused
from tests.meetings.helpers import POLL, event_named, guest, poll, refused_guest
from tests.visibility.fanout_helpers import befriend
from tests.wsclient import Device, new_op

MISSING = "00000000-0000-4000-8000-000000000000"


async def test_create_answers_the_poll_with_its_link_and_sorted_days(device):
    ana = await device("ana")
    meeting = await ana.ok("meeting.create", POLL)
    assert meeting["available_days"] == [0, 2, 4]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", meeting["share_token"])
    assert meeting["visibility"] == {"level": "private"}
    assert meeting["version"] == 1
    assert (await ana.ok("meeting.get", {"id": meeting["id"]}))["meeting"] == meeting
    (event,) = [e for e in await ana.wait_events(1) if e["name"] == "meeting.created"]
    assert event["topic"] == "user:ana"
    assert event["data"] == meeting


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"available_days": [1, 1]}, "available_days"),
        ({"available_days": [7]}, "available_days"),
        ({"available_days": []}, "available_days"),
        ({"end_time": "09:00"}, "end_time"),
        ({"end_time": "08:00"}, "end_time"),
        ({"time_slot_minutes": 4}, "time_slot_minutes"),
        ({"time_slot_minutes": 241}, "time_slot_minutes"),
        ({"time_slot_minutes": 45}, "time_slot_minutes"),  # 180 minutes / 45 = 4: allowed below
        ({"end_date": "2027-03-03"}, "end_date"),
        ({"end_date": "2026-03-01"}, "end_date"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"start_time": "9:00"}, "start_time"),
        ({"title": " "}, "title"),
    ],
)
async def test_a_bad_poll_is_refused_naming_the_field(client, device, change, field):
    ana = await device("ana")
    if change == {"time_slot_minutes": 45}:
        await ana.ok("meeting.create", {**POLL, **change})
        change = {"time_slot_minutes": 40}
    error = await refused(client, ana, "meeting.create", {**POLL, **change}, "validation_error")
    assert field in str(error["details"]), error


async def test_join_as_a_user_twice_is_one_participant(device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    first = await ben.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "Ben"}
    )
    again = await ben.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "B"}
    )
    assert first["participant"] == again["participant"]
    assert (first["rejoined"], again["rejoined"]) == (False, True)
    assert first["participant_token"] is None
    assert first["meeting"]["share_token"] is None  # the link stays the owner's
    detail = await ana.ok("meeting.get", {"id": meeting["id"]})
    assert [p["display_name"] for p in detail["participants"]] == ["Ben"]


async def test_a_guest_joins_with_no_account_and_comes_back_with_its_token(client, device):
    ana = await device("ana")
    meeting = await poll(ana)
    watcher = await guest(client, meeting["share_token"])
    assert watcher.ready["user"] is None
    assert watcher.ready["guest"] == {"meeting_id": meeting["id"], "participant": None}
    assert f"meeting:{meeting['id']}" in watcher.ready["topics"]
    joined = await watcher.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "Gus"}
    )
    token = joined["participant_token"]
    assert len(token) >= 43
    assert joined["participant"]["user_id"] is None
    again = await guest(client, meeting["share_token"], token)
    assert again.ready["guest"]["participant"] == joined["participant"]
    renamed = await again.ok(
        "meeting.participant.update",
        {"participant_id": joined["participant"]["id"], "display_name": "Gustav"},
    )
    assert renamed["display_name"] == "Gustav"
    names = [e["name"] for e in await watcher.wait_events(2)]
    assert names == ["meeting_participant.created", "meeting_participant.updated"]


async def test_a_guest_may_use_only_its_polls_commands(client, device):
    ana = await device("ana")
    meeting, other = await poll(ana), await poll(ana, title="Other")
    gus = await guest(client, meeting["share_token"])
    assert (await gus.error("timer.start", {"allocated_ms": 1000}))["code"] == "forbidden"
    assert (await gus.error("user.me"))["code"] == "forbidden"
    assert (await gus.error("meeting.get", {"id": other["id"]}))["code"] == "forbidden"
    joined = await ana.ok(
        "meeting.join", {"share_token": other["share_token"], "display_name": "A"}
    )
    pid = joined["participant"]["id"]
    rename = {"participant_id": pid, "display_name": "x"}
    assert (await gus.error("meeting.participant.update", rename))["code"] == "forbidden"
    assert (await gus.error("subscribe", {"topic": "user:ana"}))["code"] == "not_found"
    assert (await gus.error("subscribe", {"topic": f"meeting:{other['id']}"}))[
        "code"
    ] == "not_found"
    other_link = {"share_token": other["share_token"], "display_name": "G"}
    assert (await gus.error("meeting.join", other_link))["code"] == "forbidden"


@pytest.mark.parametrize("level", ["private", "friends", "selected", "allowed_emails"])
async def test_guests_open_only_public_polls(client, device, level):
    ana = await device("ana")
    meeting = await poll(ana, "private")
    lists = {
        "selected": {"allowed_user_ids": ["ben"]},
        "allowed_emails": {"allowed_domains": ["example.com"]},
    }.get(level, {})
    if level == "selected":
        await befriend(ana, await device("ben"))
    if level != "private":
        data = {"resource_type": "meeting", "resource_id": meeting["id"], "level": level}
        await ana.ok("visibility.set", {**data, **lists})
    error, code = await refused_guest(client, meeting["share_token"])
    assert (error["code"], code) == ("not_found", 4401)


@pytest.mark.parametrize(
    ("level", "friend", "email", "opens"),
    [
        ("public", False, None, True),
        ("private", True, None, False),
        ("friends", True, None, True),
        ("friends", False, None, False),
        ("selected", True, None, True),
        ("allowed_emails", False, "ben@example.com", True),
        ("allowed_emails", False, "ben@other.org", False),
    ],
)
async def test_who_may_join_follows_the_polls_visibility(
    client, device, token, level, friend, email, opens
):
    ana = await device("ana")
    ben = await Device.connect(client, token("ben", email=email) if email else token("ben"))
    if friend:
        await befriend(ana, ben)
    meeting = await poll(ana, "private")
    lists = {
        "selected": {"allowed_user_ids": ["ben"]},
        "allowed_emails": {"allowed_domains": ["example.com"]},
    }.get(level, {})
    if level != "private":
        data = {"resource_type": "meeting", "resource_id": meeting["id"], "level": level}
        await ana.ok("visibility.set", {**data, **lists})
    link = {"share_token": meeting["share_token"], "display_name": "Ben"}
    if opens:
        await ben.ok("meeting.join", link)
        await ben.ok("meeting.get", {"id": meeting["id"]})
    else:
        assert (await ben.error("meeting.join", link))["code"] == "not_found"
        assert (await ben.error("meeting.get", {"id": meeting["id"]}))["code"] == "not_found"
    await ben.close()


async def test_a_participant_keeps_the_poll_when_it_turns_private(client, device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    await ben.ok("meeting.join", {"share_token": meeting["share_token"], "display_name": "Ben"})
    gus = await guest(client, meeting["share_token"])
    joined = await gus.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "G"}
    )
    await ana.ok(
        "visibility.set",
        {"resource_type": "meeting", "resource_id": meeting["id"], "level": "private"},
    )
    await ben.ok("meeting.get", {"id": meeting["id"]})
    back = await guest(client, meeting["share_token"], joined["participant_token"])
    await back.ok("meeting.get", {"id": meeting["id"]})
    error, _ = await refused_guest(client, meeting["share_token"])
    assert error["code"] == "not_found"


async def test_a_new_link_stops_the_old_one_at_once(client, device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    gus = await guest(client, meeting["share_token"])
    joined = await gus.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "G"}
    )
    rotated = await ana.ok("meeting.share.rotate", {"id": meeting["id"]})
    assert rotated["share_token"] != meeting["share_token"]
    old = {"share_token": meeting["share_token"], "display_name": "Ben"}
    assert (await ben.error("meeting.join", old))["code"] == "not_found"
    error, _ = await refused_guest(client, meeting["share_token"])
    assert error["code"] == "not_found"
    # A returning guest keeps its way in with its token, even on the old link.
    await guest(client, meeting["share_token"], joined["participant_token"])
    await ben.ok("meeting.join", {**old, "share_token": rotated["share_token"]})
    # Pages on the poll's topic learn of the change, never the link itself.
    assert (await event_named(gus, "meeting.updated"))["data"]["share_token"] is None


async def test_deleting_a_poll_with_participants_tells_every_open_page(client, device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    await ben.ok("meeting.join", {"share_token": meeting["share_token"], "display_name": "Ben"})
    await ben.ok("subscribe", {"topic": f"meeting:{meeting['id']}"})
    gus = await guest(client, meeting["share_token"])
    await gus.ok("meeting.join", {"share_token": meeting["share_token"], "display_name": "G"})
    gone = await ana.ok("meeting.delete", {"id": meeting["id"]}, op_id=new_op())
    assert gone == {"id": meeting["id"], "participants": 2}
    for page in (ben, gus):
        assert (await event_named(page, "meeting.deleted"))["data"] == gone
    assert (await ben.error("meeting.get", {"id": meeting["id"]}))["code"] == "not_found"
    assert (await ana.error("meeting.delete", {"id": MISSING}))["code"] == "not_found"


async def test_leave_and_removal(client, device):
    ana, ben, cy = await device("ana"), await device("ben"), await device("cy")
    meeting = await poll(ana)
    link = {"share_token": meeting["share_token"], "display_name": "x"}
    bp = (await ben.ok("meeting.join", link))["participant"]["id"]
    cp = (await cy.ok("meeting.join", link))["participant"]["id"]
    error = await ben.error("meeting.participant.remove", {"participant_id": cp})
    assert error["code"] == "forbidden"
    assert (await ben.error("meeting.leave", {"participant_id": cp}))["code"] == "forbidden"
    assert await ben.ok("meeting.leave", {"participant_id": bp}) == {
        "id": bp,
        "meeting_id": meeting["id"],
    }
    await ana.ok("meeting.participant.remove", {"participant_id": cp})
    assert (await ana.ok("meeting.get", {"id": meeting["id"]}))["participants"] == []


async def test_list_holds_owned_and_joined_polls_newest_first(device):
    ana, ben = await device("ana"), await device("ben")
    first = await poll(ana)
    mine = await poll(ben, "private", title="Ben's")
    await ben.ok("meeting.join", {"share_token": first["share_token"], "display_name": "Ben"})
    listed = await ben.ok("meeting.list", {"limit": 1})
    assert [m["id"] for m in listed["items"]] == [mine["id"]]
    rest = await ben.ok("meeting.list", {"cursor": listed["next_cursor"]})
    assert [m["id"] for m in rest["items"]] == [first["id"]]
    assert rest["items"][0]["share_token"] is None
    assert rest["next_cursor"] is None
