"""User rows as wire resources."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from server.clock import iso_ms


def user_view(row: RowMapping, *, private: bool) -> dict[str, Any]:
    """Return the user resource; email and holiday calendars only when ``private`` (the user)."""
    view: dict[str, Any] = {
        "id": row["id"],
        "display_name": row["display_name"],
        "avatar_url": row["avatar_url"],
        "friend_code": row["friend_code"],
        "timezone": row["timezone"],
        "created_at": iso_ms(row["created_at"]),
        "updated_at": iso_ms(row["updated_at"]),
        "version": row["version"],
    }
    if private:
        view["email"] = row["email"]
        view["email_verified"] = bool(row["email_verified"])
        view["holiday_calendars"] = orjson.loads(row["holiday_calendars"])
    return view
