# Health Assistant API: gunicorn serving wsgi:app, on DynamoDB by default.
#
#   docker build -t health-api:local .
#   docker run --rm -p 8080:8000 -e HEALTH_API_KEYS=... -e AWS_REGION=eu-west-1 health-api:local
#
# Production (the default ENVIRONMENT here) refuses to start without HEALTH_API_KEYS: the
# orchestrator must inject them (a Kubernetes Secret, an ECS secret, an env file) - never bake
# keys or AWS credentials into the image. AWS credentials come from the standard chain (an IAM
# role of the task / pod is the intended one).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: build the project's wheel and install it with its dependencies into a venv ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# Only what the wheel needs (pyproject's readme is README.md).
COPY pyproject.toml README.md setup_tables.py wsgi.py ./
COPY health_api ./health_api
RUN pip wheel --no-deps --wheel-dir /tmp/wheels . \
    && pip install /tmp/wheels/*.whl

# --- runtime: the venv and the entry files, nothing else ---------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    PORT=8000 \
    ENVIRONMENT=production \
    HEALTH_API_STORAGE=dynamodb \
    HEALTH_API_SQLITE_PATH=/app/data/health_api.db

# A fixed, numeric uid/gid so Kubernetes' runAsNonRoot can verify it and volumes can be chowned.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# The entry files stay root-owned and read-only for the app user; the code is in the venv.
COPY gunicorn.conf.py wsgi.py setup_tables.py ./
# The only writable place: the SQLite store (HEALTH_API_STORAGE=sqlite) and generated dev keys.
RUN mkdir -p /app/data && chown 10001:10001 /app/data && chmod 0750 /app/data
VOLUME ["/app/data"]

USER 10001:10001
EXPOSE 8000

# No curl in slim images: the standard library's urllib; non-2xx or no answer = unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]

CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
