# syntax=docker/dockerfile:1
# fortium-metrics: one image for the service (`serve`), the migration Job (`db upgrade`) and every
# other operator command (`docker run IMAGE user list --org acme`). docs/deployment.md explains it.
#
#   docker build -t fortium-metrics .
#   docker run -p 8765:8765 -v fortium-data:/var/lib/fortium-metrics fortium-metrics       # SQLite
#
# Three stages: the front end built with the committed npm lock, the Python packages installed
# from the hashed lock (the run-time part of the same requirements.lock as development and CI),
# and a slim runtime stage that holds neither Node.js nor compilers and runs as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

# -- 1. the dashboard's front end (frontend/build.mjs writes ../src/fortium_metrics/web/static) ----
FROM ${NODE_IMAGE} AS frontend
WORKDIR /app/frontend
# swagger-ui-dist depends on @scarf/scarf, whose install script reports downloads: not from here.
ENV SCARF_ANALYTICS=false
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN node build.mjs

# -- 2. the Python packages, every one checked against its hash in requirements.lock ------------
FROM ${PYTHON_IMAGE} AS python
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/fortium
COPY requirements.lock pyproject.toml deploy/runtime_requirements.py /app/
# The lock's run-time part (its `dev` extra's test tools left out), pins and hashes unchanged; pip
# refuses it if it lacks a dependency of what it installs.
RUN python /app/runtime_requirements.py /app/requirements.lock /app/pyproject.toml > /app/runtime.lock \
 && /opt/fortium/bin/pip install --require-hashes -r /app/runtime.lock
COPY README.md alembic.ini /app/
COPY migrations/ /app/migrations/
COPY src/ /app/src/
COPY --from=frontend /app/src/fortium_metrics/web/static/ /app/src/fortium_metrics/web/static/
# Installed in place (as dev.py does): the Alembic migrations live beside src/, in /app/migrations,
# and the code finds them there. Nothing is downloaded here: the build tools are in the lock.
RUN /opt/fortium/bin/pip install --no-deps --no-build-isolation -e /app \
 && find /app /opt/fortium -name __pycache__ -prune -exec rm -rf {} +

# -- 3. runtime ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="fortium-metrics" \
      org.opencontainers.image.description="Self-hostable, multi-tenant metrics for AI coding agents"
# A fixed numeric id, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
RUN groupadd --system --gid 10001 fortium \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/fortium-metrics --shell /usr/sbin/nologin fortium \
 && install -d -o 10001 -g 10001 -m 0750 /var/lib/fortium-metrics
# Code and packages belong to root and are read-only for the service's user.
COPY --from=python /opt/fortium /opt/fortium
COPY --from=python /app /app
ENV PATH=/opt/fortium/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FORTIUM_HOST=0.0.0.0 \
    FORTIUM_PORT=8765 \
    FORTIUM_DATA_DIR=/var/lib/fortium-metrics
WORKDIR /var/lib/fortium-metrics
VOLUME ["/var/lib/fortium-metrics"]
USER 10001:10001
EXPOSE 8765
# Liveness only (/healthz: the process answers and reaches its database). The image has no curl:
# the standard library asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('FORTIUM_PORT', '8765'), timeout=4)"]
# `serve` migrates an SQLite file itself; on PostgreSQL it refuses to start until the schema is
# at head, which the migration Job (`db upgrade`, as the schema owner) brings it to first.
ENTRYPOINT ["fortium-metrics"]
CMD ["serve"]
