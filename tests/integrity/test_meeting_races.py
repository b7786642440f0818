"""Poll rules under concurrent writers: one participant per account, a grid that shrinks
under painters, a link replaced while people join, a poll deleted while they paint."""

from __future__ import annotations

from collections import Counter
from typing import Any

from server.storage.tables import meeting_participants
from tests.conftest import PG_URL
from tests.integrity.invariants import all_violations, codes, race, read_rows
from tests.meetings.helpers import poll

ROUNDS = 30 if PG_URL else 6
MONDAY = [f"2026-03-02T{h}:{m}:00Z" for h in ("08", "09", "10") for m in ("00", "30")]


async def test_one_user_joining_from_two_devices_is_one_participant(instances, devices):
    servers = await instances()
    (ana,) = await devices(servers, "ana")
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        meeting = await poll(ana)
        first, second = await devices(servers, f"ben{n}", f"ben{n}")
        link = {"share_token": meeting["share_token"], "display_name": "Ben"}
        replies = await race(first, second, ("meeting.join", link), ("meeting.join", link))
        outcomes[" ".join(codes(replies))] += 1
        assert replies[0]["data"]["participant"] == replies[1]["data"]["participant"]
        assert sorted(r["data"]["rejoined"] for r in replies) == [False, True]
    assert outcomes == {"ok ok": ROUNDS}
    assert len(await read_rows(servers[0], meeting_participants)) == ROUNDS
    assert await all_violations(servers[0], "ana") == []


async def test_a_grid_shrinking_under_a_painter_keeps_no_cell_outside(instances, devices):
    servers = await instances()
    (ana,) = await devices(servers, "ana")
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        meeting = await poll(ana)
        # A painter per round: refused cells count towards a socket's bad-frame limit.
        _, ben = await devices(servers, "ana", f"ben{n}")
        link = {"share_token": meeting["share_token"], "display_name": "Ben"}
        pid = (await ben.ok("meeting.join", link))["participant"]["id"]
        replies = await race(
            ana,
            ben,
            ("meeting.update", {"id": meeting["id"], "end_time": "10:00"}),
            ("meeting.availability.set", {"participant_id": pid, "cells": MONDAY}),
        )
        outcomes[" ".join(codes(replies))] += 1
        if all(r["ok"] for r in replies):
            # Painted first: the update dropped the four cells past 10:00 Berlin.
            assert replies[0]["data"]["dropped_cells"] in (0, 4), replies
    assert set(outcomes) <= {"ok ok", "ok validation_error"}, outcomes
    assert await all_violations(servers[0], "ana") == []


async def test_a_link_replaced_while_someone_joins(instances, devices):
    servers = await instances()
    ana, ben = await devices(servers, "ana", "ben")
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        meeting = await poll(ana)
        link = {"share_token": meeting["share_token"], "display_name": "Ben"}
        replies = await race(
            ana, ben, ("meeting.share.rotate", {"id": meeting["id"]}), ("meeting.join", link)
        )
        outcomes[" ".join(codes(replies))] += 1
    assert set(outcomes) <= {"ok ok", "ok not_found"}, outcomes


async def test_a_poll_deleted_while_people_paint(instances, devices):
    servers = await instances()
    ana, ben = await devices(servers, "ana", "ben")
    outcomes: Counter[str] = Counter()
    for _ in range(ROUNDS):
        meeting = await poll(ana)
        link = {"share_token": meeting["share_token"], "display_name": "Ben"}
        pid = (await ben.ok("meeting.join", link))["participant"]["id"]
        paint: dict[str, Any] = {"participant_id": pid, "cells": MONDAY[:2]}
        replies = await race(
            ana,
            ben,
            ("meeting.delete", {"id": meeting["id"]}),
            ("meeting.availability.set", paint),
        )
        outcomes[" ".join(codes(replies))] += 1
    assert set(outcomes) <= {"ok ok", "ok not_found"}, outcomes
    assert await read_rows(servers[0], meeting_participants) == []
