# syntax=docker/dockerfile:1
#
# hipster-timer server image.
#
#   docker build -t hipster-timer .
#   docker run -p 2614:2614 -v hipster-data:/data hipster-timer
#
# Layout, and why the project is installed in editable mode
# ----------------------------------------------------------
# server/storage/migrate.py finds the Alembic scripts at
# Path(__file__).resolve().parents[2] / "migrations", i.e. *next to* the `server`
# package. A regular `pip install /app` would copy `server` into site-packages,
# where parents[2] is `lib/python3.11` and no `migrations/` exists. So the source
# tree lives at /app (/app/server, /app/schema and /app/migrations side by side)
# and the project is installed into the venv with `pip install -e /app`: the venv
# gets the dependencies from pyproject.toml, the `hipster-timer` console script
# and an editable finder that maps `server` and `schema` to /app/server and
# /app/schema. migrate.py therefore runs from /app/server/storage/migrate.py and
# parents[2] / "migrations" is /app/migrations.
#
# The finder records absolute paths, and the venv's scripts record
# /opt/venv/bin/python in their shebang, so the runtime stage must keep both at
# the same paths (/app and /opt/venv) and use the same base image (python:3.11-slim).

# --- builder: resolve the dependencies and install the project into a venv ---
FROM python:3.11-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app
# Only what the server needs; tests, benchmarks and local venvs stay out.
# (pyproject.toml names README.md as the readme; setuptools only warns when it is absent.)
COPY pyproject.toml ./
COPY schema/ /app/schema/
COPY server/ /app/server/
COPY migrations/ /app/migrations/

# 1. Build the project's editable wheel and install it with its dependencies.
# 2. Compile the bytecode now: at run time /app belongs to root, read-only for the app user.
# 3. Fail the build if the layout described above does not hold.
RUN pip install -e /app \
    && python -m compileall -q /app/server /app/schema /app/migrations \
    && python -c "from server.storage.migrate import MIGRATIONS_DIR as d; assert (d / 'env.py').is_file(), d" \
    && hipster-timer --help >/dev/null

# --- runtime: the venv and the source tree, nothing else -------------------
FROM python:3.11-slim AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=2614 \
    DATA_DIR=/data

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin app \
    && mkdir -p /data \
    && chown app:app /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=builder /app /app

# DATA_DIR: the SQLite database (when DATABASE_URL is unset) and the generated
# signing key (when AUTH_SIGNING_SECRET is unset). Mount a volume here to keep them;
# a new named volume takes this directory's owner, so the app user can write to it.
WORKDIR /data
USER 10001:10001

EXPOSE 2614

# Liveness only (no dependency checks); slim images have no curl, so use Python.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '2614') + '/v1/health/live', timeout=3)"

# SIGTERM (docker stop) closes sockets with 1012 within SHUTDOWN_GRACE_S.
STOPSIGNAL SIGTERM
CMD ["hipster-timer", "serve"]
