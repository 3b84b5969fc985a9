"""response_record: the one path that scores and stores a questionnaire."""

from __future__ import annotations

import pytest
from django.db import transaction

from assessments import services
from assessments.models import Administration, MeasureSummary, Response, RiskAlert
from assessments.tests.factories import AdministrationFactory
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

PHQ9_MODERATE = [2, 2, 1, 2, 1, 1, 2, 1, 0]  # 12
PHQ9_ITEM9 = [0, 1, 0, 0, 0, 0, 0, 0, 1]  # 2, item 9 = "several days"


@pytest.fixture
def patient(practice_a):
    with practice_scope(practice_a):
        yield PatientFactory(practice=practice_a)


def test_scores_and_stores_everything_the_record_needs(patient):
    response = services.response_record(
        patient=patient, instrument_code="PHQ-9", answers=PHQ9_MODERATE, difficulty=1, mode="link"
    )
    response.refresh_from_db()
    assert (response.total, response.severity, response.positive_screen) == (12, "moderate", True)
    assert response.severity_label and response.instrument_version
    assert response.difficulty == 1 and response.answers == PHQ9_MODERATE
    assert response.billable_cpt == "96127" and response.is_complete
    assert RiskAlert.objects.count() == 0


def test_a_flag_opens_one_alert_for_the_primary_clinician_whatever_the_total(patient):
    response = services.response_record(patient=patient, instrument_code="PHQ-9", answers=PHQ9_ITEM9, mode="link")
    alert = RiskAlert.objects.get()
    assert response.total == 2 and response.severity == "none_minimal"
    assert alert.response == response and alert.clinician_id == patient.primary_clinician_id
    assert alert.status == RiskAlert.Status.OPEN and alert.flags == ["suicide_risk"]
    assert patient.legal_last_name not in alert.summary


def test_an_incomplete_form_has_no_total_but_still_raises_the_risk_flag(patient):
    answers = [None, 1, None, 0, 0, 0, 0, 0, 2]
    response = services.response_record(patient=patient, instrument_code="PHQ-9", answers=answers, mode="link")
    assert response.total is None and not response.is_complete and response.billable_cpt == ""
    assert RiskAlert.objects.filter(response=response).exists()
    assert not MeasureSummary.objects.exists()


@pytest.mark.parametrize(
    "answers, message",
    [([1] * 8, "9"), ([1] * 8 + [4], "Item 9"), ([1] * 8 + ["x"], "Item 9"), ([1] * 8 + [-1], "Item 9")],
)
def test_invalid_answers_name_the_problem_and_store_nothing(patient, answers, message):
    with pytest.raises(DomainError) as caught:
        services.response_record(patient=patient, instrument_code="PHQ-9", answers=answers, mode="link")
    assert caught.value.field == "answers" and message in caught.value.message
    assert Response.objects.count() == 0


def test_unknown_instrument_and_mode_are_refused(patient):
    with pytest.raises(DomainError):
        services.response_record(patient=patient, instrument_code="BDI-II", answers=[0], mode="link")
    with pytest.raises(DomainError):
        services.response_record(patient=patient, instrument_code="PHQ-2", answers=[0, 0], mode="telepathy")


def test_clinician_and_paper_entry_record_who(patient, practice_a):
    with pytest.raises(DomainError):
        services.response_record(patient=patient, instrument_code="PHQ-2", answers=[1, 1], mode="paper")
    response = services.response_record(
        patient=patient, instrument_code="PHQ-2", answers=[1, 1], mode="paper", by=patient.primary_clinician
    )
    assert response.administered_by == patient.primary_clinician


def test_completing_an_administration_twice_stores_one_response(patient, practice_a):
    administration = AdministrationFactory(practice=practice_a, patient=patient, instrument_code="PHQ-9")
    first = services.response_record(
        patient=patient, instrument_code="PHQ-9", answers=PHQ9_MODERATE, mode="link", administration=administration
    )
    second = services.response_record(
        patient=patient, instrument_code="PHQ-9", answers=[0] * 9, mode="link", administration=administration
    )
    assert first.pk == second.pk and Response.objects.count() == 1
    administration.refresh_from_db()
    assert administration.status == Administration.Status.COMPLETED and administration.completed_at


def test_an_expired_or_foreign_administration_is_refused(patient, practice_a):
    expired = AdministrationFactory(practice=practice_a, patient=patient, status=Administration.Status.EXPIRED)
    with pytest.raises(DomainError):
        services.response_record(
            patient=patient, instrument_code="PHQ-9", answers=PHQ9_MODERATE, mode="link", administration=expired
        )
    other = AdministrationFactory(practice=practice_a, instrument_code="PHQ-9")
    with pytest.raises(DomainError):
        services.response_record(
            patient=patient, instrument_code="PHQ-9", answers=PHQ9_MODERATE, mode="link", administration=other
        )
    assert Response.objects.count() == 0


def test_a_correction_is_a_new_response_and_replaces_the_old_one_in_the_summary(patient):
    clinician = patient.primary_clinician
    services.response_record(patient=patient, instrument_code="PHQ-9", answers=[3] * 9, mode="link")
    wrong = services.response_record(patient=patient, instrument_code="PHQ-9", answers=[2] * 9, mode="link")
    with pytest.raises(DomainError):  # a reason is required
        services.response_correct(original=wrong, by=clinician, answers=[0] * 9, reason=" ")
    fixed = services.response_correct(original=wrong, by=clinician, answers=[1] * 9, reason="Entered the wrong column")
    wrong.refresh_from_db()
    assert wrong.total == 18 and fixed.corrects == wrong and fixed.total == 9
    summary = MeasureSummary.objects.get(patient=patient, instrument_code="PHQ-9")
    assert (summary.baseline_total, summary.latest_total, summary.response_count) == (27, 9, 2)
    assert summary.reliable_improvement and summary.recovery and summary.response
    with pytest.raises(DomainError):  # only the newest in a chain can be corrected
        services.response_correct(original=wrong, by=clinician, answers=[0] * 9, reason="again")


def test_audit_c_uses_the_patients_sex_for_its_cut_off(patient):
    patient.sex_assigned_at_birth = "female"
    patient.save()
    response = services.response_record(patient=patient, instrument_code="AUDIT-C", answers=[1, 1, 1], mode="link")
    assert response.sex == "female" and response.positive_screen is True


def test_a_billable_response_signals_billing_on_commit(patient, django_capture_on_commit_callbacks):
    received = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    services.response_billable.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            response = services.response_record(patient=patient, instrument_code="GAD-7", answers=[1] * 7, mode="link")
        assert received == [
            {"signal": services.response_billable, "practice_id": patient.practice_id, "response_id": response.pk}
        ]
    finally:
        services.response_billable.disconnect(listener)


def test_settings_update_validates_and_needs_the_permission(practice_a):
    with practice_scope(practice_a):
        admin = MembershipFactory(practice=practice_a, role=Role.ADMIN)
        clinician = MembershipFactory(practice=practice_a, role=Role.CLINICIAN)
        with pytest.raises(DomainError):
            services.assessment_settings_update(by=clinician, escalate_after_minutes=60)
        with pytest.raises(DomainError) as caught:
            services.assessment_settings_update(by=admin, escalate_after_minutes=1)
        assert caught.value.field == "escalate_after_minutes"
        row = services.assessment_settings_update(by=admin, escalate_after_minutes=60, link_valid_hours=24)
        assert services.assessment_settings_get(practice_id=practice_a.pk) == row and row.escalate_after_minutes == 60
