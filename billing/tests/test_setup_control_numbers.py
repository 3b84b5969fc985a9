"""Control numbers: per-practice, per-name counters (billing.md §2.1)."""

from __future__ import annotations

from billing.control_numbers import MAX_CONTROL_NUMBER, next_control_number
from billing.models import ControlNumberCounter
from practice.scoping import practice_scope


def test_counters_increment_per_practice_and_name(practice_a, practice_b):
    assert [next_control_number(practice_a.id, "isa") for _ in range(3)] == [1, 2, 3]
    assert next_control_number(practice_b.id, "isa") == 1
    assert next_control_number(practice_a.id, "trn") == 1
    assert next_control_number(practice_a.id, "isa") == 4


def test_counter_wraps_after_nine_digits(practice_a):
    with practice_scope(practice_a):
        ControlNumberCounter.objects.create(practice=practice_a, name="isa", value=MAX_CONTROL_NUMBER)
    assert next_control_number(practice_a.id, "isa") == 1
