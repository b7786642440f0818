"""GET /v1/export/timers.csv and .jsonl: columns, zones, segments, filters, auth, batching."""

from __future__ import annotations

import pytest

from schema.exports import ExportedTimer
from server.domain.exports import timers as timer_export
from server.domain.exports.timesheet import COLUMNS
from tests.rest.exporting import csv_rows, jsonl_rows, put_timer, put_timers, timer_row
from tests.rest.test_rest import bearer
from tests.wsclient import Device

CSV = "/v1/export/timers.csv"
JSONL = "/v1/export/timers.jsonl"


@pytest.fixture
async def alice(client, token):
    """Alice, signed in, living in Paris."""
    dev = await Device.connect(client, token())
    await dev.ok("user.update", {"timezone": "Europe/Paris"})
    yield dev
    await dev.close()


async def get(client, token, path, user="alice", **params):
    response = await client.get(path, params=params, headers=bearer(token(user)))
    return response, await response.read()


async def make_tags(dev, *names):
    group = await dev.ok("tag_group.create", {"name": "Clients"})
    return [(await dev.ok("tag.create", {"group_id": group["id"], "name": n}))["id"] for n in names]


async def test_the_header_and_a_timer_across_the_spring_jump_in_the_profile_zone(
    client, token, alice
):
    tag_ids = await make_tags(alice, "Acme, Inc.", "Écriture")
    row = await put_timer(
        client,
        "alice",
        "2026-03-29T00:30:00Z",
        ("stop", "2026-03-29T02:30:00.750Z"),
        title="Réunion",
        description="notes",
        tag_ids=tag_ids,
    )
    response, body = await get(client, token, CSV)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="timers.csv"'
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Export-Time-Zone"] == "Europe/Paris"
    assert body.split(b"\r\n")[0].decode() == ",".join(COLUMNS)
    assert csv_rows(body) == [
        {
            "Description": "Réunion",
            "Start date": "2026-03-29",
            "Start time": "01:30:00",
            "End date": "2026-03-29",
            "End time": "04:30:00",
            "Duration": "02:00:00",
            "Tags": "Acme, Inc., Écriture",
            "Notes": "notes",
            "Status": "COMPLETED",
            "Segment": "",
            "Allocated": "00:25:00",
            "Schedule ID": "",
            "Todo ID": "",
            "Timer ID": row["id"],
        }
    ]


