"""X12 control numbers (billing.md §2.1): ISA13 interchange, GS06 group and ST02 transaction numbers
are per-practice counters, incremented under a row lock so two exports (837P, 270) never share a
number. Names in use: "isa", "gs", "st" (shared by every X12 writer), "trn" (270 trace numbers).
"""

from __future__ import annotations

from django.db import transaction

from billing.models import ControlNumberCounter
from practice.scoping import practice_scope

# ISA13 / GS06 are at most 9 digits (X12 005010 ISA13 N0 9/9, GS06 N0 1/9); wrap after the maximum.
MAX_CONTROL_NUMBER = 999_999_999


@transaction.atomic
def next_control_number(practice_id: int, name: str) -> int:
    """Return the next value (1, 2, …) of the practice's counter `name`, holding a row lock
    (`select_for_update`) until the caller's transaction ends so concurrent exports serialize."""
    with practice_scope(practice_id):
        ControlNumberCounter.objects.get_or_create(practice_id=practice_id, name=name)
        counter = ControlNumberCounter.objects.select_for_update().get(practice_id=practice_id, name=name)
        counter.value = counter.value + 1 if counter.value < MAX_CONTROL_NUMBER else 1
        counter.save(update_fields=["value", "updated_at"])
        return counter.value
