"""Note templates: the built-in set each practice starts with, and practice copies."""

from __future__ import annotations

from django.db import transaction

from clinical.models import NoteTemplate
from clinical.note_templates import BUILTIN_TEMPLATES
from practice.models import Practice
from practice.scoping import practice_scope


@transaction.atomic
def note_templates_install_builtin(*, practice: Practice) -> int:
    """Give a practice its own copy of every built-in template it lacks. Idempotent."""
    created = 0
    with practice_scope(practice):
        for spec in BUILTIN_TEMPLATES:
            _, was_created = NoteTemplate.objects.get_or_create(
                practice=practice,
                name=spec["name"],
                defaults={
                    "kind": spec["kind"],
                    "description": spec["description"],
                    "sections": spec["sections"],
                    "default_service_code": spec["default_service_code"],
                    "is_builtin": True,
                },
            )
            created += was_created
    return created
