"""The poll page's routes over HTTP: one page for every link, its files, its headers."""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from schema.errors import ErrorEnvelope
from server.pages.handlers import PAGE_POLICY, STATIC_FILES
from server.rest.routes import ROUTES
from tests.meetings.helpers import poll

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "server" / "pages"


async def test_every_link_gets_the_same_page_under_a_strict_policy(client, device):
    ana = await device("ana")
    meeting = await poll(ana)
    rotated = await ana.ok("meeting.share.rotate", {"id": meeting["id"]})
    bodies = set()
    for link in (rotated["share_token"], meeting["share_token"], "no-such-link", "x" * 200):
        response = await client.get(f"/m/{link}")
        assert response.status == 200
        assert response.content_type == "text/html"
        assert response.headers["Content-Security-Policy"] == PAGE_POLICY
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        bodies.add(await response.read())
    assert bodies == {(PAGES / "poll.html").read_bytes()}
    assert "default-src 'none'" in PAGE_POLICY
    assert "script-src 'self'" in PAGE_POLICY
    assert "require-trusted-types-for 'script'" in PAGE_POLICY
    head = await client.head(f"/m/{meeting['share_token']}")
    assert head.status == 200


@pytest.mark.parametrize("path", ["/m/a.b", "/m/" + "x" * 201, "/m/%C3%A9t%C3%A9", "/m/a%20b"])
async def test_a_path_that_cannot_be_a_link_is_not_found(client, path):
    response = await client.get(path)
    assert response.status == 404
    assert ErrorEnvelope.model_validate(await response.json()).error.code == "not_found"


@pytest.mark.parametrize("name", sorted(STATIC_FILES))
async def test_the_page_files_are_served_as_documented(client, name):
    (route,) = [r for r in ROUTES if r.path == f"/m/static/{name}"]
    response = await client.get(route.path)
    assert response.status == 200
    assert response.content_type == route.media_type == STATIC_FILES[name]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.read() == (PAGES / name).read_bytes()


def test_the_page_loads_nothing_from_elsewhere():
    html = (PAGES / "poll.html").read_text()
    assert re.findall(r'(?:src|href)="([^"]*)"', html) == [
        "data:,",
        "/m/static/poll.css",
        "/m/static/poll.mjs",
    ]
    for name in STATIC_FILES:
        text = (PAGES / name).read_text()
        assert not re.search(r"https?://|//cdn|@import|url\(", text), name
        assert set(re.findall(r'from "([^"]+)"', text)) <= {"./client.mjs", "./grid.mjs"}, name
        # No string ever becomes markup (the policy requires Trusted Types anyway).
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", text)


def test_every_page_file_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["server"]
    files = [p.relative_to(ROOT / "server").as_posix() for p in PAGES.iterdir()]
    shipped = [f for f in files if not f.endswith((".py", ".pyc")) and f != "pages/__pycache__"]
    assert {f for f in shipped if not any(fnmatch(f, g) for g in globs)} == set()
    assert {"pages/poll.html", "pages/client.mjs"} <= set(shipped)
