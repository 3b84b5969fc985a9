"""The denial queue is paged (issue 10: it rendered every open denial): oldest remittance first with
a stable id tiebreak, filters kept in the page links, the count, money and "not worked" summary over
every page, and the same queries on any page. The REST list is paged by DRF."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.pagination import PageNumberPagination

from billing import services_denials as svc
from billing import views_denials
from billing.models import DenialCase
from billing.selectors_denials import DenialFilters, denial_queue, denial_queue_qs, denial_queue_summary
from billing.tests.test_api import api_as
from billing.tests.test_denials import _case, _url
from practice.permissions import Role
from practice.scoping import practice_scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def biller(make_member, practice_a):
    return make_member(practice_a, Role.BILLER, email="pager@riverside.test", full_name="Pat Pager")


@pytest.fixture
def as_biller(client, login, biller):
    login(biller)
    return client


@pytest.fixture(autouse=True)
def _two_per_page(monkeypatch):
    monkeypatch.setattr(views_denials, "PAGE_SIZE", 2)


def _pks(response) -> list[int]:
    assert response.status_code == 200
    return [c.pk for c in response.context["cases"]]


def test_page_two_shows_the_next_rows_oldest_remittance_first(practice_a, as_biller):
    cases = [_case(practice_a, days_ago=days) for days in (50, 40, 30, 20, 10)]
    url = _url("denial_queue", practice_a)
    assert _pks(as_biller.get(url)) == [c.pk for c in cases[:2]]
    page2 = as_biller.get(url, {"page": 2})
    assert _pks(page2) == [c.pk for c in cases[2:4]]
    html = page2.content.decode()
    assert "Page 2 of 3 · 5 entries" in html
    assert 'href="?page=1" rel="prev"' in html and 'href="?page=3" rel="next"' in html
    assert str(cases[2].public_id) in html and str(cases[0].public_id) not in html
    assert _pks(as_biller.get(url, {"page": 3})) == [cases[4].pk]
    assert _pks(as_biller.get(url, {"page": 99})) == [cases[4].pk]  # past the end: the last page


def test_rows_with_the_same_dates_page_in_id_order_without_repeats(practice_a, as_biller):
    cases = [_case(practice_a, days_ago=7) for _ in range(5)]
    with practice_scope(practice_a):
        DenialCase.objects.update(created_at=timezone.now() - timedelta(days=1))
    url = _url("denial_queue", practice_a)
    seen = [pk for page in (1, 2, 3) for pk in _pks(as_biller.get(url, {"page": page}))]
    assert seen == sorted(c.pk for c in cases)


def test_filters_survive_paging(practice_a, as_biller):
    auth = [_case(practice_a, reason="CO-197", days_ago=days) for days in (30, 20, 10)]
    _case(practice_a, reason="CO-29", days_ago=40)
    _case(practice_a, reason="CO-29", days_ago=25)
    url = _url("denial_queue", practice_a)
    page1 = as_biller.get(url, {"group": "auth"})
    assert _pks(page1) == [c.pk for c in auth[:2]]
    html = page1.content.decode()
    assert 'href="?group=auth&amp;page=2" rel="next"' in html
    assert "Page 1 of 2 · 3 entries" in html and "3 open denials" in html
    page2 = as_biller.get(url, {"group": "auth", "page": 2})
    assert _pks(page2) == [auth[2].pk]
    assert 'href="?group=auth&amp;page=1" rel="prev"' in page2.content.decode()


def test_count_total_and_not_worked_cover_every_page(practice_a, biller, as_biller):
    cases = [_case(practice_a, amount=f"{100 + i}.25", days_ago=50 - i) for i in range(5)]
    done = _case(practice_a, amount="999.00", days_ago=60)
    with practice_scope(practice_a):
        svc.denial_resolve(case=done, by=biller, note="Paid on reprocessing.")
        # the two newest remittances (last page only) have not been worked for 20 days
        DenialCase.objects.filter(pk__in=[cases[3].pk, cases[4].pk]).update(
            created_at=timezone.now() - timedelta(days=20)
        )
    page1 = as_biller.get(_url("denial_queue", practice_a))
    assert _pks(page1) == [cases[0].pk, cases[1].pk]
    html = page1.content.decode()
    assert "<span data-denial-count>5 open denials</span>" in html
    assert "<span data-denial-total>$511.25</span>" in html  # 100.25 + ... + 104.25
    assert "2 not worked in 14 days" in html
    resolved = as_biller.get(_url("denial_queue", practice_a), {"status": "resolved"}).content.decode()
    assert "1 denial: Resolved" in resolved and "$999.00" in resolved and "data-stale-count" not in resolved


@pytest.mark.parametrize("filters", [DenialFilters(), DenialFilters(group="auth"), DenialFilters(status="resolved")])
def test_summary_matches_the_rows(practice_a, biller, filters):
    cases = [_case(practice_a, reason=r, amount=f"{50 + i}.10") for i, r in enumerate(["CO-197", "CO-29"] * 3)]
    with practice_scope(practice_a):
        svc.denial_resolve(case=cases[0], by=biller, note="done")
        DenialCase.objects.filter(pk__in=[cases[1].pk, cases[2].pk]).update(
            created_at=timezone.now() - timedelta(days=30)
        )
        rows = denial_queue(filters)
        summary = denial_queue_summary(denial_queue_qs(filters))
    assert rows
    assert summary.count == len(rows)
    assert summary.total == sum((c.amount for c in rows), Decimal("0"))
    assert summary.stale_count == sum(1 for c in rows if c.is_stale)


def test_empty_queue_summary_is_zero(practice_a):
    with practice_scope(practice_a):
        summary = denial_queue_summary(denial_queue_qs(DenialFilters()))
    assert (summary.count, str(summary.total), summary.stale_count) == (0, "0.00", 0)


def test_page_one_and_page_three_issue_the_same_queries(practice_a, as_biller):
    for days in range(60, 0, -10):
        _case(practice_a, days_ago=days)
    url = _url("denial_queue", practice_a)
    assert as_biller.get(url).status_code == 200  # warm-up: session, content types, audit chain heads
    counts = []
    for page in (1, 3):
        with CaptureQueriesContext(connection) as ctx:
            assert len(as_biller.get(url, {"page": page}).context["cases"]) == 2
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_rest_denials_list_is_paged(practice_a, biller, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "page_size", 2)
    cases = [_case(practice_a) for _ in range(3)]
    api = api_as(biller)
    first = api.get("/api/v1/denials/").json()
    assert first["count"] == 3 and len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert [r["id"] for r in first["results"] + second["results"]] == [str(c.public_id) for c in cases]
