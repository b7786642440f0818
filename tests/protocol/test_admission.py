"""Admission: connections authenticating at once are bounded; the rest are told when to return."""

from __future__ import annotations

import aiohttp
import pytest

from server.protocol.admission import MIN_RATE, MIN_RETRY_S, Admission
from tests.wsclient import Device


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        """Return the current time."""
        return self.now


def test_admits_up_to_the_bound_and_again_once_one_leaves() -> None:
    admission = Admission(2, 60.0)
    assert admission.enter() is None
    assert admission.enter() is None
    assert admission.enter() is not None
    admission.leave(ready=True)
    assert admission.enter() is None
    assert (admission.pending, admission.turned_away) == (2, 1)


def test_refusals_book_later_and_later_slots_at_the_measured_rate() -> None:
    clock = Clock()
    admission = Admission(1, 600.0, clock=clock, rand=lambda: 0.5)  # no jitter
    admission.enter()
    waits = [admission.enter() for _ in range(3)]
    step = 1 / MIN_RATE
    assert waits == pytest.approx(
        [MIN_RETRY_S + step, MIN_RETRY_S + 2 * step, MIN_RETRY_S + 3 * step]
    )

    for _ in range(400):  # 400 readies within one second, then the next second begins
        admission.leave(ready=True)
        admission.enter()
    clock.now += 1.0
    admission.leave(ready=True)
    admission.enter()
    clock.now += 10.0  # the booked slots are past; a quiet second forgets nothing
    admission.leave(ready=True)
    admission.enter()
    assert admission.enter() == pytest.approx(MIN_RETRY_S + 1 / 400)


def test_jitter_spreads_a_wait_between_half_and_one_and_a_half_times_it() -> None:
    low = Admission(1, 600.0, clock=Clock(), rand=lambda: 0.0)
    high = Admission(1, 600.0, clock=Clock(), rand=lambda: 0.999)
    for admission in (low, high):
        admission.enter()
        for _ in range(99):
            admission.enter()
    wait = MIN_RETRY_S + 100 / MIN_RATE
    assert low.enter() == pytest.approx(wait * 0.5)
    assert high.enter() == pytest.approx(wait * 1.499)


def test_waits_are_capped() -> None:
    admission = Admission(1, 5.0, clock=Clock(), rand=lambda: 0.999)
    admission.enter()
    assert max(admission.enter() or 0 for _ in range(10_000)) == 5.0


async def test_a_busy_instance_turns_connections_away_with_1013_and_a_retry_after(
    start_server, token
):
    server = await start_server(ws_admit_max_pending=1)
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
