"""Streamed answers: chunked bodies written with backpressure, and what a failure midway does."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Mapping

from aiohttp import web

from server.rest.middleware import REQUEST_ID

log = logging.getLogger(__name__)

# A client that takes no byte for this long is dropped: it would otherwise keep
# its export's slot (see ExportSlots) and the chunk in hand for as long as it likes.
STALL_S = 60.0


async def stream_body(
    request: web.Request,
    headers: Mapping[str, str],
    chunks: AsyncGenerator[bytes, None],
) -> web.StreamResponse:
    """Send ``chunks`` as a chunked body; each write waits while the client is behind.

    ``await response.write`` returns only once the transport's buffer is under
    its high-water mark, so a client that stops reading holds one chunk plus
    that buffer, and the generator waits; one that takes nothing for
    ``STALL_S`` is dropped. Once headers are out an error can no longer become
    an error envelope: the connection is cut before the final chunk, which
    every HTTP client reports as a truncated body.
    """
    response = web.StreamResponse(headers=headers)
    response.enable_chunked_encoding()
    async with contextlib.aclosing(chunks):
        await response.prepare(request)
        if request.method == "HEAD":  # the headers say it all; the export is not run
            await response.write_eof()
            return response
        try:
            async for chunk in chunks:
                await _write(response, chunk)
        except ConnectionError:
            return response  # the client went away: nothing left to tell it
        except _StalledError:
            log.info("request %s: client stalled for %s s; dropped", request[REQUEST_ID], STALL_S)
            _drop(request)
            return response
        except Exception:
            log.exception("request %s failed after its headers were sent", request[REQUEST_ID])
            _drop(request)
            return response
    await response.write_eof()
    return response


class _StalledError(Exception):
    """The client took no byte for STALL_S."""


async def _write(response: web.StreamResponse, chunk: bytes) -> None:
    try:
        async with asyncio.timeout(STALL_S):
            await response.write(chunk)
    except TimeoutError:
        raise _StalledError from None


def _drop(request: web.Request) -> None:
    """Cut the connection before the body's final chunk (buffered bytes go too)."""
    if request.transport is not None:
        request.transport.abort()


async def prepend(first: bytes, rest: AsyncGenerator[bytes, None]) -> AsyncGenerator[bytes, None]:
    """Yield ``first``, then ``rest`` (read ahead so its errors came before the headers)."""
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()
