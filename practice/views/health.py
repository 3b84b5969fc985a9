"""/healthz: a probe for the load balancer and uptime monitors.

No authentication, so it says only whether each dependency answers and how fast: never a URL,
a host name, an exception message (they can carry credentials) or anything about a practice.
HTTP 503 only when the database is down (the app cannot serve anything); Redis or Celery trouble
is "degraded" with HTTP 200, so the load balancer keeps the instance in rotation.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe

CHECK_TIMEOUT_SECONDS = 1.0


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return {"ok": False, "ms": _ms_since(started), "detail": "unreachable"}
    return {"ok": True, "ms": _ms_since(started)}


def check_redis() -> dict[str, Any]:
    url = settings.REDIS_URL
    if not url:
        return {"ok": True, "detail": "not configured"}
    import redis

    started = time.perf_counter()
    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    except (redis.RedisError, OSError):
        return {"ok": False, "ms": _ms_since(started), "detail": "unreachable"}
    finally:
        client.close()
    return {"ok": True, "ms": _ms_since(started)}


def check_celery() -> dict[str, Any]:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "detail": "eager mode, no worker needed"}
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(
                max_retries=1, interval_start=0, interval_step=0
            )  # fail fast: a probe must not sit in kombu's retries
            replies = app.control.ping(timeout=CHECK_TIMEOUT_SECONDS, connection=conn) or []
    except Exception:  # kombu/redis raise many kinds when the broker is unreachable
        return {"ok": False, "workers": 0, "detail": "broker unreachable"}
    return {"ok": bool(replies), "workers": len(replies)}


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": check_database(), "redis": check_redis(), "celery": check_celery()}
    if not checks["database"]["ok"]:
        overall, http_status = "down", 503
    elif all(check["ok"] for check in checks.values()):
        overall, http_status = "ok", 200
    else:
        overall, http_status = "degraded", 200
    return JsonResponse({"status": overall, "checks": checks}, status=http_status)
