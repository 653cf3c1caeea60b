"""The coverage matrix at scale: vendors (columns) by page, gaps filtered before paginating, per-user rows."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from compliance import selectors
from organizations.models import Role
from tests import factories as f

BACKEND = "django.contrib.auth.backends.ModelBackend"
URL = reverse("compliance:coverage")


def today() -> datetime.date:
    return timezone.localdate()


def login(client, user):
    client.force_login(user, backend=BACKEND)
    return client


def grid(response) -> dict[tuple[str, str], str]:
    """(facility, vendor) -> cell state of the page shown."""
    matrix = response.context["matrix"]
    names = [vendor.legal_name for vendor in matrix.vendors]
    return {(row.facility.name, names[i]): cell.state for row in matrix.rows for i, cell in enumerate(row.cells)}


def vendor_names(response) -> list[str]:
    return [vendor.legal_name for vendor in response.context["matrix"].vendors]


@dataclass
class Chain:
    org: object
    north: object
    south: object
    officer: object


@pytest.fixture
def chain(db) -> Chain:
    """Two facilities and six vendors with PHI access, named in page order. Vendor 3 has a gap at
    North, vendors 5 and 6 at South; the others are covered everywhere they serve. Another
    organization's vendors never appear."""
    other = f.organization(name="Elsewhere Health")
    f.engagement(f.vendor(other, legal_name="Elsewhere Vendor"), f.facility(other, name="Elsewhere Clinic"))

    org = f.organization(name="Chain Health")
    north = f.facility(org, name="North Clinic")
    south = f.facility(org, name="South Hospital")
    for number in range(1, 7):
        vendor = f.vendor(org, legal_name=f"Vendor {number}")
        f.engagement(vendor, north)
        if number % 2 == 0:
            f.engagement(vendor, south)
        if number == 3:
            continue  # no BAA at all
        if number in (5, 6):
            f.agreement(vendor, facilities=[north])
            if number == 5:
                f.engagement(vendor, south)
        else:
            f.agreement(vendor)
    f.vendor(org, legal_name="Vendor 0 without PHI")  # no engagement: never a column
    return Chain(org=org, north=north, south=south, officer=f.user(org, role=Role.COMPLIANCE_OFFICER))


@pytest.fixture
def two_per_page(monkeypatch):
    monkeypatch.setattr(selectors, "COVERAGE_VENDORS_PER_PAGE", 2)


def test_it_splits_the_vendors_across_pages_by_name_with_their_cells(client, chain, two_per_page):
    login(client, chain.officer)
    pages = [client.get(URL, {"page": number}) for number in (1, 2, 3)]
    assert [vendor_names(response) for response in pages] == [
        ["Vendor 1", "Vendor 2"],
        ["Vendor 3", "Vendor 4"],
        ["Vendor 5", "Vendor 6"],
    ]
    assert grid(pages[1]) == {
        ("North Clinic", "Vendor 3"): "missing",
        ("North Clinic", "Vendor 4"): "covered",
        ("South Hospital", "Vendor 3"): "none",
        ("South Hospital", "Vendor 4"): "covered",
    }
    # The pages together are the whole matrix, cell for cell.
    full = selectors.coverage_matrix(chain.officer, today())
    full_grid = {
        (row.facility.name, full.vendors[i].legal_name): cell.state
        for row in full.rows
        for i, cell in enumerate(row.cells)
    }
    assert {key: state for response in pages for key, state in grid(response).items()} == full_grid
    assert len(full_grid) == 2 * 6


def test_it_shows_the_last_page_for_a_page_out_of_range(client, chain, two_per_page):
    response = login(client, chain.officer).get(URL, {"page": 99})
    assert response.status_code == 200 and vendor_names(response) == ["Vendor 5", "Vendor 6"]
    assert login(client, chain.officer).get(URL, {"page": "x"}).context["page"].number == 1


def test_it_paginates_with_an_accessible_navigation(client, chain, two_per_page):
    html = login(client, chain.officer).get(URL, {"page": 2}).content.decode()
    assert '<nav aria-label="Vendor pages">' in html
    assert 'aria-current="page">Page 2 of 3<' in html
    assert 'href="?page=3" rel="next"' in html and 'href="?page=1" rel="prev"' in html
    assert "Vendors 3&ndash;4 of 6" in html


def test_it_keeps_only_the_vendors_with_a_gap_before_paginating(client, chain, two_per_page):
    login(client, chain.officer)
    first = client.get(URL, {"gaps": "1"})
    assert vendor_names(first) == ["Vendor 3", "Vendor 5"]
    # North has Vendor 3's gap, South Vendor 5's.
    assert grid(first) == {
        ("North Clinic", "Vendor 3"): "missing",
        ("North Clinic", "Vendor 5"): "covered",
        ("South Hospital", "Vendor 3"): "none",
        ("South Hospital", "Vendor 5"): "missing",
    }
    html = first.content.decode()
    assert 'href="?gaps=1&amp;page=2" rel="next"' in html
    second = client.get(URL, {"gaps": "1", "page": "2"})
    assert vendor_names(second) == ["Vendor 6"]
    # A facility with no gap among this page's vendors is hidden, as without pagination.
    assert grid(second) == {("South Hospital", "Vendor 6"): "missing"}


