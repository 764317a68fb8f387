# One image for the three services, the gateway and the migrate step (compose.yaml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY catalog_service ./catalog_service
COPY request_service ./request_service
COPY stats_service ./stats_service
COPY gateway ./gateway
COPY migrations ./migrations
COPY alembic.ini ./
RUN pip install --no-cache-dir . && useradd --system gongkai && mkdir -p /app/data && chown gongkai /app/data
USER gongkai
ENV GONGKAI_ENVIRONMENT=production
