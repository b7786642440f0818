"""The envelope, handled once: parse, check, validate, call, and map errors to frames."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from schema.base import MAX_SAFE_INT, Command
from schema.errors import ErrorCode
from server.domain.registry import Registered
from server.errors import ApiError, database_busy, validation_details
from server.logs import COMMAND
from server.protocol.connection import ClientLostError, Connection
from server.protocol.observe import observed
from server.storage.ops import OpAlreadyAppliedError, get_op_reply

log = logging.getLogger(__name__)

# Codes that count as client abuse towards the bad-frame limit.
BAD_CODES = frozenset({ErrorCode.BAD_FRAME, ErrorCode.VALIDATION_ERROR, ErrorCode.UNKNOWN_COMMAND})


def result_frame(cid: Any, data: Any, replayed: bool = False) -> bytes:
    """Serialize a successful result."""
    frame: dict[str, Any] = {"id": cid, "type": "result", "ok": True, "data": data}
    if replayed:
        frame["replayed"] = True
    return orjson.dumps(frame)


def error_frame(cid: Any, error: ApiError) -> bytes:
    """Serialize a failed result, or an error frame when there is no usable id."""
    if cid is None:
        return orjson.dumps({"type": "error", "error": error.body()})
    return orjson.dumps({"id": cid, "type": "result", "ok": False, "error": error.body()})


def read_id(frame: dict[str, Any]) -> Any:
    """Return the frame's id when it is a valid command id, else None."""
    cid = frame.get("id")
    if isinstance(cid, bool):
        return None
    if isinstance(cid, int) and -MAX_SAFE_INT <= cid <= MAX_SAFE_INT:
        return cid
    if isinstance(cid, str) and 0 < len(cid) <= 64:
        return cid
    return None


def parse_frame(text: str) -> dict[str, Any]:
    """Parse a text frame into a JSON object, or raise bad_frame."""
    try:
        frame = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(ErrorCode.BAD_FRAME, f"frame is not JSON: {exc.msg}") from None
    if not isinstance(frame, dict):
        raise ApiError(ErrorCode.BAD_FRAME, "frame must be a JSON object")
    return frame


def lookup(conn: Connection, frame: dict[str, Any]) -> Registered:
    """Find the frame's command, or raise the matching error."""
    if read_id(frame) is None:
        raise ApiError(
            ErrorCode.BAD_FRAME,
            "every command needs an id: an integer of at most 2**53-1 in size"
            " or a string of 1-64 chars",
        )
    name = frame.get("type")
    if not isinstance(name, str):
        raise ApiError(ErrorCode.BAD_FRAME, "type must be a string")
    if name == "auth":
        raise ApiError(ErrorCode.BAD_FRAME, "already authenticated; use auth.refresh")
    registered = conn.state.registry.get(name)
    if registered is None:
        raise ApiError(ErrorCode.UNKNOWN_COMMAND, f"unknown command {name!r}", {"type": name})
    if conn.guest is not None and not registered.model.guest:
        raise ApiError(
            ErrorCode.FORBIDDEN,
            f"a meeting guest may not use {name}; only its poll's commands",
            {"type": name},
        )
    return registered


def validate(registered: Registered, frame: dict[str, Any]) -> Command:
    """Validate the frame against the command's model."""
    try:
        # Strict: JSON's own types are the contract ("10" is not an integer, 1 not a boolean).
        return registered.model.model_validate(frame, strict=True)
    except ValidationError as exc:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "the command does not match its schema",
            validation_details(exc),
        ) from None


async def stored_reply(conn: Connection, cmd: Command) -> Any | None:
    """Return the first reply of a repeated op_id, or None for a new op."""
    if not (cmd.mutating and cmd.op_id):
        return None
    async with conn.services.db.read() as db:
        stored = await get_op_reply(db, conn.user_id, cmd.op_id)
    if stored is None:
        return None
    command, reply = stored
    if command != cmd.command_name():
        raise ApiError(
            ErrorCode.CONFLICT,
            f"op_id was already used for {command}",
            {"op_id": cmd.op_id, "command": command},
        )
    return reply


async def run_command(conn: Connection, registered: Registered, cmd: Command) -> bytes:
    """Call the handler, answering a repeated op_id with its first reply.

    The op store is read only when the command did not apply: a repeat rolls back
    when its reply cannot be stored (``OpAlreadyAppliedError``), or fails the
    checks its first application changed (a second pause of one timer); either
    way the first reply is the answer. A new op costs no read.
    """
    try:
        data = await registered.handler(conn, cmd)
    except (OpAlreadyAppliedError, ApiError):
        replay = await stored_reply(conn, cmd)
        if replay is None:
            raise
        return result_frame(cmd.id, replay, replayed=True)
    return result_frame(cmd.id, data)


@observed
async def dispatch(conn: Connection, text: str) -> tuple[bytes, ErrorCode | None]:
    """Answer one text frame; return the reply and the error code, if any."""
    cid = None
    try:
        frame = parse_frame(text)
        cid = read_id(frame)
        if not conn.bucket.take():
            raise ApiError(ErrorCode.RATE_LIMITED, "too many commands; slow down")
        registered = lookup(conn, frame)
        COMMAND.set(frame["type"])
        cmd = validate(registered, frame)
        return await run_command(conn, registered, cmd), None
    except ApiError as error:
        return error_frame(cid, error), error.code
    except ClientLostError:
        raise  # the client left or fell behind (the session ends): no reply, no fault
    except PoolTimeoutError:  # every pooled connection stayed busy: load, not a fault
        busy = database_busy()
        return error_frame(cid, busy), busy.code
    except Exception:
        log.exception("command %r failed on connection %s", cid, conn.id)
        fault = ApiError(
            ErrorCode.INTERNAL_ERROR,
            f"internal error; quote connection {conn.id}",
            {"connection": conn.id},
        )
        return error_frame(cid, fault), fault.code