async def test_tz_overrides_the_profile_zone_and_jsonl_is_typed(client, token, alice):
    row = await put_timer(
        client, "alice", "2026-11-01T05:30:00Z", ("stop", "2026-11-01T06:30:00Z"), title="Late"
    )
    response, body = await get(client, token, JSONL, tz="America/New_York")
    assert response.headers["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response.headers["X-Export-Time-Zone"] == "America/New_York"
    (line,) = jsonl_rows(body)
    ExportedTimer.model_validate(line)
    assert line == {
        "id": row["id"],
        "title": "Late",
        "description": "",
        "status": "COMPLETED",
        "segment": None,
        "start": "2026-11-01T01:30:00.000-04:00",
        "end": "2026-11-01T01:30:00.000-05:00",
        "duration_ms": 3_600_000,
        "allocated_ms": 1_500_000,
        "tags": [],
        "tag_ids": [],
        "schedule_id": None,
        "todo_id": None,
    }


async def test_segments_of_a_paused_and_resumed_timer(client, token, alice):
    await put_timer(
        client,
        "alice",
        "2026-06-01T07:00:00Z",
        ("pause", "2026-06-01T07:25:00Z"),
        ("resume", "2026-06-01T08:00:00Z"),
        ("pause", "2026-06-01T08:10:00Z"),
        ("resume", "2026-06-01T08:15:00Z"),
        title="Write",
    )
    _, body = await get(client, token, CSV, rows="segments")
    found = [
        (r["Segment"], r["Start time"], r["End time"], r["Duration"], r["Status"])
        for r in csv_rows(body)
    ]
    assert found[:2] == [
        ("1", "09:00:00", "09:25:00", "00:25:00", "RUNNING"),
        ("2", "10:00:00", "10:10:00", "00:10:00", "RUNNING"),
    ]
    assert found[2][:3] == ("3", "10:15:00", "")  # still running: no end, run time so far
    _, body = await get(client, token, JSONL, rows="segments")
    assert [line["segment"] for line in jsonl_rows(body)] == [1, 2, 3]
    assert jsonl_rows(body)[2]["end"] is None


async def test_a_running_timer_has_no_end_and_its_elapsed_time(client, token, alice):
    await put_timer(
        client, "alice", "2020-01-01T00:00:00Z", ("pause", "2020-01-01T01:00:00Z"), title="Paused"
    )
    (row,) = csv_rows((await get(client, token, CSV))[1])
    assert (row["End date"], row["End time"], row["Duration"], row["Status"]) == (
        "",
        "",
        "01:00:00",
        "PAUSED",
    )


async def test_filters_by_day_range_in_the_zone_status_and_all_tags(client, token, alice):
    a, b = await make_tags(alice, "a", "b")
    rows = [
        timer_row(
            "alice", "2026-03-01T22:59:59Z", ("stop", "2026-03-01T23:30:00Z"), title="feb-night"
        ),  # 23:59:59 Paris, 1 March
        timer_row(
            "alice",
            "2026-03-01T23:00:00Z",
            ("stop", "2026-03-01T23:30:00Z"),
            title="first",
            tag_ids=[a, b],
        ),  # 2 March 00:00 Paris
        timer_row(
            "alice",
            "2026-03-03T22:59:00Z",
            ("cancel", "2026-03-03T23:30:00Z"),
            title="last",
            tag_ids=[a],
        ),  # 3 March 23:59 Paris
        timer_row("alice", "2026-03-03T23:00:00Z", title="after"),  # 4 March 00:00 Paris
    ]
    await put_timers(client, rows)

    async def titles(**params):
        response, body = await get(client, token, CSV, **params)
        assert response.status == 200, body
        return [r["Description"] for r in csv_rows(body)]

    assert await titles() == ["feb-night", "first", "last", "after"]
    assert await titles(**{"from": "2026-03-02", "to": "2026-03-03"}) == ["first", "last"]
    assert await titles(
        **{"from": "2026-03-02T00:00:00+01:00", "to": "2026-03-03T23:59:00+01:00"}
    ) == ["first"]
    assert await titles(status="CANCELLED,RUNNING") == ["last", "after"]
    assert await titles(tag_ids=a) == ["first", "last"]
    assert await titles(tag_ids=f"{a},{b}") == ["first"]
    assert await titles(tag_ids=a, status="COMPLETED", **{"from": "2026-03-02"}) == ["first"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2026-03-05", "to": "2026-03-04"}, "to"),
        ({"from": "2026-03-05T00:00:00Z", "to": "2026-03-05T00:00:00Z"}, "to"),
        ({"from": "2026-02-30"}, "from"),
        ({"to": "2026-03-05T10:00:00"}, "to"),
        ({"status": "DONE"}, "status"),
        ({"rows": "days"}, "rows"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tag_ids": "not-a-uuid"}, "tag_ids"),
        ({"limit": "5"}, "limit"),
    ],
)
async def test_bad_parameters_are_validation_errors(client, token, alice, params, field):
    response, _ = await get(client, token, CSV, **params)
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "validation_error"
    assert field in str(error["details"])


async def test_a_tag_of_another_user_is_not_found(client, token, alice):
    bob = await Device.connect(client, token("bob"))
    (theirs,) = await make_tags(bob, "secret")
    response, _ = await get(client, token, JSONL, tag_ids=theirs)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
    await bob.close()


async def test_exports_need_a_token_and_hold_only_the_callers_timers(client, token, alice):
    for path in (CSV, JSONL):
        for headers in ({}, bearer("garbage")):
            response = await client.get(path, headers=headers)
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"
    mine = await put_timer(client, "alice", "2026-01-01T10:00:00Z", title="mine")
    bob = await Device.connect(client, token("bob"))
    theirs = await bob.ok("timer.start", {"allocated_ms": 60_000, "title": "theirs"})
    # Even a timer anyone may see stays out of another user's export.
    await bob.ok(
        "visibility.set", {"resource_type": "timer", "resource_id": theirs["id"], "level": "public"}
    )
    _, body = await get(client, token, JSONL)
    assert [line["id"] for line in jsonl_rows(body)] == [mine["id"]]
    _, body = await get(client, token, CSV, user="bob")
    assert [r["Timer ID"] for r in csv_rows(body)] == [theirs["id"]]
    await bob.close()


async def test_a_user_without_a_profile_gets_a_header_in_utc(client, token):
    response, body = await get(client, token, CSV, user="nobody")
    assert response.status == 200
    assert response.headers["X-Export-Time-Zone"] == "UTC"
    assert body == (",".join(COLUMNS) + "\r\n").encode()


async def test_batches_with_equal_creation_times_lose_and_repeat_nothing(
    client, token, alice, monkeypatch
):
    monkeypatch.setattr(timer_export, "BATCH", 7)
    rows = [timer_row("alice", "2026-05-05T10:00:00Z", title=str(i)) for i in range(40)]
    rows += [timer_row("alice", f"2026-05-05T10:00:0{i}Z", title=f"later{i}") for i in range(1, 8)]
    await put_timers(client, rows)
    _, body = await get(client, token, CSV)
    ids = [r["Timer ID"] for r in csv_rows(body)]
    assert sorted(ids) == sorted(r["id"] for r in rows)
    assert ids[:40] == sorted(r["id"] for r in rows[:40])
    _, body = await get(client, token, JSONL, rows="segments")
    assert len(jsonl_rows(body)) == 47


async def test_head_answers_the_headers_without_running_the_export(
    client, token, alice, monkeypatch
):
    await put_timer(client, "alice", "2026-01-01T10:00:00Z")
    monkeypatch.setattr(timer_export.TimerExport, "_read", None)  # reading rows would fail
    response = await client.head(CSV, headers=bearer(token()))
    assert response.status == 200
    assert response.headers["X-Export-Time-Zone"] == "Europe/Paris"
    assert await response.read() == b""
    assert (await client.head(CSV, params={"rows": "x"}, headers=bearer(token()))).status == 422


async def test_browsers_may_read_the_file_name_and_the_zone(start_server, token):
    server = await start_server(cors_origins=["https://app.example"])
    response = await server.get(JSONL, headers={**bearer(token()), "Origin": "https://app.example"})
    exposed = {h.strip() for h in response.headers["Access-Control-Expose-Headers"].split(",")}
    assert {"Content-Disposition", "X-Export-Time-Zone", "X-Request-ID"} <= exposed


@pytest.mark.parametrize(
    "params",
    [
        {"from": "0001-01-01", "to": "9999-12-31"},
        {"from": "9999-12-31", "tz": "Pacific/Kiritimati"},
        {
            "from": "0001-01-01T00:00:00+14:00",
            "to": "9999-12-31T23:59:59-14:00",
            "tz": "Etc/GMT+12",
        },
        {"status": "", "tag_ids": ""},
    ],
)
async def test_the_ends_of_the_calendar_are_ranges_like_any_other(client, token, alice, params):
    await put_timer(client, "alice", "2026-01-01T10:00:00Z", title="t")
    response, body = await get(client, token, CSV, **params)
    assert response.status == 200
    expected = 0 if params.get("from", "").startswith("9999") else 1
    assert len(csv_rows(body)) == expected
