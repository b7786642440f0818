"""Serve the meeting poll page (the same bytes for every link) and its files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web
from aiohttp.typedefs import Handler

from schema.errors import ErrorCode
from server.errors import ApiError

# What a poll's link may look like (what the guest auth's `meeting` accepts, URL-safe).
SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,200}")
# The page runs its own files only and talks to its own origin only; no inline code,
# no string-to-DOM sinks (Trusted Types), no framing, no forms posting anywhere.
PAGE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ]
)
# The link is a secret: it must not leave in a Referer header.
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
STATIC_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"}


# The files of the page besides its HTML, by name, with their media types.
STATIC_FILES = {
    "poll.css": "text/css",
    "poll.mjs": "text/javascript",
    "grid.mjs": "text/javascript",
    "client.mjs": "text/javascript",
}


@dataclass(frozen=True)
class PageFiles:
    """The bytes of the poll page and of its files, read once when the app is built."""

    page: bytes
    static: dict[str, bytes]


PAGE_FILES = web.AppKey("page_files", PageFiles)


def load_page_files() -> PageFiles:
    """Read the poll page's files from the package."""
    folder = resources.files("server.pages")
    static = {name: folder.joinpath(name).read_bytes() for name in STATIC_FILES}
    return PageFiles(page=folder.joinpath("poll.html").read_bytes(), static=static)


async def handle_poll_page(request: web.Request) -> web.Response:
    """Serve the poll page; whether the link opens a poll is for the page to learn."""
    # No database read: an unknown, replaced or closed link gets the same page, which
    # shows "this poll does not exist" from the guest auth's not_found. The status thus
    # says nothing about the link, and a returning guest on a replaced link still gets in.
    if not SHARE_TOKEN.fullmatch(request.match_info["share_token"]):
        raise ApiError(ErrorCode.NOT_FOUND, "no poll can have this link")
    return _file(request.app[PAGE_FILES].page, "text/html", PAGE_HEADERS)


def static_handler(name: str) -> Handler:
    """Return the handler that serves the page's file ``name``."""
    content_type = STATIC_FILES[name]

    async def handle_static(request: web.Request) -> web.StreamResponse:
        return _file(request.app[PAGE_FILES].static[name], content_type, STATIC_HEADERS)

    return handle_static


def _file(body: bytes, content_type: str, headers: dict[str, str]) -> web.Response:
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)
