"""user.me and user.update."""

from __future__ import annotations


async def test_me_returns_the_private_profile(device):
    dev = await device("alice")
    me = await dev.ok("user.me")
    assert me["id"] == "alice"
    assert me["timezone"] == "UTC"
    assert "email" in me
    assert me == dev.ready["user"]


async def test_update_changes_fields_and_tells_every_device(device):
    phone = await device("alice")
    laptop = await device("alice")
    updated = await phone.ok("user.update", {"display_name": "Al", "timezone": "Asia/Seoul"})
    assert (updated["display_name"], updated["timezone"], updated["version"]) == (
        "Al",
        "Asia/Seoul",
        2,
    )
    event = (await laptop.wait_events(1))[0]
    assert event["name"] == "user.updated"
    assert event["data"] == updated


async def test_update_refuses_bad_input_and_changes_nothing(device):
    dev = await device("alice")
    for data in (
        {"timezone": "Mars/Olympus"},
        # Folders and host-dependent names of the zone database are no zones.
        {"timezone": "America"},
        {"timezone": "localtime"},
        {"timezone": "../etc/passwd"},
        {"display_name": None},
        {"display_name": ""},
        {"nick": "x"},
    ):
        assert (await dev.error("user.update", data))["code"] == "validation_error", data
    conflict = await dev.error("user.update", {"display_name": "B", "if_version": 5})
    assert conflict["code"] == "conflict"
    assert (await dev.ok("user.me"))["version"] == 1
    assert dev.events == []


async def test_empty_update_changes_nothing(device):
    dev = await device("alice")
    assert (await dev.ok("user.update", {}))["version"] == 1
