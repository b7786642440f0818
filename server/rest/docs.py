"""The REST API's own description: the OpenAPI document and a reference page rendering it."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

_INLINE = re.compile(rb"<(script|style)>(.*?)</\1>", re.DOTALL)


@dataclass(frozen=True)
class Documents:
    """The bytes the reference routes serve, read once when the app is built."""

    openapi: bytes
    page: bytes
    page_policy: str


DOCUMENTS = web.AppKey("rest_documents", Documents)


def load_documents() -> Documents:
    """Read the generated OpenAPI document and the reference page."""
    openapi = resources.files("schema").joinpath("generated", "openapi.json").read_bytes()
    page = resources.files("server.rest").joinpath("docs.html").read_bytes()
    return Documents(openapi=openapi, page=page, page_policy=page_policy(page))


def page_policy(page: bytes) -> str:
    """Return a Content-Security-Policy allowing the page's own inline code and nothing else."""
    hashes: dict[str, list[str]] = {"script": [], "style": []}
    for kind, body in _INLINE.findall(page):
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        hashes[kind.decode()].append(f"'sha256-{digest}'")
    return "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(hashes["script"] or ["'none'"]),
            "style-src " + " ".join(hashes["style"] or ["'none'"]),
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


async def handle_openapi(request: web.Request) -> web.Response:
    """Serve the OpenAPI 3.1 document of the REST routes."""
    return web.Response(
        body=request.app[DOCUMENTS].openapi,
        content_type="application/json",
        headers={"Cache-Control": "no-cache"},
    )


async def handle_docs(request: web.Request) -> web.Response:
    """Serve the reference page, which renders /v1/openapi.json in the browser."""
    documents = request.app[DOCUMENTS]
    return web.Response(
        body=documents.page,
        content_type="text/html",
        charset="utf-8",
        headers={"Content-Security-Policy": documents.page_policy, "Cache-Control": "no-cache"},
    )
