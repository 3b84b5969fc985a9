"""Scrub services and task: stored findings, counts and events; per-payer and practice-wide rule
settings; bounded queries for a batch; tenant isolation; the batch task."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing import models as bm
from billing import tasks_scrub
from billing.scrubbing import RULES
from billing.services_scrub import claim_scrub, claims_scrub_batch
from billing.tasks_scrub import claims_scrub_batch_task
from billing.tests.factories import BillingProfileFactory, claim_with_lines
from practice.errors import DomainError
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def scoped(practice_a):
    with practice_scope(practice_a):
        BillingProfileFactory(practice=practice_a)
        yield practice_a


def _break_two_errors_one_warning(claim):
    """R6 (TIN, error), D6 (dangling pointer, error), P1 (missing minutes, warning)."""
    bm.BillingProfile.objects.update(tin="12345678")
    line = bm.ClaimLine.objects.get(claim=claim)
    line.diagnosis_pointers = [2]
    line.minutes = None
    line.save()
    bm.Charge.objects.filter(pk=line.charge_id).update(minutes=None)


def test_scrub_stores_findings_counts_and_an_event(scoped, clinician_a):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    result = claim_scrub(claim=claim, by=clinician_a)
    assert sorted(f.rule_code for f in result.errors) == ["D6", "R6"]
    assert [f.rule_code for f in result.warnings] == ["P1"]
    assert not result.is_clean
    claim.refresh_from_db()
    assert (claim.error_count, claim.warning_count) == (2, 1)
    assert claim.scrubbed_at is not None
    rows = list(bm.ScrubFinding.objects.filter(claim=claim).order_by("rule_code"))
    assert [(r.rule_code, r.severity) for r in rows] == [("D6", "error"), ("P1", "warning"), ("R6", "error")]
    line = bm.ClaimLine.objects.get(claim=claim)
    assert rows[0].line_id == line.pk and rows[2].line_id is None
    assert "12345678" in rows[2].message and rows[2].fix
    event = bm.ClaimEvent.objects.get(claim=claim)
    assert event.note == "scrubbed: 2 errors, 1 warning"
    assert (event.from_status, event.to_status, event.by, event.source) == ("draft", "draft", clinician_a, "staff")


def test_rescrub_replaces_findings_after_a_fix(scoped):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    claim_scrub(claim=claim)
    bm.BillingProfile.objects.update(tin="371234567")
    result = claim_scrub(claim=claim)
    assert sorted(f.rule_code for f in result.errors) == ["D6"]
    assert sorted(bm.ScrubFinding.objects.filter(claim=claim).values_list("rule_code", flat=True)) == ["D6", "P1"]
    claim.refresh_from_db()
    assert (claim.error_count, claim.warning_count) == (1, 1)
    assert list(bm.ClaimEvent.objects.filter(claim=claim).values_list("note", flat=True)) == [
        "scrubbed: 2 errors, 1 warning",
        "scrubbed: 1 error, 1 warning",
    ]


def test_clean_claim_scrubs_clean(scoped):
    claim = claim_with_lines(scoped)
    result = claim_scrub(claim=claim)
    assert result.is_clean and not result.warnings
    assert not bm.ScrubFinding.objects.filter(claim=claim).exists()
    assert bm.ClaimEvent.objects.get(claim=claim).source == "system"


def test_member_of_another_practice_cannot_scrub(scoped, clinician_b):
    claim = claim_with_lines(scoped)
    with pytest.raises(DomainError):
        claim_scrub(claim=claim, by=clinician_b)
    assert not bm.ClaimEvent.objects.filter(claim=claim).exists()


# --------------------------------------------------------------------------------------------
# Rule settings


def _setting(practice, code, payer=None, **fields):
    return bm.ScrubRuleSetting.all_objects.create(practice=practice, payer=payer, rule_code=code, **fields)


def test_rule_disabled_for_the_payer_is_skipped(scoped):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    _setting(scoped, "R6", payer=claim.payer, is_enabled=False)
    assert sorted(f.rule_code for f in claim_scrub(claim=claim).errors) == ["D6"]


def test_rule_disabled_for_another_payer_still_runs(scoped):
    claim = claim_with_lines(scoped)
    other = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    _setting(scoped, "R6", payer=other.payer, is_enabled=False)
    assert "R6" in {f.rule_code for f in claim_scrub(claim=claim).errors}


def test_severity_override_turns_an_error_into_a_warning(scoped):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    _setting(scoped, "D6", payer=claim.payer, severity="warning")
    result = claim_scrub(claim=claim)
    assert [f.rule_code for f in result.errors] == ["R6"]
    assert sorted(f.rule_code for f in result.warnings) == ["D6", "P1"]
    assert bm.ScrubFinding.objects.get(claim=claim, rule_code="D6").severity == "warning"


def test_practice_wide_setting_applies_and_the_payer_row_wins(scoped):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    _setting(scoped, "P1", severity="error")  # practice-wide: missing minutes block
    result = claim_scrub(claim=claim)
    assert "P1" in {f.rule_code for f in result.errors}
    _setting(scoped, "P1", payer=claim.payer, is_enabled=True, severity="")  # payer row: rule default again
    result = claim_scrub(claim=claim)
    assert [f.rule_code for f in result.warnings] == ["P1"]
    _setting(scoped, "R6", is_enabled=False)
    assert "R6" not in {f.rule_code for f in claim_scrub(claim=claim).errors}


def test_config_feeds_the_rule(scoped):
    from datetime import timedelta

    claim = claim_with_lines(scoped)
    today = timezone.localdate() + timedelta(days=100)  # 103 of 180 days: under 80 %
    assert not claim_scrub(claim=claim, today=today).warnings
    _setting(scoped, "C8", payer=claim.payer, config={"warn_percent": 50})
    assert [f.rule_code for f in claim_scrub(claim=claim, today=today).warnings] == ["C8"]


def test_settings_of_another_practice_do_not_apply(scoped, practice_b):
    claim = claim_with_lines(scoped)
    _break_two_errors_one_warning(claim)
    _setting(practice_b, "R6", is_enabled=False)
    assert "R6" in {f.rule_code for f in claim_scrub(claim=claim).errors}


def test_registry_codes_fit_the_setting_column():
    field = bm.ScrubRuleSetting._meta.get_field("rule_code")
    assert all(len(code) <= field.max_length for code in RULES)


# --------------------------------------------------------------------------------------------
# Batches


def _claims(practice, n):
    claims = [claim_with_lines(practice) for _ in range(n)]
    bm.BillingProfile.objects.update(tin="12345678")  # one finding per claim
    # (SQLite splits a bulk insert past ~90 findings by its parameter limit; PostgreSQL does not)
    return claims


def _scrub_queries(practice, claims) -> int:
    with CaptureQueriesContext(connection) as ctx:
        claims_scrub_batch(practice_id=practice.pk, claim_ids=[c.pk for c in claims])
    return len(ctx.captured_queries)


def test_batch_queries_do_not_grow_with_the_number_of_claims(scoped):
    small = _claims(scoped, 5)
    large = _claims(scoped, 50)
    few, many = _scrub_queries(scoped, small), _scrub_queries(scoped, large)
    assert few == many, (few, many)
    assert many <= 25
    assert bm.ScrubFinding.objects.filter(claim__in=large, rule_code="R6").count() == 50


def test_batch_ignores_claims_of_another_practice(scoped, practice_b):
    mine = claim_with_lines(scoped)
    with practice_scope(practice_b):
        theirs = claim_with_lines(practice_b)
    results = claims_scrub_batch(practice_id=scoped.pk, claim_ids=[mine.pk, theirs.pk])
    assert set(results) == {mine.pk}
    with practice_scope(practice_b):
        theirs.refresh_from_db()
        assert theirs.scrubbed_at is None
        assert not bm.ClaimEvent.objects.filter(claim=theirs).exists()


def test_batch_twice_gives_the_same_findings(scoped):
    claims = _claims(scoped, 3)
    claims_scrub_batch(practice_id=scoped.pk, claim_ids=[c.pk for c in claims])
    first = sorted(bm.ScrubFinding.objects.values_list("claim_id", "rule_code", "severity", "message"))
    claims_scrub_batch(practice_id=scoped.pk, claim_ids=[c.pk for c in claims])
    assert sorted(bm.ScrubFinding.objects.values_list("claim_id", "rule_code", "severity", "message")) == first
    assert bm.Claim.objects.filter(pk__in=[c.pk for c in claims], error_count=1).count() == 3


def test_batch_task_splits_long_lists_and_scrubs_each_claim(scoped, monkeypatch):
    monkeypatch.setattr(tasks_scrub, "CHUNK", 2)
    claims = _claims(scoped, 5)
    claims_scrub_batch_task.delay(practice_id=scoped.pk, claim_ids=[c.pk for c in claims])  # eager in tests
    assert bm.Claim.objects.filter(pk__in=[c.pk for c in claims], scrubbed_at__isnull=False).count() == 5
    assert bm.ClaimEvent.objects.filter(claim__in=claims).count() == 5


def test_batch_task_records_who_asked(scoped, clinician_a):
    claim = claim_with_lines(scoped)
    claims_scrub_batch_task.delay(practice_id=scoped.pk, claim_ids=[claim.pk], by_id=clinician_a.pk)
    assert bm.ClaimEvent.objects.get(claim=claim).by == clinician_a
