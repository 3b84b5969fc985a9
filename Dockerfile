# Tend web/worker image. Build: docker compose build. One image runs gunicorn, Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.base

WORKDIR /app

RUN groupadd --system --gid 10001 tend \
    && useradd --system --uid 10001 --gid tend --create-home --home-dir /home/tend --shell /usr/sbin/nologin tend

# Dependencies first, so code changes do not reinstall them (pyproject declares no packages:
# installing the project installs exactly its pinned dependency ranges).
COPY pyproject.toml README.md ./
RUN pip install .

COPY . .

# Static files are collected (hashed and compressed for whitenoise) at build time; the
# placeholder key exists only for this step and never reaches a running container.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /app/var/media \
    && chown -R tend:tend /app/var

USER tend

EXPOSE 8000

# Behind a TLS-terminating proxy: FORWARDED_ALLOW_IPS (read by gunicorn) names the proxies whose
# X-Forwarded-* headers are trusted. WEB_CONCURRENCY (also read by gunicorn) sets the workers.
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60"]
