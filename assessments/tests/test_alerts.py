"""Risk alerts: opening from a flagged response (with a PHI-free email), acknowledging, escalation
(levels, timing, the conditional update), who may act, the badge count and the selectors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import RequestFactory
from django.utils import timezone

from assessments import selectors_alerts as sel
from assessments.context_processors import risk_alerts as risk_alerts_context
from assessments.models import RiskAlert
from assessments.services import response_record
from assessments.services_alerts import (
    can_act_on,
    risk_alert_acknowledge,
    risk_alert_notify,
    risk_alerts_escalate_due,
)
from assessments.tests.factories import AssessmentSettingsFactory, ResponseFactory, RiskAlertFactory
from clinical.tests.factories import PatientFactory
from practice.errors import DomainError
from practice.permissions import Role
from practice.scoping import practice_scope, scopes_disabled

pytestmark = pytest.mark.django_db

PHQ9_ITEM9 = [1, 1, 1, 1, 1, 1, 1, 1, 2]  # item 9 "more than half the days"
PHQ9_CLEAN = [1, 1, 1, 1, 1, 1, 1, 1, 0]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()


@pytest.fixture
def scope_a(practice_a):
    with practice_scope(practice_a):
        yield practice_a


@pytest.fixture
def supervisor(make_member, practice_a):
    return make_member(practice_a, Role.SUPERVISOR, email="sam@riverside.test")


@pytest.fixture
def clinician(make_member, practice_a, supervisor):
    return make_member(practice_a, Role.CLINICIAN, email="cara@riverside.test", supervisor=supervisor)


@pytest.fixture
def admin(make_member, practice_a):
    return make_member(practice_a, Role.ADMIN, email="ada@riverside.test")


@pytest.fixture
def owner(make_member, practice_a):
    return make_member(practice_a, Role.OWNER, email="olive@riverside.test")


@pytest.fixture
def patient(practice_a, clinician):
    with scopes_disabled():
        return PatientFactory(
            practice=practice_a, primary_clinician=clinician, legal_first_name="Zelda", legal_last_name="Quill"
        )


def _record(patient, answers, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return response_record(patient=patient, instrument_code="PHQ-9", answers=answers, mode="link")


# --- Opening -------------------------------------------------------------------------------------


def test_a_flagged_phq9_opens_one_alert_for_the_primary_clinician_and_emails_without_phi(
    scope_a, patient, clinician, django_capture_on_commit_callbacks
):
    response = _record(patient, PHQ9_ITEM9, django_capture_on_commit_callbacks)
    alert = RiskAlert.objects.get(response=response)
    assert alert.clinician == clinician
    assert alert.escalation_level == 0
    assert alert.status == RiskAlert.Status.OPEN
    assert "suicide_risk" in alert.flags
    assert alert.summary.startswith("PHQ-9 item 9 answered")
    assert "Zelda" not in alert.summary and "Quill" not in alert.summary
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [clinician.user.email]
    assert "A questionnaire response needs your review in Tend" in email.body
    assert f"/p/{scope_a.slug}/alerts/{alert.public_id}/" in email.body
    for phi in ("Zelda", "Quill", patient.mrn, "PHQ", "item 9", "suicid"):
        assert phi not in email.body and phi not in email.subject


def test_an_unflagged_response_opens_nothing(scope_a, patient, django_capture_on_commit_callbacks):
    _record(patient, PHQ9_CLEAN, django_capture_on_commit_callbacks)
    assert RiskAlert.objects.count() == 0
    assert mail.outbox == []


def test_opening_is_idempotent_per_response(scope_a, patient, django_capture_on_commit_callbacks):
    from assessments.services_alerts import risk_alert_open_for_response

    response = _record(patient, PHQ9_ITEM9, django_capture_on_commit_callbacks)
    again = risk_alert_open_for_response(response=response)
    assert RiskAlert.objects.filter(response=response).count() == 1
    assert again.pk == RiskAlert.objects.get(response=response).pk


def test_a_patient_without_a_primary_clinician_goes_straight_to_the_owners_and_admins(
    scope_a, practice_a, admin, owner, django_capture_on_commit_callbacks
):
    with scopes_disabled():
        orphan = PatientFactory(practice=practice_a, primary_clinician=None)
    response = _record(orphan, PHQ9_ITEM9, django_capture_on_commit_callbacks)
    alert = RiskAlert.objects.get(response=response)
    assert alert.clinician is None
    assert alert.escalation_level == 2
    assert sorted(mail.outbox[0].to) == sorted([admin.user.email, owner.user.email])


def test_the_notification_is_sent_once_even_if_the_task_runs_twice(scope_a, patient):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    assert risk_alert_notify(alert_id=alert.pk, level=0) == 1
    assert risk_alert_notify(alert_id=alert.pk, level=0) == 0
    assert len(mail.outbox) == 1


# --- Acknowledging -------------------------------------------------------------------------------


def test_the_clinician_acknowledges_with_an_action(scope_a, patient, clinician):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    done = risk_alert_acknowledge(alert=alert, by=clinician, action=RiskAlert.Action.SAFETY_PLAN_REVIEWED)
    assert done.status == RiskAlert.Status.ACKNOWLEDGED
    assert done.acknowledged_by == clinician
    assert done.acknowledged_at is not None
    assert done.action == "safety_plan"


def test_not_significant_needs_a_note(scope_a, patient, clinician):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=clinician, action=RiskAlert.Action.NOT_SIGNIFICANT, note="  ")
    assert exc.value.field == "note"
    done = risk_alert_acknowledge(
        alert=alert, by=clinician, action=RiskAlert.Action.NOT_SIGNIFICANT, note="Answered about a past episode."
    )
    assert done.action_note == "Answered about a past episode."


def test_an_unknown_action_and_a_second_acknowledgement_are_refused(scope_a, patient, clinician, supervisor):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=clinician, action="shrug")
    assert exc.value.field == "action"
    risk_alert_acknowledge(alert=alert, by=clinician, action=RiskAlert.Action.CONTACTED_PATIENT)
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=supervisor, action=RiskAlert.Action.CRISIS_PROTOCOL)
    assert exc.value.code == "acknowledged"
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician


def test_who_may_acknowledge(scope_a, practice_a, patient, clinician, supervisor, admin, owner, make_member):
    other = make_member(practice_a, Role.CLINICIAN, email="oscar@riverside.test")
    other_supervisor = make_member(practice_a, Role.SUPERVISOR, email="opal@riverside.test")
    front = make_member(practice_a, Role.FRONT_DESK, email="fran@riverside.test")
    biller = make_member(practice_a, Role.BILLER, email="bill@riverside.test")
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    assert can_act_on(clinician, alert)
    assert can_act_on(supervisor, alert)  # the clinician's supervisor
    assert can_act_on(admin, alert) and can_act_on(owner, alert)
    for nobody in (other, other_supervisor, front, biller):
        assert not can_act_on(nobody, alert)
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=other, action=RiskAlert.Action.CONTACTED_PATIENT)
    assert exc.value.code == "forbidden"
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=front, action=RiskAlert.Action.CONTACTED_PATIENT)
    assert exc.value.code == "forbidden"
    # the escalation target may act even when not the clinician's supervisor
    RiskAlert.objects.filter(pk=alert.pk).update(escalation_level=1, escalated_to=other_supervisor)
    alert.refresh_from_db()
    assert can_act_on(other_supervisor, alert)
    assert risk_alert_acknowledge(alert=alert, by=other_supervisor, action="crisis").status == "acknowledged"


def test_another_practices_member_cannot_acknowledge(scope_a, patient, clinician_b):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    with pytest.raises(DomainError) as exc:
        risk_alert_acknowledge(alert=alert, by=clinician_b, action=RiskAlert.Action.CONTACTED_PATIENT)
    assert exc.value.code == "not_found"


def test_acknowledging_is_in_the_change_log(scope_a, patient, clinician):
    from auditlog.models import LogEntry

    from practice.models import AuditLogEntry

    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    risk_alert_acknowledge(alert=alert, by=clinician, action=RiskAlert.Action.CONTACTED_PATIENT, note="Called.")
    with scopes_disabled():
        entry = AuditLogEntry.objects.get_for_object(alert).filter(action=LogEntry.Action.UPDATE).latest("timestamp")
    assert "status" in entry.changes_dict and "action" in entry.changes_dict
    assert "Called." not in str(entry.changes)  # the note is masked


# --- Escalation ----------------------------------------------------------------------------------


def _aged(alert, minutes):
    RiskAlert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


def test_escalation_goes_to_the_supervisor_then_to_the_owners_and_admins(
    scope_a, patient, clinician, supervisor, admin, owner, django_capture_on_commit_callbacks
):
    AssessmentSettingsFactory(practice=scope_a, escalate_after_minutes=60)
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    _aged(alert, 59)
    assert risk_alerts_escalate_due() == 0
    _aged(alert, 61)
    with django_capture_on_commit_callbacks(execute=True):
        assert risk_alerts_escalate_due() == 1
    alert.refresh_from_db()
    assert (alert.escalation_level, alert.escalated_to) == (1, supervisor)
    assert mail.outbox[-1].to == [supervisor.user.email]
    assert "escalated" in mail.outbox[-1].body
    assert patient.legal_last_name not in mail.outbox[-1].body
    # not yet another period at level 1
    assert risk_alerts_escalate_due(now=alert.escalated_at + timedelta(minutes=59)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert risk_alerts_escalate_due(now=alert.escalated_at + timedelta(minutes=61)) == 1
    alert.refresh_from_db()
    assert alert.escalation_level == 2
    assert sorted(mail.outbox[-1].to) == sorted([admin.user.email, owner.user.email])
    # nothing above level 2
    assert risk_alerts_escalate_due(now=timezone.now() + timedelta(days=3)) == 0


def test_without_an_active_supervisor_the_alert_goes_straight_to_level_2(
    scope_a, practice_a, make_member, admin, django_capture_on_commit_callbacks
):
    lone = make_member(practice_a, Role.CLINICIAN, email="lone@riverside.test")
    with scopes_disabled():
        patient = PatientFactory(practice=practice_a, primary_clinician=lone)
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    with django_capture_on_commit_callbacks(execute=True):
        assert risk_alerts_escalate_due(now=timezone.now() + timedelta(minutes=241)) == 1  # default 240
    alert.refresh_from_db()
    assert alert.escalation_level == 2 and alert.escalated_to is None
    assert mail.outbox[-1].to == [admin.user.email]


def test_acknowledged_alerts_never_escalate(scope_a, patient, clinician):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    risk_alert_acknowledge(alert=alert, by=clinician, action="contacted")
    assert risk_alerts_escalate_due(now=timezone.now() + timedelta(days=2)) == 0
    alert.refresh_from_db()
    assert alert.escalation_level == 0


def test_a_second_run_does_not_escalate_again(scope_a, patient, supervisor, django_capture_on_commit_callbacks):
    alert = RiskAlertFactory(practice=scope_a, patient=patient)
    later = timezone.now() + timedelta(minutes=250)
    with django_capture_on_commit_callbacks(execute=True):
        assert risk_alerts_escalate_due(now=later) == 1
        assert risk_alerts_escalate_due(now=later) == 0
    alert.refresh_from_db()
    assert alert.escalation_level == 1
    assert len([m for m in mail.outbox if m.to == [supervisor.user.email]]) == 1


def test_escalation_stays_in_its_practice(scope_a, practice_b, patient, clinician_b):
    with scopes_disabled():
        other = RiskAlertFactory(practice=practice_b, patient=PatientFactory(practice=practice_b))
    RiskAlertFactory(practice=scope_a, patient=patient)
    assert risk_alerts_escalate_due(now=timezone.now() + timedelta(minutes=250)) == 1
    with scopes_disabled():
        other.refresh_from_db()
    assert other.escalation_level == 0


def test_the_beat_task_fans_out_to_practices_with_open_alerts(practice_a, practice_b, clinician, supervisor):
    from assessments.tasks_alerts import risk_alerts_escalate_task

    with scopes_disabled():
        patient = PatientFactory(practice=practice_a, primary_clinician=clinician)
        alert = RiskAlertFactory(practice=practice_a, patient=patient)
        RiskAlert.all_objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(hours=5))
    assert risk_alerts_escalate_task.delay().get() == 1  # eager in tests; practice_b has none
    with scopes_disabled():
        alert.refresh_from_db()
    assert alert.escalation_level == 1


# --- Badge and selectors -------------------------------------------------------------------------


def _ctx(member, django_assert_num_queries, expected_queries):
    request = RequestFactory().get("/")
    request.membership = member
    with django_assert_num_queries(expected_queries):
        return risk_alerts_context(request)["risk_alerts_open"]


def test_badge_counts_what_the_member_must_act_on_in_one_query(
    scope_a, practice_a, patient, clinician, supervisor, admin, make_member, django_assert_num_queries
):
    front = make_member(practice_a, Role.FRONT_DESK, email="fran@riverside.test")
    RiskAlertFactory(practice=scope_a, patient=patient)
    RiskAlertFactory(practice=scope_a, patient=patient)
    done = RiskAlertFactory(practice=scope_a, patient=patient)
    risk_alert_acknowledge(alert=done, by=clinician, action="contacted")
    assert _ctx(clinician, django_assert_num_queries, 1) == 2
    assert _ctx(supervisor, django_assert_num_queries, 1) == 0  # not escalated yet
    assert _ctx(admin, django_assert_num_queries, 1) == 0
    assert _ctx(front, django_assert_num_queries, 0) == 0  # no perm: no query
    RiskAlert.objects.filter(status="open").update(escalation_level=1, escalated_to=supervisor)
    assert _ctx(supervisor, django_assert_num_queries, 1) == 2
    RiskAlert.objects.filter(status="open").update(escalation_level=2)
    assert _ctx(admin, django_assert_num_queries, 1) == 2


def test_list_visibility(scope_a, practice_a, patient, clinician, supervisor, admin, make_member):
    other = make_member(practice_a, Role.CLINICIAN, email="oscar@riverside.test")
    with scopes_disabled():
        others_patient = PatientFactory(practice=practice_a, primary_clinician=other)
    mine = RiskAlertFactory(practice=scope_a, patient=patient)
    theirs = RiskAlertFactory(practice=scope_a, patient=others_patient)
    assert [a.pk for a in sel.risk_alert_list(member=clinician)] == [mine.pk]
    assert [a.pk for a in sel.risk_alert_list(member=supervisor)] == [mine.pk]  # supervisee's
    assert {a.pk for a in sel.risk_alert_list(member=admin)} == {mine.pk, theirs.pk}
    assert [a.pk for a in sel.risk_alert_list(member=other)] == [theirs.pk]


def test_list_puts_open_first_then_recent_acknowledged(scope_a, patient, clinician):
    old_open = RiskAlertFactory(practice=scope_a, patient=patient)
    new_open = RiskAlertFactory(practice=scope_a, patient=patient)
    done = RiskAlertFactory(practice=scope_a, patient=patient)
    risk_alert_acknowledge(alert=done, by=clinician, action="contacted")
    stale = RiskAlertFactory(practice=scope_a, patient=patient)
    risk_alert_acknowledge(alert=stale, by=clinician, action="contacted")
    RiskAlert.objects.filter(pk=stale.pk).update(acknowledged_at=timezone.now() - timedelta(days=45))
    RiskAlert.objects.filter(pk=old_open.pk).update(created_at=timezone.now() - timedelta(hours=3))
    rows = sel.risk_alert_list(member=clinician)
    assert [a.pk for a in rows] == [old_open.pk, new_open.pk, done.pk]
    assert [a.pk for a in sel.risk_alert_list(member=clinician, status="acknowledged")] == [done.pk]
    assert all(a.needs_me for a in rows if a.status == "open")


def test_dashboard_card_counts(scope_a, patient, clinician, admin, make_member, practice_a):
    front = make_member(practice_a, Role.FRONT_DESK, email="fran@riverside.test")
    a = RiskAlertFactory(practice=scope_a, patient=patient)
    RiskAlertFactory(practice=scope_a, patient=patient)
    RiskAlert.objects.filter(pk=a.pk).update(escalation_level=1, created_at=timezone.now() - timedelta(hours=6))
    card = sel.dashboard_card(admin)
    assert card["open"] == 2 and card["escalated"] == 1
    assert card["oldest_waiting"] >= timedelta(hours=6)
    assert sel.dashboard_card(front) is None


def test_factories_response_is_ours(scope_a, patient):
    # guards the fixtures above: the default factory response is unflagged
    assert ResponseFactory(practice=scope_a, patient=patient).flags == []
