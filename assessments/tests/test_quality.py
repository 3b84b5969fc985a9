"""Value-based quality measures (HEDIS DSF-E / DMS-E / DRR-E, CMS159 in spirit) against a small
hand-built data set for the calendar year 2025."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django_scopes import scopes_disabled

from assessments.quality import ALL_PAYERS, parse_period, quality_report
from assessments.tests import factories as af
from clinical.models import DiagnosisCode
from clinical.tests import factories as cf
from practice.permissions import Role
from practice.scoping import practice_scope
from practice.tests.factories import sign_in


def at(y, m, d):
    return datetime(y, m, d, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(practice_a, practice_b, make_member):
    c = make_member(practice_a, Role.CLINICIAN)
    with scopes_disabled():

        def patient(last, dob=date(1980, 1, 1)):
            return cf.PatientFactory(practice=practice_a, primary_clinician=c, legal_last_name=last, date_of_birth=dob)

        def dx(p, code):
            cf.DiagnosisFactory(patient=p, code=DiagnosisCode.objects.get(code=code))

        def note(p, day):
            cf.ProgressNoteFactory(
                patient=p, status="signed", signed_at=at(day.year, day.month, day.day), session_on=day
            )

        def phq(p, when, total, code="PHQ-9", positive=None):
            af.ResponseFactory(practice=practice_a, patient=p, instrument_code=code, total=total,
                               positive_screen=(total >= 10) if positive is None else positive, completed_at=when)  # fmt: skip

        a = patient("Adams")  # visit + positive PHQ-9 + same-day signed note; F32.1
        dx(a, "F32.1")
        note(a, date(2025, 3, 10))
        phq(a, at(2025, 3, 10), 12)
        b = patient("Baker")  # visit, never screened; F33.0
        dx(b, "F33.0")
        note(b, date(2025, 5, 1))
        child = patient("Child", dob=date(2015, 6, 1))  # under 12: outside the screening measure
        note(child, date(2025, 4, 1))
        d = patient("Diaz")  # visit 05-25, positive PHQ-2 06-01, no follow-up within 30 days
        note(d, date(2025, 5, 25))
        phq(d, at(2025, 6, 1), 4, code="PHQ-2", positive=True)
        e = patient("Evans")  # index 16 on 2024-03-01; 4 on 2025-02-20 (12-month window): response + remission
        dx(e, "F32.1")
        phq(e, at(2024, 3, 1), 16)
        phq(e, at(2025, 2, 20), 4)
        f = patient("Fox")  # index 14 on 2024-09-01; 8 on 2025-03-10 (6-month window): neither; no 12-month PHQ-9
        dx(f, "F33.1")
        phq(f, at(2024, 9, 1), 14)
        phq(f, at(2025, 3, 10), 8, positive=False)
        # another practice's patient never counts
        theirs = cf.PatientFactory(practice=practice_b)
        cf.ProgressNoteFactory(patient=theirs, status="signed", signed_at=at(2025, 3, 1), session_on=date(2025, 3, 1),
                               author=make_member(practice_b, Role.CLINICIAN))  # fmt: skip
    return {"practice": practice_a, "clinician": c}


def _report(world, **kw):
    with practice_scope(world["practice"]):
        return quality_report(start=date(2025, 1, 1), end=date(2025, 12, 31), **kw)


def _names(measure):
    return {p.name.split()[-1]: p.met for p in measure.patients}


def test_measures_match_the_hand_computed_set(world):
    r = _report(world)
    got = {m.key: (m.numerator, m.denominator) for m in r.measures}
    assert got == {
        "depression_screening": (2, 3),  # Adams, Diaz screened; Baker not; Child under 12
        "screening_follow_up": (1, 2),  # Adams (signed note the same day); Diaz none in 30 days
        "phq9_utilization": (1, 2),  # Adams yes, Baker no (Evans and Fox had no visit)
        "response_6m": (0, 2),  # Fox 14 -> 8 (not <= 7); Adams (index 2025-03-10) has no follow-up yet
        "remission_6m": (0, 2),
        "response_12m": (1, 2),  # Evans 16 -> 4; Fox has no PHQ-9 within 60 days of 2025-09-01
        "remission_12m": (1, 2),
    }
    assert _names(r.measure("depression_screening")) == {"Adams": True, "Diaz": True, "Baker": False}
    assert _names(r.measure("response_12m")) == {"Evans": True, "Fox": False}
    assert r.measure("phq9_utilization").rate == pytest.approx(50.0)
    assert r.measure("depression_screening").by_payer() == [(ALL_PAYERS, 2, 3, pytest.approx(200 / 3))]
    assert all(p.mrn and p.public_id for m in r.measures for p in m.patients)


def test_a_quarter_narrows_the_period(world):
    with practice_scope(world["practice"]):
        q2 = quality_report(start=date(2025, 4, 1), end=date(2025, 6, 30))
    assert (q2.measure("depression_screening").numerator, q2.measure("depression_screening").denominator) == (1, 2)


def test_period_parsing():
    assert parse_period("2025") == (date(2025, 1, 1), date(2025, 12, 31))
    assert parse_period("2025-Q4") == (date(2025, 10, 1), date(2025, 12, 31))
    assert parse_period("2025-Q1") == (date(2025, 1, 1), date(2025, 3, 31))
    assert parse_period("2025-Q5") is None and parse_period("nope") is None


def test_quality_page_and_csv(world, make_member, django_assert_max_num_queries):
    practice = world["practice"]
    admin = sign_in(Client(), make_member(practice, Role.ADMIN))
    url = reverse("quality_reports", kwargs={"practice_slug": practice.slug})
    admin.get(url, {"period": "2025"})
    with django_assert_max_num_queries(25):
        response = admin.get(url, {"period": "2025"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "CMS159" in body and "DSF-E" in body and "All payers" in body and "Adams" in body
    csv_url = reverse("quality_report_csv", kwargs={"practice_slug": practice.slug})
    response = admin.get(csv_url, {"period": "2025", "measure": "remission_12m"})
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[2] == [ALL_PAYERS, "1", "2", "50.0"]
    assert {r[2].split()[-1]: r[3] for r in rows[4:]} == {"Evans": "yes", "Fox": "no"}
    assert admin.get(csv_url, {"measure": "nope"}).status_code == 404
    assert sign_in(Client(), world["clinician"]).get(url).status_code == 403
