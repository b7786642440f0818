"""Participant tokens are shown once and stored only hashed, op_id replies included."""

from __future__ import annotations

from tests.dbstate import snapshot
from tests.meetings.helpers import guest, poll
from tests.wsclient import new_op


async def test_a_guest_join_with_an_op_id_leaves_no_token_in_the_database(client, device):
    ana = await device("ana")
    meeting = await poll(ana)
    watcher = await guest(client, meeting["share_token"])
    data = {"share_token": meeting["share_token"], "display_name": "Gus"}
    joined = await watcher.ok("meeting.join", data, op_id=new_op())
    token = joined["participant_token"]
    assert len(token) >= 43
    stored = repr(await snapshot(client))
    assert joined["participant"]["id"] in stored  # the snapshot does hold the join
    assert token not in stored
    returning = await guest(client, meeting["share_token"], token)  # the token still works
    assert returning.ready["guest"]["participant"]["id"] == joined["participant"]["id"]
