"""The `hipster-timer` command: serve, db upgrade|current, token create."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

# Heavy modules (aiohttp, the app, SQLAlchemy, Alembic, pydantic) are imported inside
# the command that needs them: `--help` and `token create` then answer in a fraction
# of the second the whole server takes to import (docs/operations.md has the figures).
if TYPE_CHECKING:
    from aiohttp import web
    from pydantic import ValidationError

    from server.settings import Settings

MAX_TTL_S = 365 * 24 * 3600
DEFAULT_TTL_S = 24 * 3600


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(prog="hipster-timer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    serve.add_argument("--host", help="address to bind (default: HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: PORT or 2614)")
    db = sub.add_parser("db", help="database migrations")
    db.add_argument("action", choices=["upgrade", "current"])
    token = sub.add_parser("token", help="tokens of the embedded issuer")
    token.add_argument("action", choices=["create"])
    token.add_argument("--user", required=True, help="the user id (token subject)")
    token.add_argument("--email", help="an email for the user, marked verified")
    token.add_argument("--name", help="the display name")
    token.add_argument(
        "--ttl", type=int, default=DEFAULT_TTL_S, help="lifetime in seconds (default: 86400)"
    )
    return parser


def run_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate the embedded database, then serve until SIGTERM or SIGINT."""
    import logging

    from aiohttp import web

    from server.app import create_app
    from server.storage import migrate

    if settings.database_url is None or settings.effective_database_url.startswith("sqlite"):
        migrate.upgrade(settings.effective_database_url)
    use_uvloop()
    app = create_app(settings)
    app.on_startup.append(tune_collector)
    web.run_app(
        app,
        host=args.host or settings.host,
        port=args.port or settings.port,
        shutdown_timeout=settings.shutdown_grace_s,
        # Clients of a dead instance all come back at once: with aiohttp's 128 the
        # kernel drops their SYNs and they retry a second (then 3 s) later.
        backlog=4096,
        access_log=None,
        print=lambda message: logging.getLogger("server").info(message),
    )
    return 0


# Net allocations of tracked objects between two youngest-generation collections
# (CPython's default is 700). See tune_collector.
GC_YOUNG_THRESHOLD = 10_000


async def tune_collector(app: web.Application) -> None:
    """Keep what startup built out of every later collection, collect young
    objects less often, and walk survivors once (``server.collector``).

    A full collection walks every tracked object: the startup heap alone
    (modules, models, the app: 137,000 objects) takes ~70 ms of a blocked
    event loop. Frozen at startup, it is walked only by the rare full
    collections (``Tenure``'s, below). At CPython's default
    threshold of 700 the objects of commands in flight were collected young,
    survived (they are in flight), got promoted, and so triggered a full
    collection over every connection's objects every few seconds: in
    ``ws_fanout.py`` (1,000 sockets, 20,000 mutations) 905-919 collections
    and 7 full ones took 1.1 s, and server CPU per mutation was 632-652 µs
    against 482-490 µs at 10,000 (1 collection, 2 ms). Cycles still go: the
    young generation is collected after 10,000 net allocations, not 700.

    Connections are long-lived objects (about 80 each): what survives a
    collection is frozen until the next full one (``Tenure``), which comes every
    ten million net allocations (about 110,000 connects). After startup, the
    middle and full collections of ``reconnect_storm.py`` found 185 objects in
    all and those of ``ws_fanout.py`` none: a connection's objects end by
    reference counting.
    """
    import asyncio

    from server.collector import Tenure

    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    tenure = Tenure(asyncio.get_running_loop())
    tenure.install()

    async def stop(_app: web.Application) -> None:
        tenure.uninstall()

    app.on_cleanup.append(stop)


def use_uvloop() -> None:
    """Serve on uvloop where it is installed: its C event loop halves per-frame overhead."""
    import asyncio

    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows has no uvloop
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def run_db(settings: Settings, args: argparse.Namespace) -> int:
    """Apply migrations or print the current revision."""
    from server.storage import migrate

    url = settings.effective_database_url
    if args.action == "upgrade":
        migrate.upgrade(url)
    print(migrate.current(url) or "no revision")
    return 0


def run_token(settings: Settings, args: argparse.Namespace) -> int:
    """Print a token of the embedded issuer; the user is created at its first sign-in."""
    from server.auth.embedded import EmbeddedIssuer, load_or_create_secret

    if not 0 < args.ttl <= MAX_TTL_S:
        raise SystemExit(f"--ttl must be between 1 and {MAX_TTL_S} seconds")
    secret = load_or_create_secret(settings.data_dir, settings.auth_signing_secret)
    issuer = EmbeddedIssuer(secret, settings.auth_issuer, settings.auth_audience)
    print(issuer.mint(args.user, email=args.email, name=args.name, ttl_s=args.ttl))
    return 0


COMMANDS: dict[str, Callable[[Settings, argparse.Namespace], int]] = {
    "serve": run_serve,
    "db": run_db,
    "token": run_token,
}


def describe_errors(exc: ValidationError) -> str:
    """List what is wrong with the settings without echoing their values (secrets)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in err["loc"]).upper() or "settings"
        lines.append(f"  {where}: {err['msg']}")
    return "\n".join(lines)


def load_settings() -> Settings | None:
    """Read the settings, or report what is wrong with them and return None."""
    from pydantic import ValidationError

    from server.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        print(f"invalid configuration:\n{describe_errors(exc)}", file=sys.stderr)
        return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    settings = load_settings()
    if settings is None:
        return 2
    from server.logs import configure_logging

    configure_logging(settings)
    return COMMANDS[args.command](settings, args)
