"""Tenant scoping: every practice-owned row carries its practice and is read through a scoped manager.

A query on a scoped model with no active practice scope raises ``django_scopes.ScopeError``, so a
forgotten filter fails loudly in tests instead of leaking another practice's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from django.db import models
from django_scopes import ScopeError, scope, scopes_disabled
from django_scopes.manager import ScopedManager

if TYPE_CHECKING:
    from practice.models import Practice

__all__ = [
    "PracticeScopedModel",
    "ScopeError",
    "is_scoped_manager",
    "practice_scope",
    "scoped_manager",
    "scopes_disabled",
]


def scoped_manager(manager_class: type[models.Manager] = models.Manager) -> models.Manager:
    """A default manager that filters by the active practice scope and refuses to run without one."""
    manager = ScopedManager(_manager_class=manager_class, practice="practice")
    manager.is_practice_scoped = True
    return manager


def is_scoped_manager(manager: models.Manager) -> bool:
    return getattr(manager, "is_practice_scoped", False)


class PracticeScopedModel(models.Model):
    """Base of every tenant-owned table. `practice` sits on child tables too: no join-based scoping."""

    practice = models.ForeignKey("practice.Practice", on_delete=models.PROTECT, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)  # used in URLs
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = scoped_manager()
    # Unscoped: only for practice/ internals, cross-practice management commands and migrations.
    all_objects = models.Manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.public_id}"


@contextmanager
def practice_scope(practice: Practice | int) -> Iterator[Practice]:
    """Enter one practice's scope. Tasks receive ids and re-enter the scope here.

    django-scopes treats a scope of ``None`` as *all* practices; refuse it here so a missing
    practice can never widen a query.
    """
    from practice.models import Practice

    if practice is None:
        raise ScopeError("practice_scope() needs a practice, not None.")
    if not isinstance(practice, Practice):
        practice = Practice.objects.get(pk=practice)
    with scope(practice=practice):
        yield practice
