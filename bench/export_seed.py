"""Seed one user with many timers on PostgreSQL, in SQL (generate_series), for bench/exports.py.

The timers look like a tracker's: 2 % running or paused, 1 in 13 cancelled,
1 in 5 paused once on the way, 0 to 2 of 20 tags, titles with commas, quotes
and non-ASCII letters, started every 150 s from 2020 on (about 4.8 years per
million), in Europe/Paris.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
USER = "bench-exporter"
ZONE = "Europe/Paris"
TAGS = 20
T0_MS = 1_577_836_800_000  # 2020-01-01T00:00:00Z

SEED_USER = """
INSERT INTO users (id, display_name, email, email_verified, friend_code, timezone,
                   created_at, updated_at, version)
VALUES ($1, 'Bench Exporter', 'bench@example.com', true, 'BENCHEXP01', $2, $3, $3, 1)
"""
SEED_TAGS = """
INSERT INTO tag_groups (id, owner_id, name, color, description, goal_ratios,
                        created_at, updated_at, version)
SELECT md5('group' || g)::uuid::text, $1, 'Group ' || g, '#808080', '', '{}', $2, $2, 1
FROM generate_series(1, 2) g;
"""
SEED_TAG_ROWS = """
INSERT INTO tags (id, owner_id, group_id, name, name_key, color, description,
                  created_at, updated_at, version)
SELECT md5('tag' || g)::uuid::text, $1, md5('group' || (1 + g % 2))::uuid::text,
       (ARRAY['Acme, Inc.', 'Écriture', 'deep work', 'review'])[1 + g % 4] || ' ' || g,
       lower((ARRAY['Acme, Inc.', 'Écriture', 'deep work', 'review'])[1 + g % 4] || ' ' || g),
       '#336699', '', $2, $2, 1
FROM generate_series(1, $3::int) g;
"""
# One statement; the CASE columns follow from g alone, so a re-run seeds the same rows.
SEED_TIMERS = """
INSERT INTO timers (id, owner_id, title, description, schedule_id, todo_id, tag_ids, allocated_ms,
                    accumulated_ms, segment_started_at, status, started_at, paused_at, ended_at,
                    history_n, due_at, due_fired, visibility, visibility_rules, created_at,
                    updated_at, version)
SELECT md5('timer' || g)::uuid::text, $1,
       (ARRAY['Deep work', 'Code review: sync engine', 'Standup', 'Client call, "Acme" renewal',
              'Écriture du rapport', 'Bug triage #' || (g % 997), 'Design review / offline mode',
              'Lunch'])[1 + g % 8] || ' — session ' || g,
       CASE WHEN g % 10 = 0 THEN 'Notes: follow up with the team; see ticket ' || g ELSE '' END,
       NULL, NULL,
       CASE WHEN g % 4 = 0 THEN '[]'
            WHEN g % 4 = 1 THEN '["' || md5('tag' || (1 + g % $2))::uuid::text || '"]'
            ELSE '["' || md5('tag' || (1 + g % $2))::uuid::text || '","'
                      || md5('tag' || (1 + (g + 7) % $2))::uuid::text || '"]' END,
       1500000,
       CASE WHEN status = 'RUNNING' THEN 0 ELSE run_ms END,
       CASE WHEN status = 'RUNNING' THEN start_ms ELSE NULL END,
       status, start_ms,
       CASE WHEN status = 'PAUSED' THEN start_ms + run_ms ELSE NULL END,
       CASE WHEN status IN ('COMPLETED', 'CANCELLED') THEN start_ms + run_ms + pause_ms
            ELSE NULL END,
       CASE WHEN pause_ms > 0 THEN 2 WHEN status = 'PAUSED' THEN 1 ELSE 0 END,
       CASE WHEN status = 'RUNNING' THEN start_ms + 1500000 ELSE NULL END,
       status = 'RUNNING', 'private', NULL, start_ms, start_ms, 1
