"""The upgrade gate: a herd's upgrades start a bounded slice per turn of the event loop."""

from __future__ import annotations

import asyncio

from server.protocol.upgrades import UpgradeGate
from server.state import STATE
from tests.wsclient import Device


async def start_many(gate: UpgradeGate, count: int, turns: list[int], turn: list[int]) -> None:
    """Start ``count`` waiters; each notes the turn it got through in."""

    async def one(i: int) -> None:
        await gate.wait()
        turns[i] = turn[0]

    await asyncio.gather(*(one(i) for i in range(count)))


async def count_turns(turn: list[int], stop: asyncio.Event) -> None:
    """Count turns of the loop (one call_soon chain) until ``stop``."""
    while not stop.is_set():
        turn[0] += 1
        await asyncio.sleep(0)


async def test_callers_pass_in_slices_of_per_turn_in_order_of_arrival():
    gate = UpgradeGate(per_turn=3)
    turns, turn, stop = [-1] * 8, [0], asyncio.Event()
    counter = asyncio.ensure_future(count_turns(turn, stop))
    await start_many(gate, 8, turns, turn)
    stop.set()
    await counter
    # Three in the first turn, then three a turn, first come first served.
    assert turns == sorted(turns)
    assert [turns.count(t) for t in sorted(set(turns))] == [3, 3, 2]
    assert len(set(turns)) == 3
    assert gate.waiting == 0


async def test_below_the_bound_a_caller_does_not_wait():
    gate = UpgradeGate(per_turn=2)
    tasks = [asyncio.ensure_future(gate.wait()) for _ in range(3)]
    await asyncio.sleep(0)  # one step each: enough only for those that did not wait
    assert [t.done() for t in tasks] == [True, True, False]
    assert gate.waiting == 1
    assert gate.held == 1
    await asyncio.wait_for(tasks[2], 1)


async def test_a_waiter_that_left_takes_no_place():
    gate = UpgradeGate(per_turn=2)
    turn, stop = [0], asyncio.Event()
    counter = asyncio.ensure_future(count_turns(turn, stop))
    passed: dict[int, int] = {}

    async def one(i: int) -> None:
        await gate.wait()
        passed[i] = turn[0]

    tasks = [asyncio.ensure_future(one(i)) for i in range(6)]
    await asyncio.sleep(0)  # 0 and 1 passed; 2 to 5 wait
    assert gate.waiting == 4
    tasks[2].cancel()
    tasks[4].cancel()
    await asyncio.wait([tasks[3], tasks[5]], timeout=1)
    stop.set()
    await counter
    # The two left in line go together in the next turn: the cancelled took no place.
    assert set(passed) == {0, 1, 3, 5}
    assert passed[3] == passed[5] > passed[0] == passed[1]
    assert gate.waiting == 0


async def test_a_herd_of_upgrades_goes_through_the_gate_and_all_get_ready(start_server, token):
    server = await start_server()
    gate = server.server.app[STATE].upgrades = UpgradeGate(per_turn=4)
    devices = await asyncio.gather(*(Device.connect(server, token(f"u{i}")) for i in range(40)))
    assert gate.held > 0  # some waited for a later turn
    assert gate.waiting == 0
    for device in devices:
        assert device.ready["type"] == "ready"
        await device.close()
