# syntax=docker/dockerfile:1
# Build: docker compose build (or docker build -t chaster-tasks-bot .)

ARG PYTHON_VERSION=3.11

# Stage 1: dependencies from the hash-pinned lock file, then the bot itself, in a venv.
FROM python:${PYTHON_VERSION}-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
# tzdata comes with them: the slim image has no system time-zone files, and schedules need them.
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-deps .

# Stage 2: only the venv, run as an unprivileged user with the database on a volume. The
# chart library's font cache goes to /tmp, not to the database volume (the user's home).
FROM python:${PYTHON_VERSION}-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_PATH=/data/bot.sqlite3 \
    MPLCONFIGDIR=/tmp/matplotlib
RUN groupadd --system --gid 10001 bot \
    && useradd --system --uid 10001 --gid bot --home-dir /data --no-create-home bot \
    && mkdir /data && chown bot:bot /data
COPY --from=build /opt/venv /opt/venv
USER bot
WORKDIR /data
VOLUME ["/data"]
# Only used when WEBHOOK_PORT=8080 is set (Chaster webhooks and /healthz).
EXPOSE 8080
# /healthz when the web server is on, otherwise the heartbeat file the bot keeps fresh.
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "bot", "healthcheck"]
# docker stop sends SIGTERM: the bot finishes accepted work, closes the database and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
