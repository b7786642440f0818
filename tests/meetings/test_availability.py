"""Cells and results over the protocol: counting rules, tiers, live events, shrinking, autofill."""

from __future__ import annotations

import pytest

from tests.conftest import PG_URL
from tests.dbstate import refused
from tests.meetings.helpers import event_named, guest, poll
from tests.wsclient import Device

# POLL: Europe/Berlin (UTC+1 in early March), Mon/Wed/Fri 2026-03-02..08, 09:00-12:00, 30 min.
MON = "2026-03-02T"
CELLS_MON = [f"{MON}{h}Z" for h in ("08:00:00.000", "08:30:00.000", "09:00:00.000",
                                    "09:30:00.000", "10:00:00.000", "10:30:00.000")]  # fmt: skip


async def joined(dev: Device, meeting: dict, name: str) -> str:
    reply = await dev.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": name}
    )
    return str(reply["participant"]["id"])


async def paint(dev: Device, pid: str, **cells) -> dict:
    return dict(await dev.ok("meeting.availability.set", {"participant_id": pid, **cells}))


async def test_cells_are_stored_announced_and_counted_once(device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    await ana.ok("subscribe", {"topic": f"meeting:{meeting['id']}"})
    pid = await joined(ben, meeting, "Ben")
    painted = await paint(ben, pid, cells=[CELLS_MON[1], "2026-03-02T09:00:00+01:00", CELLS_MON[1]])
    assert painted["available"] == CELLS_MON[:2]
    assert painted["if_need_be"] == []
    event = await event_named(ana, "meeting_availability.updated")
    assert event["topic"] == f"meeting:{meeting['id']}"
    assert event["data"] == painted
    result = await ana.ok("meeting.result", {"id": meeting["id"]})
    counted = {c["start"]: c["available"] for c in result["cells"] if c["available"]}
    assert counted == {CELLS_MON[0]: [pid], CELLS_MON[1]: [pid]}
    assert len(result["cells"]) == 18


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        (["2026-03-02T08:10:00Z"], "cells[0]"),  # not on a cell boundary
        (["2026-03-03T08:00:00Z"], "cells[0]"),  # Tuesday is not a poll day
        (["2026-03-02T07:30:00Z"], "cells[0]"),  # before the daily range
        (["2026-03-09T08:00:00Z"], "cells[0]"),  # after the last date
        ([CELLS_MON[0], "2026-03-02T11:00:00Z"], "cells[1]"),  # the range's end
    ],
)
async def test_cells_outside_the_grid_are_named_and_change_nothing(client, device, cells, reason):
    ana = await device("ana")
    meeting = await poll(ana)
    pid = await joined(ana, meeting, "Ana")
    data = {"participant_id": pid, "cells": cells}
    error = await refused(client, ana, "meeting.availability.set", data, "validation_error")
    assert [e["field"] for e in error["details"]["errors"]] == [reason]


async def test_a_range_covers_its_partly_covered_first_and_last_cells(device):
    ana = await device("ana")
    meeting = await poll(ana)
    pid = await joined(ana, meeting, "Ana")
    ranges = [{"start": "2026-03-02T08:10:00Z", "end": "2026-03-02T09:20:00Z"}]
    assert (await paint(ana, pid, ranges=ranges))["available"] == CELLS_MON[:3]
    overlapping = [
        {"start": "2026-03-02T09:00:00+01:00", "end": "2026-03-02T10:00:00+01:00"},
        {"start": "2026-03-02T08:15:00Z", "end": "2026-03-02T08:45:00Z"},
    ]
    assert (await paint(ana, pid, ranges=overlapping))["available"] == CELLS_MON[:2]


async def test_a_range_outside_the_days_range_is_refused(client, device):
    ana = await device("ana")
    meeting = await poll(ana)
    pid = await joined(ana, meeting, "Ana")
    data = {
        "participant_id": pid,
        "ranges": [{"start": f"{MON}10:00:00Z", "end": f"{MON}12:00:00Z"}],
    }
    error = await refused(client, ana, "meeting.availability.set", data, "validation_error")
    assert error["details"]["errors"][0]["field"].startswith("ranges[0]")


async def test_the_second_tier_takes_cells_from_the_first(device):
    ana = await device("ana")
    meeting = await poll(ana)
    pid = await joined(ana, meeting, "Ana")
    await paint(ana, pid, cells=CELLS_MON[:3])
    both = await paint(ana, pid, cells=CELLS_MON[2:4], tier="if_need_be")
    assert (both["available"], both["if_need_be"]) == (CELLS_MON[:2], CELLS_MON[2:4])


