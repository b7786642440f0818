"""Malformed frames of every kind get an error and leave the connection usable."""

from __future__ import annotations

import pytest

BAD_FRAMES = [
    ("not json", None, "bad_frame"),
    ("[1, 2]", None, "bad_frame"),
    ('"text"', None, "bad_frame"),
    ('{"type": "ping"}', None, "bad_frame"),
    ('{"id": true, "type": "ping"}', None, "bad_frame"),
    ('{"id": 1.5, "type": "ping"}', None, "bad_frame"),
    ('{"id": "' + "x" * 65 + '", "type": "ping"}', None, "bad_frame"),
    ('{"id": 7}', 7, "bad_frame"),
    ('{"id": 8, "type": 12}', 8, "bad_frame"),
    ('{"id": 9, "type": "no.such"}', 9, "unknown_command"),
    ('{"id": 10, "type": "auth", "token": "x"}', 10, "bad_frame"),
    ('{"id": 11, "type": "timer.start", "data": {}}', 11, "validation_error"),
    ('{"id": 12, "type": "timer.start", "data": {"allocated_ms": "soon"}}', 12, "validation_error"),
    ('{"id": 13, "type": "timer.start", "data": {"allocated_ms": 0}}', 13, "validation_error"),
    (
        '{"id": 14, "type": "timer.start", "data": {"allocated_ms": 1, "x": 1}}',
        14,
        "validation_error",
    ),
    ('{"id": 15, "type": "ping", "extra": 1}', 15, "validation_error"),
    ('{"id": 16, "type": "timer.pause", "data": {"id": "nope"}}', 16, "validation_error"),
    (
        '{"id": 17, "type": "timer.start", "op_id": "x", "data": {"allocated_ms": 5}}',
        17,
        "validation_error",
    ),
    ('{"id": "s1", "type": "timer.get", "data": []}', "s1", "validation_error"),
]


@pytest.mark.parametrize(("text", "cid", "code"), BAD_FRAMES)
async def test_malformed_frame_gets_error_and_connection_stays_usable(device, text, cid, code):
    dev = await device()
    await dev.ws.send_str(text)
    frame = await dev.receive()
    assert frame["error"]["code"] == code, frame
    if cid is None:
        assert frame["type"] == "error"
        assert "id" not in frame
    else:
        assert frame == {"id": cid, "type": "result", "ok": False, "error": frame["error"]}
    assert frame["error"]["message"]
    assert (await dev.ok("ping"))["server_time"].endswith("Z")


async def test_bad_frame_changes_nothing(device):
    dev = await device()
    await dev.ws.send_str('{"id": 1, "type": "timer.start", "data": {"allocated_ms": -5}}')
    await dev.receive()
    assert (await dev.ok("timer.list"))["items"] == []
    assert dev.events == []


async def test_validation_error_names_the_field(device):
    dev = await device()
    error = await dev.error("timer.start", {"allocated_ms": 1000, "title": "x" * 201})
    assert error["code"] == "validation_error"
    assert error["details"]["errors"][0]["loc"] == ["data", "title"]


async def test_binary_frame_is_bad_frame(device):
    dev = await device()
    await dev.ws.send_bytes(b'{"id": 1, "type": "ping"}')
    frame = await dev.receive()
    assert frame["type"] == "error"
    assert frame["error"]["code"] == "bad_frame"
    assert (await dev.ok("ping"))["server_time"]


async def test_string_ids_are_echoed(device):
    dev = await device()
    await dev.ws.send_json({"id": "abc", "type": "ping"})
    frame = await dev.receive()
    assert frame["id"] == "abc"
    assert frame["ok"] is True


async def test_data_may_be_omitted_when_empty(device):
    dev = await device()
    await dev.ws.send_json({"id": 1, "type": "timer.active"})
    frame = await dev.receive()
    assert frame["ok"] is True
    assert frame["data"]["items"] == []


async def test_too_many_bad_frames_close_1008(start_server, token):
    from tests.wsclient import Device

    server = await start_server(ws_bad_frames_per_min=3)
    dev = await Device.connect(server, token())
    for _ in range(4):
        await dev.ws.send_str("garbage")
    codes = []
    for _ in range(4):
        codes.append((await dev.receive())["error"]["code"])
    assert codes == ["bad_frame"] * 4
    assert await dev.wait_close() == 1008


async def test_oversized_frame_closes_1009(start_server, token):
    from tests.wsclient import Device

    server = await start_server(ws_max_message_bytes=2048)
    dev = await Device.connect(server, token())
    await dev.ws.send_str('{"id": 1, "type": "ping", "pad": "' + "x" * 4096 + '"}')
    assert await dev.wait_close() == 1009


async def test_command_rate_limit_then_4429(start_server, token):
    from tests.wsclient import Device

    server = await start_server(ws_rate_per_s=0.001, ws_rate_burst=2, ws_rate_close_after=3)
    dev = await Device.connect(server, token())
    for _ in range(6):
        await dev.send("ping")
    results = []
    for _ in range(6):
        frame = await dev.receive()
        results.append(frame["ok"] or frame["error"]["code"])
    assert results == [True, True, "rate_limited", "rate_limited", "rate_limited", "rate_limited"]
    assert await dev.wait_close() == 4429
