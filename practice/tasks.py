"""Thin Celery tasks: ids in, scope re-entered, one service called. Each is safe to run twice."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from functools import wraps
from typing import Any

from celery import shared_task
from django_scopes import scopes_disabled

from practice.audit import ChainBreak, verify_chains
from practice.scoping import practice_scope
from practice.services import invitation_deliver

logger = logging.getLogger(__name__)


def practice_task(**celery_options: Any) -> Callable[[Callable[..., Any]], Any]:
    """A Celery task that takes ``practice_id`` and runs its body inside that practice's scope.

    Late acknowledgement is the default: a task whose worker dies is run again, so bodies must
    be idempotent (claim rows with a conditional UPDATE).
    """

    def decorate(body: Callable[..., Any]) -> Any:
        @shared_task(name=f"{body.__module__}.{body.__name__}", **{"acks_late": True, **celery_options})
        @wraps(body)
        def task(*, practice_id: int, **kwargs: Any) -> Any:
            with practice_scope(practice_id):
                return body(**kwargs)

        return task

    return decorate


@practice_task(
    autoretry_for=(smtplib.SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=6,
)
def invitation_send_task(*, invitation_id: int) -> bool:
    return invitation_deliver(invitation_id=invitation_id)


@shared_task(acks_late=True)
def audit_chain_verify_task() -> int:
    """Nightly: walk every audit chain and log an error for each broken one (read-only)."""
    broken = 0
    with scopes_disabled():
        for result in verify_chains():
            if isinstance(result, ChainBreak):
                broken += 1
                logger.error("audit chain broken: %s", result)
    return broken
