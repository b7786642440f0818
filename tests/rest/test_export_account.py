"""GET /v1/export/account: every table the user owns, a manifest that matches, nobody else's data."""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile

import orjson
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select

from schema.exports import AccountManifest
from schema.frames import Event
from schema.meetings import Meeting, ParticipantDetail
from schema.resources import CalendarFeed, Friendship, Schedule, Tag, Timer, Todo, User
from server.clock import now_ms
from server.domain.exports import account
from server.domain.exports.resources import NOT_EXPORTED, RESOURCES
from server.state import STATE
from server.storage.tables import metadata
from tests.meetings.helpers import POLL
from tests.rest.exporting import SecondReadProbe
from tests.rest.test_rest import bearer
from tests.wsclient import Device

# The documented resource each file's lines are (tag groups come without their tags,
# overrides have no resource of their own: see docs/exports.md).
LINE_MODELS: dict[str, type[BaseModel]] = {
    "profile": User,
    "tags": Tag,
    "timers": Timer,
    "todos": Todo,
    "schedules": Schedule,
    "calendar_feeds": CalendarFeed,
    "friendships": Friendship,
    "events": Event,
    "meetings": Meeting,
    "meeting_participants": ParticipantDetail,
    "meeting_participations": ParticipantDetail,
}


def test_every_table_is_exported_or_says_why_not():
    exported = {r.table.name for r in RESOURCES}
    tables = set(metadata.tables)
    assert not exported & set(NOT_EXPORTED), "a table is both exported and excluded"
    missing = sorted(tables - exported - set(NOT_EXPORTED))
    assert not missing, (
        f"add these tables to RESOURCES (or NOT_EXPORTED, with the reason): {missing}"
    )
    assert not set(NOT_EXPORTED) - tables, "NOT_EXPORTED names a table that does not exist"
    assert len({r.name for r in RESOURCES}) == len(RESOURCES), "two resources share a file name"


def test_every_table_that_names_a_user_is_exported():
    """A table with an owner (a column like owner_id, user_id or a key to users) is the user's data."""
    exempt = {"op_replies"}  # replies to the user's own commands, repeated in their events
    for table in metadata.sorted_tables:
        names_a_user = any(
            c.name in ("owner_id", "user_id")
            or any(fk.column.table.name == "users" for fk in c.foreign_keys)
            for c in table.columns
        )
        if names_a_user and table.name not in exempt:
            assert table.name in {r.table.name for r in RESOURCES} or table.name == "tag_links", (
                table.name
            )


@pytest.fixture
async def world(client, token):
    """Alice owns one of everything; Bob is her friend with data of his own; Carol got a request by email."""
    alice = await Device.connect(client, token("alice", email="alice@example.com"))
    bob = await Device.connect(client, token("bob", email="bob@example.com"))
    carol = await Device.connect(client, token("carol", email="carol@example.com"))
    group = await alice.ok("tag_group.create", {"name": "Work"})
    tag = await alice.ok("tag.create", {"group_id": group["id"], "name": "Deep"})
    timer = await alice.ok(
        "timer.start", {"allocated_ms": 60_000, "title": "Write", "tag_ids": [tag["id"]]}
    )
    await alice.ok("timer.pause", {"id": timer["id"]})
    await alice.ok(
        "todo.create",
        {"title": "Report", "tag_group_id": group["id"], "deadline": "2026-03-13T13:00:00+01:00"},
    )
    series = await alice.ok(
        "schedule.create",
        {
            "title": "Sync",
            "start_time": "2026-03-02T09:00:00+01:00",
            "end_time": "2026-03-02T09:30:00+01:00",
            "timezone": "Europe/Paris",
            "recurrence_rule": "FREQ=WEEKLY;COUNT=5",
        },
    )
    await alice.ok(
        "schedule.update",
        {"id": f"{series['id']}:20260309T080000Z", "start_time": "2026-03-10T10:00:00+01:00"},
    )
    await alice.ok("calendar_feed.create")
    me = await bob.ok("user.me")
    request = await alice.ok("friend.request", {"friend_code": me["friend_code"]})
    await bob.ok("friend.accept", {"id": request["friendship"]["id"]})
    await alice.ok("friend.request", {"email": "carol@example.com"})
    poll = await alice.ok("meeting.create", {**POLL})
    await alice.ok("meeting.join", {"share_token": poll["share_token"], "display_name": "A"})
    bobs_poll = await bob.ok("meeting.create", {**POLL, "title": "Bob's poll"})
    await bob.ok(
        "visibility.set",
        {"resource_type": "meeting", "resource_id": bobs_poll["id"], "level": "friends"},
    )
    await alice.ok(
        "meeting.join", {"share_token": bobs_poll["share_token"], "display_name": "Alice"}
    )
    secret_timer = await bob.ok("timer.start", {"allocated_ms": 60_000, "title": "bob's own"})
    secret_group = await bob.ok("tag_group.create", {"name": "Bob's group"})
    yield {"alice": alice, "bob_ids": [secret_timer["id"], secret_group["id"]], "series": series}
    for dev in (alice, bob, carol):
        await dev.close()


async def archive_of(client, token, user):
    response = await client.get("/v1/export/account", headers=bearer(token(user)))
    assert response.status == 200
    return response, zipfile.ZipFile(io.BytesIO(await response.read()))