async def test_only_ones_own_cells_change(client, device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    await joined(ana, meeting, "Ana")
    bid = await joined(ben, meeting, "Ben")
    data = {"participant_id": bid, "cells": CELLS_MON[:1]}
    await refused(client, ana, "meeting.availability.set", data, "forbidden")
    gus = await guest(client, meeting["share_token"])
    await refused(client, gus, "meeting.availability.set", data, "forbidden")


async def test_best_windows_rank_by_people_then_if_need_be_then_start(device):
    ana, ben, cy = await device("ana"), await device("ben"), await device("cy")
    meeting = await poll(ana)
    a, b, c = [await joined(d, meeting, n) for d, n in ((ana, "A"), (ben, "B"), (cy, "C"))]
    await paint(ana, a, cells=CELLS_MON)
    await paint(ben, b, cells=CELLS_MON[2:5])
    await paint(cy, c, cells=CELLS_MON[3:6], tier="if_need_be")
    result = await ana.ok(
        "meeting.result", {"id": meeting["id"], "duration_minutes": 60, "min_people": 2}
    )
    best = result["windows"][0]
    assert (best["start"], best["end"]) == (CELLS_MON[3], "2026-03-02T10:30:00.000Z")
    assert (sorted(best["available"]), best["if_need_be"], best["missing"]) == (
        sorted([a, b]),
        [c],
        [],
    )
    strict = await ana.ok(
        "meeting.result",
        {"id": meeting["id"], "duration_minutes": 60, "required": [c], "tier": "available"},
    )
    assert strict["windows"] == []
    firm = await ana.ok(
        "meeting.result",
        {"id": meeting["id"], "duration_minutes": 90, "min_people": 2, "tier": "available"},
    )
    assert [(w["start"], w["missing"]) for w in firm["windows"]] == [(CELLS_MON[2], [c])]


async def test_an_unknown_required_person_is_a_validation_error(device):
    ana = await device("ana")
    meeting = await poll(ana)
    missing = "00000000-0000-4000-8000-000000000000"
    error = await ana.error("meeting.result", {"id": meeting["id"], "required": [missing]})
    assert error["code"] == "validation_error"


async def test_a_smaller_grid_drops_the_cells_outside_it_and_says_how_many(device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    await ana.ok("subscribe", {"topic": f"meeting:{meeting['id']}"})
    bid = await joined(ben, meeting, "Ben")
    await paint(ben, bid, cells=CELLS_MON)
    await paint(ben, bid, cells=["2026-03-04T08:00:00Z"], tier="if_need_be")
    changed = await ana.ok(
        "meeting.update", {"id": meeting["id"], "end_time": "11:00", "available_days": [0]}
    )
    assert changed["dropped_cells"] == 3
    # Topics are not ordered between them: the poll's own meeting.updated may come after
    # the one on ana's user topic (it does through Redis), so wait for the poll topic's.
    topic = f"meeting:{meeting['id']}"
    while not any(e["name"] == "meeting.updated" and e["topic"] == topic for e in ana.events):
        await ana.pump()
    # The same transaction's batch: the cells Ben kept, just before the poll's change.
    cells = [e for e in ana.events if e["name"] == "meeting_availability.updated"][-1]
    assert (cells["data"]["available"], cells["data"]["if_need_be"]) == (CELLS_MON[:4], [])
    detail = await ana.ok("meeting.get", {"id": meeting["id"]})
    assert detail["participants"][0]["available"] == CELLS_MON[:4]
    same = await ana.ok("meeting.update", {"id": meeting["id"], "title": "Renamed"})
    assert same["dropped_cells"] == 0


async def test_autofill_marks_the_cells_ones_own_schedules_leave_free(client, device):
    ana, ben = await device("ana"), await device("ben")
    meeting = await poll(ana)
    bid = await joined(ben, meeting, "Ben")
    # Every weekday 03:00-04:00 in New York (EST, UTC-5): 08:00-09:00Z, the first two cells.
    await ben.ok(
        "schedule.create",
        {
            "title": "stand-up",
            "start_time": "2026-02-02T03:00:00-05:00",
            "end_time": "2026-02-02T04:00:00-05:00",
            "timezone": "America/New_York",
            "recurrence_rule": "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        },
    )
    filled = await ben.ok("meeting.availability.autofill", {"participant_id": bid})
    free_monday = [c for c in filled["available"] if c.startswith("2026-03-02")]
    assert free_monday == CELLS_MON[2:]
    assert len(filled["available"]) == 12
    gus = await guest(client, meeting["share_token"])
    error = await gus.error("meeting.availability.autofill", {"participant_id": bid})
    assert error["code"] == "forbidden"


async def test_rest_reads_for_users_and_guests(client, device, token):
    ana = await device("ana")
    meeting = await poll(ana)
    pid = await joined(ana, meeting, "Ana")
    await paint(ana, pid, cells=CELLS_MON[:2])
    gus = await guest(client, meeting["share_token"])
    joined_guest = await gus.ok(
        "meeting.join", {"share_token": meeting["share_token"], "display_name": "G"}
    )
    as_ana = {"Authorization": f"Bearer {token('ana')}"}
    as_guest = {"X-Participant-Token": joined_guest["participant_token"]}
    for headers in (as_ana, as_guest):
        resp = await client.get(f"/v1/meetings/{meeting['id']}", headers=headers)
        assert resp.status == 200
        assert len((await resp.json())["participants"]) == 2
        resp = await client.get(
            f"/v1/meetings/{meeting['id']}/result?duration_minutes=60&required={pid}",
            headers=headers,
        )
        assert (await resp.json())["windows"][0]["start"] == CELLS_MON[0]
    resp = await client.get(f"/v1/meetings/{meeting['id']}/availability.csv", headers=as_ana)
    assert resp.content_type == "text/csv"
    lines = (await resp.text()).splitlines()
    assert lines == [
        "participant_id,display_name,tier,start,end",
        f"{pid},Ana,available,{CELLS_MON[0]},{CELLS_MON[1]}",
        f"{pid},Ana,available,{CELLS_MON[1]},{CELLS_MON[2]}",
    ]
    resp = await client.get(
        f"/v1/meetings/{meeting['id']}", headers={"X-Participant-Token": "nope"}
    )
    assert resp.status == 401
    other = await poll(ana, title="Other")
    resp = await client.get(f"/v1/meetings/{other['id']}", headers=as_guest)
    assert resp.status == 403


async def test_a_poll_across_dst_keeps_wall_times_and_viewers_see_their_own_days(device):
    ana = await device("ana")
    # New York changes to summer time on Sunday 2026-03-08: 09:00 is 14:00Z, then 13:00Z.
    meeting = await poll(
        ana,
        start_date="2026-03-07",
        end_date="2026-03-09",
        available_days=list(range(7)),
        start_time="09:00",
        end_time="12:00",
        time_slot_minutes=60,
        timezone="America/New_York",
    )
    utc = {
        "sat": ["2026-03-07T14:00:00.000Z", "2026-03-07T15:00:00.000Z", "2026-03-07T16:00:00.000Z"],
        "sun": ["2026-03-08T13:00:00.000Z", "2026-03-08T14:00:00.000Z", "2026-03-08T15:00:00.000Z"],
        "mon": ["2026-03-09T13:00:00.000Z", "2026-03-09T14:00:00.000Z", "2026-03-09T15:00:00.000Z"],
    }
    result = await ana.ok("meeting.result", {"id": meeting["id"]})
    assert [c["start"] for c in result["cells"]] == utc["sat"] + utc["sun"] + utc["mon"]
    detail = await ana.ok("meeting.get", {"id": meeting["id"], "tz": "Asia/Tokyo"})
    assert detail["days"] == [
        {"date": "2026-03-07", "cells": utc["sat"][:1]},
        {"date": "2026-03-08", "cells": utc["sat"][1:] + utc["sun"][:2]},
        {"date": "2026-03-09", "cells": utc["sun"][2:] + utc["mon"][:2]},
        {"date": "2026-03-10", "cells": utc["mon"][2:]},
    ]
    assert (await ana.ok("meeting.get", {"id": meeting["id"]}))["days"] is None


async def test_a_poll_across_the_october_change_in_europe(device):
    ana = await device("ana")
    meeting = await poll(
        ana,
        start_date="2026-10-24",
        end_date="2026-10-26",
        available_days=list(range(7)),
        start_time="09:00",
        end_time="10:00",
        time_slot_minutes=60,
    )
    pid = await joined(ana, meeting, "Ana")
    # A range across the whole weekend covers the 09:00 cell of each day, in CEST then CET.
    ranges = [
        {"start": "2026-10-24T09:00:00+02:00", "end": "2026-10-24T10:00:00+02:00"},
        {"start": "2026-10-25T09:00:00+01:00", "end": "2026-10-25T10:00:00+01:00"},
    ]
    painted = await paint(ana, pid, ranges=ranges)
    assert painted["available"] == ["2026-10-24T07:00:00.000Z", "2026-10-25T08:00:00.000Z"]


async def test_results_follow_changes_made_on_another_instance_and_a_new_grid(start_server, token):
    first = await start_server()
    second = await start_server() if PG_URL else first
    ana = await Device.connect(first, token("ana"))
    ben = await Device.connect(second, token("ben"))
    meeting = await poll(ana)
    pid = await joined(ben, meeting, "Ben")

    async def free_cells() -> list[str]:
        result = await ana.ok("meeting.result", {"id": meeting["id"]})
        return [c["start"] for c in result["cells"] if c["available"]]

    assert await free_cells() == []  # read once: the marks are kept
    await paint(ben, pid, cells=CELLS_MON[:3])
    assert await free_cells() == CELLS_MON[:3]
    await paint(ben, pid, cells=CELLS_MON[2:])
    assert await free_cells() == CELLS_MON[2:]
    # 09:00-11:00 in Berlin: the cells from 10:00Z on are gone, with the old grid's masks.
    await ana.ok("meeting.update", {"id": meeting["id"], "end_time": "11:00"})
    assert await free_cells() == CELLS_MON[2:4]
    await ben.ok("meeting.leave", {"participant_id": pid})
    assert await free_cells() == []
    for dev in (ana, ben):
        await dev.close()
