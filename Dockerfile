# The portal's one image; bin/container-entrypoint runs it as web (the default), worker, beat or migrate.
# Build: docker build -t broker-portal .   (compose.yaml builds it too)
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The processes run as this user; the code stays root's, so a compromised process cannot rewrite it.
RUN groupadd --system --gid 10001 portal \
 && useradd --system --uid 10001 --gid portal --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin portal

WORKDIR /app
# Requirements first: the dependency layer is rebuilt only when they change. Runtime only, no test tools.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt

COPY . ./
# Static files are collected at build with settings that need no secret and no database; whitenoise serves them.
# PORTAL_VAR_DIR (exports, media, beat's schedule) is the one place the processes write.
RUN DJANGO_SETTINGS_MODULE=broker_portal.settings.build python manage.py collectstatic --noinput \
 && mkdir -p /var/lib/portal \
 && chown portal:portal /var/lib/portal

# XDG_RUNTIME_DIR: per-process runtime files (gunicorn's control socket) go to /tmp, the root being read-only.
ENV DJANGO_SETTINGS_MODULE=broker_portal.settings.production \
    PORTAL_VAR_DIR=/var/lib/portal \
    XDG_RUNTIME_DIR=/tmp
VOLUME ["/var/lib/portal"]
USER portal:portal
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=6s --start-period=30s --retries=3 \
    CMD ["bin/container-healthcheck", "web", "/healthz"]
ENTRYPOINT ["bin/container-entrypoint"]
CMD ["web"]
