"""Patient services: MRNs, duplicates, minors, consents, diagnoses, break-the-glass, sharing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_scopes import scopes_disabled

from clinical import access
from clinical.models import CommunicationConsent, Diagnosis, EmergencyAccess, MrnCounter, Patient
from clinical.selectors.patients import current_consents, parse_query
from clinical.services import patients as services
from clinical.tests import factories as cf
from practice.errors import DomainError
from practice.models import AccessEvent
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _adult(**kw):
    fields = {
        "legal_first_name": "Maya",
        "legal_last_name": "Rivera",
        "date_of_birth": date(1988, 3, 14),
        "phone": "(503) 555-0142",
    }
    return fields | kw


@pytest.fixture
def front_desk_a(make_member, practice_a):
    return make_member(practice_a, Role.FRONT_DESK, email="desk@riverside.test")


@pytest.fixture
def owner_a(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="owner@riverside.test")


@pytest.fixture
def admin_a(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="admin@riverside.test")


# --- MRN and derived columns -----------------------------------------------------------------


def test_mrns_are_sequential_per_practice_and_formatted(front_desk_a, practice_b, make_member):
    desk_b = make_member(practice_b, Role.FRONT_DESK)
    with practice_scope(front_desk_a.practice):
        first = services.patient_create(by=front_desk_a, **_adult())
        second = services.patient_create(by=front_desk_a, **_adult(legal_first_name="Jon"))
    with practice_scope(practice_b):
        other = services.patient_create(by=desk_b, **_adult())
    assert (first.mrn, second.mrn) == ("P000001", "P000002")
    assert other.mrn == "P000001"  # each practice has its own sequence
    with scopes_disabled():
        assert MrnCounter.all_objects.get(practice=front_desk_a.practice).next_number == 3


def test_mrn_skips_a_number_already_taken(front_desk_a, practice_a):
    with practice_scope(practice_a):
        cf.PatientFactory(practice=practice_a, mrn="P000001")
        patient = services.patient_create(by=front_desk_a, **_adult())
    assert patient.mrn == "P000002"


def test_create_fills_phone_digits_and_search_name(front_desk_a, practice_a):
    with practice_scope(practice_a):
        patient = services.patient_create(
            by=front_desk_a, **_adult(legal_middle_name="Lucia", preferred_name="Lu", phone="+1 (503) 555-0142")
        )
    assert patient.phone_digits == "5035550142"
    assert patient.search_name == "maya lucia rivera lu"


def test_update_rederives_and_stamps_a_status_change(front_desk_a, practice_a):
    with practice_scope(practice_a):
        patient = services.patient_create(by=front_desk_a, **_adult())
        stamped = patient.status_changed_at
        patient = services.patient_update(patient=patient, by=front_desk_a, phone="503.555.9999", preferred_name="M")
        assert patient.status_changed_at == stamped  # no status change, no stamp
        assert patient.phone_digits == "5035559999"
        assert patient.search_name.endswith(" m")
        patient = services.patient_update(patient=patient, by=front_desk_a, status=Patient.Status.DISCHARGED)
    assert patient.status == "discharged"
    assert patient.status_changed_at > stamped


def test_biller_cannot_create_patients(make_member, practice_a):
    biller = make_member(practice_a, Role.BILLER)
    with practice_scope(practice_a), pytest.raises(DomainError):
        services.patient_create(by=biller, **_adult())


# --- Duplicates and minors -------------------------------------------------------------------


def test_duplicate_name_and_dob_is_refused_with_the_matches(front_desk_a, practice_a):
    with practice_scope(practice_a):
        existing = services.patient_create(by=front_desk_a, **_adult())
        with pytest.raises(services.DuplicatePatient) as caught:
            services.patient_create(by=front_desk_a, **_adult(legal_first_name="MAYA", legal_last_name="rivera "))
        assert [p.pk for p in caught.value.matches] == [existing.pk]
        assert Patient.objects.count() == 1


def test_duplicate_can_be_created_anyway(front_desk_a, practice_a):
    with practice_scope(practice_a):
        services.patient_create(by=front_desk_a, **_adult())
        again = services.patient_create(by=front_desk_a, allow_duplicate=True, **_adult())
        assert again.mrn == "P000002"
        assert Patient.objects.count() == 2


def test_same_name_other_birthday_or_other_practice_is_not_a_duplicate(front_desk_a, practice_a, practice_b):
    with practice_scope(practice_b):
        cf.PatientFactory(practice=practice_b, legal_first_name="Maya", legal_last_name="Rivera",
                          date_of_birth=date(1988, 3, 14))  # fmt: skip
    with practice_scope(practice_a):
        services.patient_create(by=front_desk_a, **_adult())
        services.patient_create(by=front_desk_a, **_adult(date_of_birth=date(1990, 1, 1)))
        assert Patient.objects.count() == 2


def test_a_minor_needs_a_guardian(front_desk_a, practice_a):
    teen = _adult(date_of_birth=timezone.localdate() - timedelta(days=365 * 15))
    with practice_scope(practice_a):
        with pytest.raises(DomainError) as caught:
            services.patient_create(by=front_desk_a, **teen)
        assert caught.value.field == "guardian_name"
        patient = services.patient_create(by=front_desk_a, **teen, guardian_name="Ana Rivera")
        assert patient.is_minor
        with pytest.raises(DomainError):
            services.patient_update(patient=patient, by=front_desk_a, guardian_name="")


def test_primary_clinician_must_be_an_active_clinician_of_the_practice(
    front_desk_a, practice_a, practice_b, make_member
):
    biller = make_member(practice_a, Role.BILLER)
    other_practice = make_member(practice_b, Role.CLINICIAN)
    with practice_scope(practice_a):
        for bad in (biller, other_practice):
            with pytest.raises(DomainError) as caught:
                services.patient_create(by=front_desk_a, **_adult(primary_clinician=bad))
            assert caught.value.field == "primary_clinician"


# --- Consents --------------------------------------------------------------------------------


def test_consent_history_is_kept_and_newest_row_is_current(front_desk_a, practice_a):
    with practice_scope(practice_a):
        patient = services.patient_create(by=front_desk_a, **_adult())
        services.consent_record(patient=patient, by=front_desk_a, channel="sms", is_granted=True)
        services.consent_record(patient=patient, by=front_desk_a, channel="email", is_granted=True)
        services.consent_record(patient=patient, by=front_desk_a, channel="sms", is_granted=False, note="STOP")
        current = current_consents(patient)
        assert CommunicationConsent.objects.filter(patient=patient).count() == 3
    assert current["sms"].is_granted is False and current["sms"].note == "STOP"
    assert current["email"].is_granted is True
    assert current["portal"] is None


def test_consent_for_unknown_channel_is_refused(front_desk_a, practice_a):
    with practice_scope(practice_a):
        patient = services.patient_create(by=front_desk_a, **_adult())
        with pytest.raises(DomainError):
            services.consent_record(patient=patient, by=front_desk_a, channel="fax", is_granted=True)


# --- Diagnoses -------------------------------------------------------------------------------


@pytest.fixture
def my_patient(clinician_a, practice_a):
    with practice_scope(practice_a):
        return cf.PatientFactory(practice=practice_a, primary_clinician=clinician_a)


def test_only_billable_codes_can_be_added(clinician_a, my_patient, practice_a):
    with practice_scope(practice_a):
        with pytest.raises(DomainError) as caught:
            services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41")  # a category
        assert "billable" in caught.value.message
        with pytest.raises(DomainError):
            services.diagnosis_add(patient=my_patient, by=clinician_a, code="X99.9")
        dx = services.diagnosis_add(patient=my_patient, by=clinician_a, code="f41.1")
        assert dx.code.code == "F41.1"


def test_first_diagnosis_is_primary_and_a_new_primary_demotes_the_old(clinician_a, my_patient, practice_a):
    with practice_scope(practice_a):
        gad = services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41.1")
        mdd = services.diagnosis_add(patient=my_patient, by=clinician_a, code="F32.1")
        assert gad.is_primary and not mdd.is_primary and mdd.rank == 2
        ptsd = services.diagnosis_add(patient=my_patient, by=clinician_a, code="F43.10", is_primary=True)
        primaries = list(Diagnosis.objects.filter(patient=my_patient, is_primary=True, resolved_on__isnull=True))
        assert primaries == [ptsd]
        services.diagnosis_make_primary(diagnosis=mdd, by=clinician_a)
        primaries = list(Diagnosis.objects.filter(patient=my_patient, is_primary=True, resolved_on__isnull=True))
        assert primaries == [mdd]


def test_the_same_code_cannot_be_active_twice(clinician_a, my_patient, practice_a):
    with practice_scope(practice_a):
        dx = services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41.1")
        with pytest.raises(DomainError):
            services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41.1")
        services.diagnosis_resolve(diagnosis=dx, by=clinician_a)
        services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41.1")  # a recurrence


def test_resolved_diagnosis_cannot_be_made_primary_or_resolved_again(clinician_a, my_patient, practice_a):
    with practice_scope(practice_a):
        dx = services.diagnosis_add(patient=my_patient, by=clinician_a, code="F41.1")
        dx = services.diagnosis_resolve(diagnosis=dx, by=clinician_a)
        assert dx.resolved_on == timezone.localdate() and not dx.is_primary
        with pytest.raises(DomainError):
            services.diagnosis_make_primary(diagnosis=dx, by=clinician_a)
        with pytest.raises(DomainError):
            services.diagnosis_resolve(diagnosis=dx, by=clinician_a)


def test_diagnosis_outside_caseload_or_by_front_desk_is_refused(make_member, my_patient, practice_a, front_desk_a):
    stranger = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        for who in (stranger, front_desk_a):
            with pytest.raises(DomainError):
                services.diagnosis_add(patient=my_patient, by=who, code="F41.1")
        assert not Diagnosis.objects.exists()


# --- Break-the-glass -------------------------------------------------------------------------


def test_break_glass_needs_a_reason_of_twenty_characters(make_member, my_patient, practice_a):
    covering = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        with pytest.raises(DomainError) as caught:
            services.emergency_access_open(patient=my_patient, by=covering, reason="  crisis call      ")
        assert caught.value.field == "reason"
        assert not EmergencyAccess.objects.exists()


def test_break_glass_opens_the_chart_for_four_hours_and_is_audited_and_emailed(
    make_member, my_patient, practice_a, owner_a, admin_a, django_capture_on_commit_callbacks
):
    covering = make_member(practice_a, Role.CLINICIAN)
    reason = "On call tonight; patient phoned the crisis line."
    with practice_scope(practice_a):
        assert not access.can_view_clinical(covering, my_patient)
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            grant = services.emergency_access_open(patient=my_patient, by=covering, reason=reason)
        assert access.can_view_clinical(covering, my_patient)
        assert grant.expires_at - grant.created_at == pytest.approx(timedelta(hours=4), abs=timedelta(seconds=5))
        event = AccessEvent.objects.get(action="break_glass")
    assert event.user_id == covering.user_id and event.reason == reason
    assert event.patient_id == my_patient.public_id
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["admin@riverside.test", "owner@riverside.test"]
    body = message.subject + message.body
    assert "break-the-glass log" in body
    for phi in (my_patient.legal_last_name, my_patient.legal_first_name, my_patient.mrn, reason):
        assert phi not in body


def test_break_glass_notify_task_is_safe_to_run_twice(make_member, my_patient, practice_a, owner_a):
    from clinical.tasks_patients import emergency_access_notify_task

    covering = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        grant = services.emergency_access_open(patient=my_patient, by=covering, reason="x" * 25)
    mail.outbox.clear()
    emergency_access_notify_task.delay(practice_id=practice_a.pk, emergency_access_id=grant.pk)
    emergency_access_notify_task.delay(practice_id=practice_a.pk, emergency_access_id=grant.pk)
    assert len(mail.outbox) == 1


def test_break_glass_is_refused_without_the_permission_or_with_access_already(
    make_member, my_patient, practice_a, clinician_a, front_desk_a
):
    with practice_scope(practice_a):
        with pytest.raises(DomainError):
            services.emergency_access_open(patient=my_patient, by=front_desk_a, reason="x" * 30)
        with pytest.raises(DomainError):
            services.emergency_access_open(patient=my_patient, by=clinician_a, reason="x" * 30)
        assert not EmergencyAccess.objects.exists()


def test_break_glass_access_expires(make_member, my_patient, practice_a):
    covering = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        grant = services.emergency_access_open(patient=my_patient, by=covering, reason="x" * 25)
        EmergencyAccess.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
        assert not access.can_view_clinical(covering, my_patient)


def test_review_marks_the_access_reviewed(make_member, my_patient, practice_a, admin_a):
    covering = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        grant = services.emergency_access_open(patient=my_patient, by=covering, reason="x" * 25)
        grant = services.emergency_access_review(emergency_access=grant, by=admin_a)
        assert grant.reviewed_by == admin_a and grant.reviewed_at is not None
        with pytest.raises(DomainError):
            services.emergency_access_review(emergency_access=grant, by=covering)


# --- Sharing ---------------------------------------------------------------------------------


def test_sharing_puts_the_patient_on_the_colleagues_caseload(make_member, my_patient, practice_a, clinician_a):
    colleague = make_member(practice_a, Role.CLINICIAN)
    with practice_scope(practice_a):
        assert not access.can_view_clinical(colleague, my_patient)
        services.patient_share(patient=my_patient, by=clinician_a, to_membership=colleague)
        assert access.can_view_clinical(colleague, my_patient)


def test_sharing_with_front_desk_or_another_practice_is_refused(
    make_member, my_patient, practice_a, practice_b, clinician_a, front_desk_a
):
    other = make_member(practice_b, Role.CLINICIAN)
    with practice_scope(practice_a):
        for to in (front_desk_a, other, clinician_a):
            with pytest.raises(DomainError):
                services.patient_share(patient=my_patient, by=clinician_a, to_membership=to)


# --- Search parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("P000123", "mrn"),
        ("p000123", "mrn"),
        ("03/14/1988", "dob"),
        ("1988-03-14", "dob"),
        ("0142", "phone"),
        ("(503) 555-0142", "phone"),
        ("Riv", "name"),
        ("maya riv", "name"),
        ("123", "name"),
        ("", "all"),
    ],
)
def test_search_query_is_classified(query, kind):
    assert parse_query(query).kind == kind
