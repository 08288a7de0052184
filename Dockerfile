# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    DATABASE_PATH=/data/bot.sqlite3
COPY --from=build /install /usr/local
RUN useradd --system --uid 10001 --home-dir /data bot \
    && mkdir -p /data && chown bot /data
USER bot
WORKDIR /data
VOLUME ["/data"]
ENTRYPOINT ["python", "-m", "bot"]
