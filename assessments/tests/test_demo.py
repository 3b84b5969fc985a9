"""The assessments demo (assessments/demo.py via seed_demo): idempotent, one open risk alert per
practice (Elena Petrova's patient at Cedar), trajectories that classify as intended, a protocol in
force, a realistic completion rate and a working demo link."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from assessments.demo import PROTOCOL_NAME, demo_questionnaire_token
from assessments.models import Administration, MeasureSummary, Protocol, ProtocolAssignment, Response, RiskAlert
from practice.models import Practice
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())
    return out.getvalue()


def _counts(practice: Practice) -> dict[str, int]:
    with practice_scope(practice):
        return {
            "responses": Response.objects.count(),
            "administrations": Administration.objects.count(),
            "alerts": RiskAlert.objects.count(),
            "protocols": Protocol.objects.count(),
            "assignments": ProtocolAssignment.objects.count(),
            "summaries": MeasureSummary.objects.count(),
        }


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once for the module (the full demo takes a while) inside a transaction that is rolled
    back afterwards, so no other test sees the demo; each test reads it."""
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield {"output": _seed()}
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def _cedar() -> Practice:
    return Practice.objects.get(slug="cedar")


def test_seeding_twice_changes_nothing(seeded):
    cedar = _cedar()
    before = _counts(cedar)
    assert before["responses"] >= 12 * 2 * 5  # 12 patients, PHQ-9 + GAD-7, several months
    _seed()
    assert _counts(cedar) == before


def test_exactly_one_open_alert_for_elena_petrovas_patient(seeded):
    for practice in Practice.objects.all():
        with practice_scope(practice):
            open_alerts = list(RiskAlert.objects.filter(status=RiskAlert.Status.OPEN).select_related("clinician__user"))
            assert len(open_alerts) == 1, practice.slug
            if practice.slug == "cedar":
                assert open_alerts[0].clinician.user.email == "elena.petrova@cedarbh.example"
                assert open_alerts[0].response.answers[8] == 1
                acknowledged = RiskAlert.objects.filter(status=RiskAlert.Status.ACKNOWLEDGED)
                assert acknowledged.count() == 2
                assert all(a.action and a.acknowledged_by_id for a in acknowledged)


def test_trajectories_classify_as_intended(seeded):
    with practice_scope(_cedar()):
        # the portal demo adds one patient who answered the intake PHQ-9 and GAD-7 once
        phq = list(MeasureSummary.objects.filter(instrument_code="PHQ-9", response_count__gt=1))
        gad = list(MeasureSummary.objects.filter(instrument_code="GAD-7", response_count__gt=1))
        assert len(phq) == 12 and len(gad) == 12
        improved = [s for s in phq if s.reliable_improvement]
        deteriorated = [s for s in phq if s.reliable_deterioration]
        flat = [s for s in phq if not s.reliable_improvement and not s.reliable_deterioration]
        assert len(improved) >= 5  # five improving (18 -> 6 and the like)
        assert len(deteriorated) == 2  # 9 -> 17 and 8 -> 16
        assert len(flat) >= 4  # three flat, two relapsed (the open-alert patient's latest may move one)
        assert any(s.recovery for s in improved)
        assert any(s.baseline_total == 18 and s.latest_total == 6 for s in phq)
        assert any(s.baseline_total == 9 and s.latest_total == 17 for s in phq)
        assert sum(1 for s in gad if s.reliable_improvement) >= 5
        # months of history, several points each
        assert all(s.response_count >= 5 for s in phq)


def test_modes_are_mixed_and_history_spans_months(seeded):
    with practice_scope(_cedar()):
        modes = set(Response.objects.values_list("mode", flat=True))
        assert {"link", "clinician", "paper"} <= modes
        first = Response.objects.order_by("completed_at").first().completed_at
        last = Response.objects.order_by("-completed_at").first().completed_at
        assert (last - first).days >= 90


def test_completion_rate_is_realistic_and_some_links_are_open(seeded):
    with practice_scope(_cedar()):
        done = Administration.objects.filter(status="completed").count()
        expired = Administration.objects.filter(status="expired").count()
        rate = done / (done + expired)
        assert 0.75 <= rate <= 0.9, rate
        assert Administration.objects.filter(status="sent").count() >= 3


def test_the_protocol_is_in_force_for_matching_patients(seeded):
    with practice_scope(_cedar()):
        protocol = Protocol.objects.get(name=PROTOCOL_NAME)
        assert protocol.is_active and protocol.auto_assign
        assert protocol.instrument_codes == ["PHQ-9", "GAD-7"]
        assert protocol.diagnosis_prefixes == ["F32", "F33", "F41"]
        assert protocol.every_n_sessions == 2 and protocol.channel == "email"
        assert ProtocolAssignment.objects.filter(protocol=protocol, status="active").count() >= 5


def test_the_demo_link_opens_the_questionnaire_and_is_printed(seeded):
    token = demo_questionnaire_token("cedar")
    assert f"/q/{token}/" in seeded["output"]
    page = Client().get(f"/q/{token}/")
    assert page.status_code == 200
    assert "Little interest or pleasure" in page.content.decode()
