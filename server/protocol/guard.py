"""The socket under a WebSocket: client frame headers checked, every close ended in bounded time.

aiohttp's frame reader (compiled, with a pure-Python twin) accepts unmasked
client frames, and its close either shuts the socket at once, which resets a
client that is still sending and can lose the close frame, or waits forever
for a send buffer that a client who stopped reading never empties. So the
server's own protocol object sits between the transport and aiohttp's: it
walks each frame header before aiohttp sees the bytes, and owns the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

CLOSE_PROTOCOL_ERROR = 1002
CLOSE_TOO_LARGE = 1009
# After the close frame, how long the client has to answer it (its own close frame,
# or hanging up) before the socket is reset: a client that neither reads nor
# answers must not hold a descriptor and its buffers.
CLOSE_HANDSHAKE_S = 2.0

_OPCODES = frozenset({0x0, 0x1, 0x2, 0x8, 0x9, 0xA})
_OP_CONTINUATION, _OP_CLOSE, _FIRST_CONTROL = 0x0, 0x8, 0x8
_EXTENDED = {126: 2, 127: 8}  # payload length fields beyond the 7-bit one
# SO_LINGER on, 0 s: close() resets and frees the socket instead of leaving the
# kernel to keep sending to a peer whose window is shut.
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Violation:
    """A frame header the server refuses: where it starts, and the close code."""

    offset: int
    code: int
    reason: str


class FrameScanner:
    """Walk the client's frame headers as bytes arrive, skipping payloads unread."""

    def __init__(self, max_message: int) -> None:
        self.max_message = max_message
        self.saw_close = False  # a whole close frame arrived
        self._carry = b""  # the start of a header split across reads
        self._payload_left = 0
        self._in_close = False
        self._message = 0  # payload bytes so far of the current data message

    def scan(self, data: bytes) -> Violation | None:
        """Walk ``data``; return the first refused header in it, if any."""
        carried = len(self._carry)
        buf = self._carry + data if carried else data
        self._carry = b""
        pos, end, found = 0, len(buf), None
        while pos < end:
            if self._payload_left:
                step = min(self._payload_left, end - pos)
                self._payload_left -= step
                pos += step
            else:
                header = self._header(buf, pos)
                if header is None:
                    self._carry = buf[pos:]
                    break
                size, problem = header
                if problem is not None and found is None:
                    found = Violation(max(pos - carried, 0), *problem)
                pos += size
            if self._in_close and not self._payload_left:
                self.saw_close, self._in_close = True, False
        return found

    def _header(self, buf: bytes, pos: int) -> tuple[int, tuple[int, str] | None] | None:
        """Read the header at ``pos``: its size and what is wrong with it (None: incomplete)."""
        if len(buf) - pos < 2:
            return None
        first, second = buf[pos], buf[pos + 1]
        length = second & 0x7F
        extended = _EXTENDED.get(length, 0)
        size = 2 + extended + (4 if second & 0x80 else 0)
        if len(buf) - pos < size:
            return None
        if extended:
            length = int.from_bytes(buf[pos + 2 : pos + 2 + extended], "big")
        self._payload_left = length
        return size, self._check(first, second, length)

    def _check(self, first: int, second: int, length: int) -> tuple[int, str] | None:
        """Return the close code and reason a frame header earns, or None when it is fine."""
        opcode, final = first & 0x0F, bool(first & 0x80)
        if not second & 0x80:
            return CLOSE_PROTOCOL_ERROR, "client frames must be masked"
        if first & 0x70 or opcode not in _OPCODES:
            return CLOSE_PROTOCOL_ERROR, "a reserved bit or an unknown opcode"
        if opcode >= _FIRST_CONTROL:
            self._in_close = opcode == _OP_CLOSE
            if not final or length > 125:
                return CLOSE_PROTOCOL_ERROR, "a fragmented or oversized control frame"
            return None
        if opcode != _OP_CONTINUATION:
            self._message = 0
        self._message += length
        too_large = self._message > self.max_message
        if final:
            self._message = 0
        return (CLOSE_TOO_LARGE, "message too large") if too_large else None


def _no_violation(_code: int, _reason: str) -> None:
    """Stand in for the connection's callback once the socket is gone."""


class SocketGuard(asyncio.Protocol):
    """Stand between the transport and aiohttp's protocol: check headers, own the close."""

    def __init__(
        self,
        transport: asyncio.Transport,
        max_message: int,
        on_violation: Callable[[int, str], None],
    ) -> None:
        self.transport = transport
        self.scanner = FrameScanner(max_message)
        self.on_violation = on_violation
        self.released = asyncio.get_running_loop().create_future()
        self._inner = cast(asyncio.Protocol | None, transport.get_protocol())
        # Once a close begins, or a frame is refused, aiohttp is handed nothing more.
        self._forwarding = True
        if self._inner is None:  # the socket went before the guard arrived
            self.released.set_result(None)
        else:
            transport.set_protocol(self)

    def data_received(self, data: bytes) -> None:
        """Check the frame headers in ``data``, then hand aiohttp what it may have."""
        violation = self.scanner.scan(data)
        if not self._forwarding:
            if self.scanner.saw_close:
                self.transport.close()  # the client answered: it sends nothing more
            return
        if violation is None:
            self._hand_on(data)
            return
        self._forwarding = False
        if violation.offset:
            self._hand_on(data[: violation.offset])
        self.on_violation(violation.code, violation.reason)

    def _hand_on(self, data: bytes) -> None:
        assert self._inner is not None
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        """Let aiohttp see the client's EOF, unless a close is under way (then just close)."""
        if self._forwarding and self._inner is not None:
            return self._inner.eof_received()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """Tell aiohttp the socket is gone, and anyone waiting for the release."""
        # Nothing more can arrive: drop the connection's callback, which would hold
        # the connection that holds this guard (a cycle only a full collection frees).
        self.on_violation = _no_violation
        if self._inner is not None:
            self._inner.connection_lost(exc)
        if not self.released.done():
            self.released.set_result(None)

    def pause_writing(self) -> None:
        """Pass flow control on to aiohttp."""
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        """Pass flow control on to aiohttp."""
        if self._inner is not None:
            self._inner.resume_writing()

    async def close(self, close_frame: bytes, timeout: float = CLOSE_HANDSHAKE_S) -> None:
        """Send the close frame, drop input until the client answers, reset after ``timeout`` s."""
        self._forwarding = False
        if not self.transport.is_closing():
            self.transport.write(close_frame)
            # aiohttp may have paused reading behind its full queue; input left unread
            # when the socket closes makes the kernel reset it, losing the close frame.
            self.transport.resume_reading()
            if self.scanner.saw_close:
                self.transport.close()
        await self.release(timeout)

    async def release(self, timeout: float = CLOSE_HANDSHAKE_S) -> None:
        """Wait up to ``timeout`` s for the socket to go; then reset it."""
        try:
            await asyncio.wait_for(asyncio.shield(self.released), timeout)
        except TimeoutError:
            self.reset()
            # abort() reports the loss on the next turn of the loop; a transport that
            # was lost before the guard came never reports it to the guard.
            await asyncio.wait([self.released], timeout=1.0)

    def reset(self) -> None:
        """Drop the socket now, buffers and all."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            # ValueError: uvloop's stand-in for a socket whose descriptor is already
            # closed (a client gone during a reconnect storm): nothing left to reset.
            with contextlib.suppress(OSError, ValueError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
        self.transport.abort()
