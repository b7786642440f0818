"""Request ids and the one error envelope on every REST error."""

from __future__ import annotations

import logging
import re
import secrets
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from schema.errors import HTTP_STATUS, ErrorCode
from server.errors import ApiError, database_busy
from server.httplog import ServerLog
from server.logs import REQUEST_ID as REQUEST_ID_VAR

log = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("request_id", str)
# The longest request line aiohttp reads (its default is 8190 bytes). The longest query
# the OpenAPI document allows, every parameter at its maximum in 4-byte characters, is
# 14 KiB (GET /v1/schedules); a test sends it for every operation.
MAX_REQUEST_LINE = 32 * 1024
_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_HTTP_CODES = {
    400: ErrorCode.BAD_FRAME,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.BAD_FRAME,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
}


# Headers of aiohttp's own HTTP errors that the envelope keeps (405 must say what is allowed).
_KEPT_HEADERS = ("Allow",)


def error_response(error: ApiError, request_id: str) -> web.Response:
    """Render an ApiError as the REST envelope with its HTTP status."""
    body = {"error": {**error.body(), "request_id": request_id}}
    response = web.json_response(body, status=HTTP_STATUS[error.code])
    if error.code is ErrorCode.UNAUTHORIZED:
        # RFC 9110 section 11.6.1: a 401 names the scheme that would be accepted.
        response.headers["WWW-Authenticate"] = 'Bearer realm="hipster-timer"'
    retry_after_ms = error.details.get("retry_after_ms")
    if isinstance(retry_after_ms, int):
        # RFC 9110 section 10.2.3: whole seconds, rounded up so nobody comes back early.
        response.headers["Retry-After"] = str(-(-retry_after_ms // 1000))
    return response


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read or make X-Request-ID, echo it, and map every failure to the envelope."""
    incoming = request.headers.get("X-Request-ID", "")
    request_id = incoming if _ID_PATTERN.match(incoming) else secrets.token_hex(8)
    request[REQUEST_ID] = request_id
    REQUEST_ID_VAR.set(request_id)  # log lines of this request (and its WebSocket) carry it
    try:
        response = await handler(request)
    except ApiError as error:
        response = error_response(error, request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, ErrorCode.INTERNAL_ERROR)
        response = error_response(ApiError(code, exc.reason), request_id)
        response.set_status(exc.status)
        for name in _KEPT_HEADERS:
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
    except PoolTimeoutError:  # every pooled connection stayed busy: load, not a fault
        response = error_response(database_busy(), request_id)
    except Exception:
        log.exception("request %s failed", request_id)
        response = error_response(
            ApiError(ErrorCode.INTERNAL_ERROR, f"internal error; quote request {request_id}"),
            request_id,
        )
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response


def http_layer_args() -> dict[str, Any]:
    """Return the arguments of aiohttp's request handler: line limit and logger."""
    return {
        "max_line_size": MAX_REQUEST_LINE,
        "logger": ServerLog(logging.getLogger("aiohttp.server")),
    }
