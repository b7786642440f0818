"""aiohttp's server log, with the requests a client garbled logged as what they are."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

# How much of the parser's complaint goes into the log line (it may quote the request).
DETAIL_CHARS = 200


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """The logger aiohttp's request handler writes to (``handler_args={"logger": ...}``).

    aiohttp logs every request its parser refuses (bad request line, header,
    URL, line too long) as an ERROR with a traceback, then answers 400. That is
    the client's fault and nothing to act on: it becomes one INFO line.
    Everything else, server faults included, passes through unchanged.
    """

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """Log a refused request as one INFO line; anything else as aiohttp asked."""
        if isinstance(exc_info, HttpProcessingError):
            detail = " ".join(str(exc_info.message).split())[:DETAIL_CHARS]
            self.info("%s: refused with %d: %s", str(msg) % args, exc_info.code, detail)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)
