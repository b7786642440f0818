"""Admission: connections authenticating at once are bounded; the rest are told when to return."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.protocol.admission import MIN_RATE, MIN_RETRY_S, Admission
from server.state import STATE
from tests.conftest import ServedLikeProduction
from tests.rawclient import RawClient
from tests.serverstate import until
from tests.wsclient import Device


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


async def test_admits_up_to_the_bound_and_again_once_one_leaves() -> None:
    admission = Admission(2, 60.0)
    assert await admission.wait_turn() is None
    assert await admission.wait_turn() is None
    assert await admission.wait_turn() is not None
    admission.leave(ready=True)
    assert await admission.wait_turn() is None
    assert (admission.pending, admission.turned_away) == (2, 1)


async def test_refusals_book_later_and_later_slots_at_the_measured_rate() -> None:
    clock = Clock()
    admission = Admission(1, 600.0, clock=clock, rand=lambda: 0.5)  # no jitter
    await admission.wait_turn()
    waits = [await admission.wait_turn() for _ in range(3)]
    step = 1 / MIN_RATE
    assert waits == pytest.approx(
        [MIN_RETRY_S + step, MIN_RETRY_S + 2 * step, MIN_RETRY_S + 3 * step]
    )

    for _ in range(400):  # 400 readies within one second, then the next second begins
        admission.leave(ready=True)
        await admission.wait_turn()
    clock.now += 1.0
    admission.leave(ready=True)
    await admission.wait_turn()
    clock.now += 10.0  # the booked slots are past; a quiet second forgets nothing
    admission.leave(ready=True)
    await admission.wait_turn()
    assert await admission.wait_turn() == pytest.approx(MIN_RETRY_S + 1 / 400)


async def test_jitter_spreads_a_wait_between_half_and_one_and_a_half_times_it() -> None:
    low = Admission(1, 600.0, clock=Clock(), rand=lambda: 0.0)
    high = Admission(1, 600.0, clock=Clock(), rand=lambda: 0.999)
    for admission in (low, high):
        await admission.wait_turn()
        for _ in range(99):
            await admission.wait_turn()
    wait = MIN_RETRY_S + 100 / MIN_RATE
    assert await low.wait_turn() == pytest.approx(wait * 0.5)
    assert await high.wait_turn() == pytest.approx(wait * 1.499)


async def test_waits_are_capped() -> None:
    admission = Admission(1, 5.0, clock=Clock(), rand=lambda: 0.999)
    await admission.wait_turn()
    assert max([await admission.wait_turn() or 0 for _ in range(10_000)]) == 5.0


async def test_a_busy_instance_turns_connections_away_with_1013_and_a_retry_after(
    start_server, token
):
    server = await start_server(ws_admit_max_pending=1, ws_admit_wait_s=0)
    waiting = await Device.open(server)  # greeted, not yet authenticated: it holds the one slot

    ws = await server.ws_connect("/v1/ws")
    error = (await ws.receive_json())["error"]
    assert error["code"] == "unavailable"
    assert MIN_RETRY_S * 1000 * 0.5 <= error["details"]["retry_after_ms"] <= 60_000
    assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 1013
    assert f"retry after {error['details']['retry_after_ms']} ms" in error["message"]

    await waiting.ws.send_json({"type": "auth", "token": token("alice")})
    assert (await waiting.receive())["type"] == "ready"
    later = await Device.connect(server, token("alice"))
    assert later.ready["user"]["id"] == "alice"
    for dev in (waiting, later):
        await dev.close()


async def test_a_refused_sign_in_frees_its_slot(start_server, token):
    server = await start_server(ws_admit_max_pending=1)
    refused = await Device.open(server)
    await refused.ws.send_json({"type": "auth", "token": "not-a-token"})
    assert (await refused.receive())["error"]["code"] == "unauthorized"
    assert await refused.wait_close() == 4401

    dev = await Device.connect(server, token("bob"))
    assert dev.ready["user"]["id"] == "bob"
    await dev.close()


async def test_a_connection_waits_for_the_slot_a_leaving_one_frees() -> None:
    admission = Admission(1, 60.0, wait_s=1.0)
    assert await admission.wait_turn() is None
    waiting = asyncio.create_task(admission.wait_turn())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    admission.leave(ready=True)
    assert await waiting is None
    assert (admission.pending, admission.turned_away) == (1, 0)


async def test_a_wait_that_runs_out_is_turned_away() -> None:
    admission = Admission(1, 60.0, wait_s=0.05)
    await admission.wait_turn()
    wait = await admission.wait_turn()
    assert wait is not None
    assert wait >= MIN_RETRY_S * 0.5
    assert (admission.pending, admission.turned_away) == (1, 1)
    admission.leave(ready=False)  # nobody waits any more: the slot is free again
    assert admission.pending == 0


async def test_only_as_many_wait_as_the_best_rate_serves_within_the_wait() -> None:
    admission = Admission(1, 60.0, wait_s=0.1)  # 50/s for 0.1 s: five may wait
    await admission.wait_turn()
    waiting = [asyncio.create_task(admission.wait_turn()) for _ in range(5)]
    await asyncio.sleep(0)
    assert await admission.wait_turn() is not None  # the sixth is told at once
    for _ in waiting:
        admission.leave(ready=True)
    assert await asyncio.gather(*waiting) == [None] * 5
    assert (admission.pending, admission.turned_away) == (1, 1)


async def test_a_waiting_connection_that_goes_passes_a_handed_slot_on() -> None:
    admission = Admission(1, 60.0, wait_s=1.0)
    await admission.wait_turn()
    gone = asyncio.create_task(admission.wait_turn())
    after = asyncio.create_task(admission.wait_turn())
    await asyncio.sleep(0)
    admission.leave(ready=True)  # handed to ``gone``, which is cancelled before it runs
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert await after is None
    assert admission.pending == 1


async def test_a_busy_instance_lets_a_new_connection_wait_for_the_slot(start_server, token):
    server = await start_server(ws_admit_max_pending=1, ws_admit_wait_s=5.0)
    first = await Device.open(server)  # holds the one slot until it authenticates
    second = asyncio.create_task(Device.connect(server, token("bob")))
    await asyncio.sleep(0.2)
    assert not second.done()  # upgraded, waiting for its turn before hello
    await first.ws.send_json({"type": "auth", "token": token("alice")})
    assert (await first.receive())["type"] == "ready"
    later = await second
    assert later.ready["user"]["id"] == "bob"
    assert server.server.app[STATE].admission.turned_away == 0
    for dev in (first, later):
        await dev.close()


async def test_a_connection_waiting_for_its_turn_has_its_upgrade_answered_at_once(
    start_server, token
):
    # The 101 normally goes out with hello, in one write; one that waits gets it first.
    server = await start_server(ws_admit_max_pending=1, ws_admit_wait_s=5.0)
    first = await Device.open(server)  # holds the one slot until it authenticates
    waiting = await RawClient.open(server.server.port, greeted=False)  # its 101 came
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await waiting.read_frame()  # and nothing more before its turn
    await first.ws.send_json({"type": "auth", "token": token("alice")})
    assert (await first.receive())["type"] == "ready"
    assert (await waiting.read_json())["type"] == "hello"
    assert (await waiting.authenticate(token("bob")))["type"] == "ready"
    waiting.close()
    await first.close()


async def test_a_turn_given_up_as_a_slot_frees_leaves_the_count_right() -> None:
    admission = Admission(1, 60.0, wait_s=1.0)
    await admission.wait_turn()
    gone = asyncio.create_task(admission.wait_turn())
    await asyncio.sleep(0)
    gone.cancel()  # its turn is cancelled at once (as a time-out does) ...
    admission.leave(ready=True)  # ... and dropped from the queue before the waiter runs
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert admission.pending == 0
    assert await admission.wait_turn() is None


async def test_a_connection_lost_while_waiting_leaves_the_line_at_once() -> None:
    admission = Admission(1, 60.0, wait_s=30.0)
    await admission.wait_turn()
    gone = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(admission.wait_turn(gone))
    await asyncio.sleep(0)
    gone.set_result(None)  # the socket closed
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(waiting, 1.0)
    assert (admission.waiting, admission.turned_away, admission.pending) == (0, 0, 1)
    admission.leave(ready=True)
    assert await admission.wait_turn() is None  # the slot went to nobody in between


async def test_a_client_that_leaves_while_waiting_frees_its_place(make_settings, token):
    # As in production, aiohttp does not cancel the handler of a client that left.
    settings = make_settings(ws_admit_max_pending=1, ws_admit_wait_s=30.0)
    server = TestClient(ServedLikeProduction(create_app(settings)))
    await server.start_server()
    try:
        await leave_while_waiting(server, token)
    finally:
        await server.close()


async def leave_while_waiting(server: TestClient[Any, Any], token: Any) -> None:
    """Hold the one slot; upgrade a second socket and drop it while it waits."""
    first = await Device.open(server)  # holds the one slot
    admission = server.server.app[STATE].admission
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"GET /v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    await until(lambda: admission.waiting == 1)  # upgraded, waiting for its turn
    writer.transport.abort()
    await until(lambda: not admission.waiting)  # gone from the line, not in 30 s
    await first.ws.send_json({"type": "auth", "token": token("alice")})
    assert (await first.receive())["type"] == "ready"
    assert admission.turned_away == 0
    await first.close()
