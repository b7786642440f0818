"""WebSocket framing of server frames, done once per event for every recipient."""

from __future__ import annotations

import struct


def text_frame(payload: bytes) -> bytes:
    """Frame ``payload`` as one unmasked WebSocket text frame (server to client)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def close_frame(code: int, reason: str) -> bytes:
    """Frame a close with ``code`` and as much of ``reason`` as fits (123 bytes of UTF-8)."""
    text = reason.encode()[:123].decode(errors="ignore").encode()
    payload = struct.pack("!H", code) + text
    return struct.pack("!BB", 0x88, len(payload)) + payload
