"""Request ids and the one error envelope on every REST error."""

from __future__ import annotations

import logging
import re
import secrets

from aiohttp import web
from aiohttp.typedefs import Handler

from schema.errors import HTTP_STATUS, ErrorCode
from server.errors import ApiError
from server.logs import REQUEST_ID as REQUEST_ID_VAR

log = logging.getLogger(__name__)

REQUEST_ID = web.RequestKey("request_id", str)
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


def error_response(error: ApiError, request_id: str) -> web.Response:
    """Render an ApiError as the REST envelope with its HTTP status."""
    body = {"error": {**error.body(), "request_id": request_id}}
    return web.json_response(body, status=HTTP_STATUS[error.code])


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
    except Exception:
        log.exception("request %s failed", request_id)
        response = error_response(
            ApiError(ErrorCode.INTERNAL_ERROR, f"internal error; quote request {request_id}"),
            request_id,
        )
    if not response.prepared:
        response.headers["X-Request-ID"] = request_id
    return response