async def test_the_archive_holds_a_file_per_resource_and_a_manifest_that_matches(
    client, token, world
):
    response, archive = await archive_of(client, token, "alice")
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith(
        'attachment; filename="hipster-timer-account-'
    )
    assert archive.testzip() is None
    assert archive.namelist() == [f"{r.name}.jsonl" for r in RESOURCES] + ["manifest.json"]
    manifest = AccountManifest.model_validate_json(archive.read("manifest.json"))
    assert (manifest.format, manifest.format_version, manifest.user_id) == (
        "hipster-timer.account",
        1,
        "alice",
    )
    assert [f.name for f in manifest.files] == archive.namelist()[:-1]
    for entry in manifest.files:
        data = archive.read(entry.name)
        assert entry.bytes == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
        assert entry.rows == len(data.splitlines()) > 0, f"{entry.name} is empty"
        assert entry.resource == entry.name.removesuffix(".jsonl")


async def test_every_row_the_user_owns_is_in_the_archive_as_its_wire_resource(client, token, world):
    _, archive = await archive_of(client, token, "alice")
    manifest = AccountManifest.model_validate_json(archive.read("manifest.json"))
    rows = {f.resource: f.rows for f in manifest.files}
    async with client.server.app[STATE].services.db.read() as conn:
        for resource in RESOURCES:
            if resource.name == "friendships":
                continue  # a request by email is hidden from its asker: below
            table = resource.table
            stmt = select(func.count()).select_from(table).where(resource.owned("alice"))
            assert rows[resource.name] == (await conn.execute(stmt)).scalar_one(), resource.name
    for name, model in LINE_MODELS.items():
        for line in archive.read(f"{name}.jsonl").splitlines():
            model.model_validate_json(line)
    schedules = [
        orjson.loads(line) for line in archive.read("schedule_overrides.jsonl").splitlines()
    ]
    assert [(o["series_id"], o["original_start"], o["start_time"]) for o in schedules] == [
        (world["series"]["id"], "2026-03-09T08:00:00.000Z", "2026-03-10T09:00:00.000Z")
    ]


async def test_nothing_of_anyone_else_and_no_hidden_request(client, token, world):
    _, archive = await archive_of(client, token, "alice")
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for ident in world["bob_ids"]:
        assert ident.encode() not in everything
    assert b"carol" not in everything  # her request by email shows to her, not to the asker
    friendships = [orjson.loads(line) for line in archive.read("friendships.jsonl").splitlines()]
    assert [(f["friend"]["id"], f["status"]) for f in friendships] == [("bob", "accepted")]
    profile = orjson.loads(archive.read("profile.jsonl"))
    assert (profile["id"], profile["email"]) == ("alice", "alice@example.com")
    events = [orjson.loads(line) for line in archive.read("events.jsonl").splitlines()]
    assert {e["topic"] for e in events} == {"user:alice"}
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert not any("audience" in e for e in events)
    assert b"token_hash" not in everything
    _, theirs = await archive_of(client, token, "carol")
    pending = [orjson.loads(line) for line in theirs.read("friendships.jsonl").splitlines()]
    assert [(f["friend"]["id"], f["status"]) for f in pending] == [("alice", "pending")]


async def test_the_archive_needs_a_token_and_takes_no_parameters(client, token):
    assert (await client.get("/v1/export/account")).status == 401
    response = await client.get("/v1/export/account?format=tar", headers=bearer(token()))
    assert response.status == 422


async def test_a_user_with_nothing_gets_empty_files(client, token):
    _, archive = await archive_of(client, token, "nobody")
    manifest = AccountManifest.model_validate_json(archive.read("manifest.json"))
    assert all(f.rows == 0 and f.bytes == 0 for f in manifest.files)
    assert archive.read("timers.jsonl") == b""


async def test_many_rows_stream_in_batches(client, token, world, monkeypatch):
    from server.domain.exports import account

    monkeypatch.setattr(account, "BATCH", 2)
    _, archive = await archive_of(client, token, "alice")
    manifest = AccountManifest.model_validate_json(archive.read("manifest.json"))
    monkeypatch.setattr(account, "BATCH", 1000)
    _, whole = await archive_of(client, token, "alice")
    again = AccountManifest.model_validate_json(whole.read("manifest.json"))
    rows = {f.name: f.rows for f in manifest.files}
    assert rows == {f.name: f.rows for f in again.files}
    assert rows["events.jsonl"] > 2
    # Batches of two read the same rows: only the timers' elapsed time may differ.
    for name in archive.namelist()[:-1]:
        if name != "timers.jsonl":
            assert archive.read(name) == whole.read(name), name


async def test_an_archive_cut_short_lets_the_read_under_way_end(client, world, monkeypatch):
    probe = SecondReadProbe(account._read_page)
    monkeypatch.setattr(account, "_read_page", probe.read)
    services = client.server.app[STATE].services

    async def consume() -> None:
        chunks = account.account_chunks(services, "alice", now_ms())
        async with contextlib.aclosing(chunks):  # as stream_body does
            async for _ in chunks:
                pass

    await probe.cut(consume)
    assert probe.outcomes == ["read", "read"]