FROM (
    SELECT g, $3::bigint + g * 150000 AS start_ms,
           (300 + (g * 7919) % 7200)::bigint * 1000 AS run_ms,
           CASE WHEN g % 5 = 0 AND g % 50 <> 0 THEN 300000 ELSE 0 END AS pause_ms,
           CASE WHEN g % 100 = 0 THEN 'RUNNING' WHEN g % 50 = 0 THEN 'PAUSED'
                WHEN g % 13 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END AS status
    FROM generate_series(1::bigint, $4::bigint) g
) s
"""
# The history entries the seeded timers count in history_n: a pause and a resume
# 300 s later halfway through a paused-between run, or the pause of a PAUSED timer.
SEED_HISTORY = """
INSERT INTO timer_history (timer_id, n, entry)
SELECT id, 1, '{"action":"pause","at":"' || iso(started_at + accumulated_ms / 2)
              || '","elapsed_ms":' || accumulated_ms / 2 || '}'
FROM timers WHERE owner_id = $1 AND history_n = 2
UNION ALL
SELECT id, 2, '{"action":"resume","at":"' || iso(started_at + accumulated_ms / 2 + 300000)
              || '","elapsed_ms":' || accumulated_ms / 2 || '}'
FROM timers WHERE owner_id = $1 AND history_n = 2
UNION ALL
SELECT id, 1, '{"action":"pause","at":"' || iso(paused_at)
              || '","elapsed_ms":' || accumulated_ms || '}'
FROM timers WHERE owner_id = $1 AND history_n = 1
"""
ISO_FUNCTION = """
CREATE OR REPLACE FUNCTION pg_temp.iso(ms bigint) RETURNS text LANGUAGE sql IMMUTABLE AS
$$ SELECT to_char(to_timestamp(ms / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$
"""
SEED_LINKS = """
INSERT INTO tag_links (tag_id, kind, resource_id, owner_id)
SELECT t.tag, 'timer', timers.id, timers.owner_id
FROM timers, jsonb_array_elements_text(timers.tag_ids::jsonb) AS t(tag)
WHERE timers.owner_id = $1
"""


def plain(url: str) -> str:
    """Return the URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


def migrate(url: str) -> None:
    """Bring the schema to the head migration of this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": url}
    subprocess.run([sys.executable, "-m", "server", "db", "upgrade"], cwd=ROOT, env=env, check=True)


async def ensure_seed(url: str, timers: int) -> dict[str, Any]:
    """Make the bench user own exactly ``timers`` timers; seed from scratch when not."""
    migrate(url)
    conn = await asyncpg.connect(plain(url))
    try:
        have = await conn.fetchval("SELECT count(*) FROM timers WHERE owner_id = $1", USER)
        if have == timers:
            return {"timers": have, "seeded_now": False}
        started = time.monotonic()
        await _reset(conn)
        await _seed(conn, timers)
        await conn.execute("VACUUM ANALYZE timers")
        await conn.execute("VACUUM ANALYZE tag_links")
        await conn.execute("VACUUM ANALYZE timer_history")
        return {
            "timers": timers,
            "seeded_now": True,
            "seed_s": round(time.monotonic() - started, 1),
        }
    finally:
        await conn.close()


async def _reset(conn: asyncpg.Connection) -> None:
    """Delete every row the bench user owns (the schema stays)."""
    for table in ("tag_links", "timers", "tags", "tag_groups"):
        await conn.execute(f"DELETE FROM {table} WHERE owner_id = $1", USER)
    await conn.execute("DELETE FROM users WHERE id = $1", USER)


async def _seed(conn: asyncpg.Connection, timers: int) -> None:
    """Insert the user, their tags and timers, and the tag links, in one transaction."""
    async with conn.transaction():
        await conn.execute(ISO_FUNCTION)
        await conn.execute(SEED_USER, USER, ZONE, T0_MS)
        await conn.execute(SEED_TAGS, USER, T0_MS)
        await conn.execute(SEED_TAG_ROWS, USER, T0_MS, TAGS)
        await conn.execute(SEED_TIMERS.replace("iso(", "pg_temp.iso("), USER, TAGS, T0_MS, timers)
        await conn.execute(SEED_HISTORY.replace("iso(", "pg_temp.iso("), USER)
        await conn.execute(SEED_LINKS, USER)