def test_it_summarizes_the_whole_organization_on_every_page(client, chain, two_per_page):
    login(client, chain.officer)
    for params in ({}, {"page": 3}, {"gaps": "1", "page": 2}, {"q": "vendor 4"}):
        response = client.get(URL, params)
        assert response.context["summary"] == selectors.CoverageSummary(vendors_with_phi=6, vendors_with_gaps=3)
        assert "6 vendors with PHI access" in response.content.decode()
        assert "3 with a gap</a>" in response.content.decode()


def test_it_finds_vendors_by_name_and_keeps_the_search_in_the_page_links(client, chain, two_per_page):
    login(client, chain.officer)
    response = client.get(URL, {"q": "VENDOR"})
    assert vendor_names(response) == ["Vendor 1", "Vendor 2"]
    assert 'href="?q=VENDOR&amp;page=2"' in response.content.decode()
    assert vendor_names(client.get(URL, {"q": "  vendor 2 "})) == ["Vendor 2"]
    assert vendor_names(client.get(URL, {"q": "endor 5"})) == ["Vendor 5"]
    assert vendor_names(client.get(URL, {"q": "Vendor 4", "gaps": "1"})) == []
    html = client.get(URL, {"q": "Elsewhere"}).content.decode()
    assert "No vendor matches" in html and "Elsewhere Vendor" not in html


def test_it_runs_the_same_number_of_queries_for_10_and_40_vendors(client, chain):
    login(client, chain.officer)

    def add_vendors(n: int) -> None:
        start = chain.org.vendors.count()
        for i in range(start, start + n):
            vendor = f.vendor(chain.org, legal_name=f"Added vendor {i:03}")
            f.engagement(vendor, chain.north if i % 2 else chain.south)
            if i % 3:
                f.agreement(vendor, facilities=[chain.north], signed_document=False)

    add_vendors(10 - 6)
    counts = {}
    for params in ({}, {"gaps": "1"}):
        with CaptureQueriesContext(connection) as ten:
            response = client.get(URL, params)
        counts[("10", str(params))] = len(ten.captured_queries)
    assert response.context["summary"].vendors_with_phi == 10
    add_vendors(30)
    for params in ({}, {"gaps": "1"}, {"page": "2"}):
        with CaptureQueriesContext(connection) as forty:
            response = client.get(URL, params)
        counts[("40", str(params))] = len(forty.captured_queries)
    assert response.context["summary"].vendors_with_phi == 40
    assert len(response.context["matrix"].vendors) == 40 - selectors.COVERAGE_VENDORS_PER_PAGE
    assert len(set(counts.values())) == 1, counts


def test_a_user_limited_to_some_facilities_sees_only_their_rows_and_vendors(client, chain, two_per_page):
    # Vendor 7 serves only South: invisible to a North-only user, who sees no South row either.
    f.engagement(f.vendor(chain.org, legal_name="Vendor 7"), chain.south)
    limited = f.user(chain.org, role=Role.COMPLIANCE_OFFICER, facilities=[chain.north])
    login(client, limited)
    pages = [client.get(URL, {"page": number}) for number in (1, 2, 3, 4)]
    seen = {key for response in pages for key in grid(response)}
    assert {facility for facility, _ in seen} == {"North Clinic"}
    assert sorted({vendor for _, vendor in seen}) == [f"Vendor {n}" for n in range(1, 7)]
    assert pages[0].context["summary"] == selectors.CoverageSummary(vendors_with_phi=6, vendors_with_gaps=1)
    gaps = client.get(URL, {"gaps": "1"})
    assert grid(gaps) == {("North Clinic", "Vendor 3"): "missing"}
    assert gaps.context["page"].paginator.count == 1

    # The whole organization's officer sees Vendor 7, and South's gaps.
    login(client, chain.officer)
    response = client.get(URL, {"gaps": "1", "q": "Vendor 7"})
    assert grid(response) == {("South Hospital", "Vendor 7"): "missing"}


def test_it_keeps_a_full_matrix_for_callers_without_pagination(chain):
    full = selectors.coverage_matrix(chain.officer, today())
    assert [vendor.legal_name for vendor in full.vendors] == [f"Vendor {n}" for n in range(1, 7)]
    assert [row.facility.name for row in full.rows] == ["North Clinic", "South Hospital"]
    gaps = selectors.coverage_matrix(chain.officer, today(), gaps_only=True)
    assert [vendor.legal_name for vendor in gaps.vendors] == ["Vendor 3", "Vendor 5", "Vendor 6"]
    assert gaps.gaps == 3


def test_it_keeps_an_inactive_facility_on_every_page_while_a_vendor_has_phi_access_there(client, chain, two_per_page):
    chain.south.active = False
    chain.south.save()
    login(client, chain.officer)
    for number in (1, 2, 3):
        rows = [row.facility.name for row in client.get(URL, {"page": number}).context["matrix"].rows]
        assert rows == ["North Clinic", "South Hospital"]
