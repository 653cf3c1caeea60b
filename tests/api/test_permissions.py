"""Cross-tenant and facility-scope probes of every API endpoint, for every role of the permission matrix
(tests/support_matrix.py): the API answers as the pages do, through the same gate."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from compliance.models import Finding
from tests import factories as f
from tests.api.world import ApiWorld, api_read, api_write
from tests.support_matrix import ROLES, SCOPES

API = "/api/v1"


def probe(
    world: ApiWorld,
    *,
    url: Callable[[str], str],
    expected: Callable[[str, str], int],
    method: str = "get",
    data: Callable[[str], dict] | None = None,
    content_type: str = "application/json",
    roles=ROLES,
) -> None:
    failures = []
    for scope in SCOPES:
        for role in roles:
            client = world.client(role)
            target = url(scope)
            kwargs = {}
            if data is not None:
                kwargs = {"data": data(scope)}
                if content_type:
                    kwargs["content_type"] = content_type
            response = getattr(client, method)(target, **kwargs)
            want = expected(role, scope)
            if response.status_code != want:
                body = getattr(response, "content", b"")[:200]
                failures.append(
                    f"{role:16} {method.upper()} {scope:14} {target}: {response.status_code}, expected {want} {body!r}"
                )
    assert not failures, "API permission mismatches:\n" + "\n".join(failures)


READ_ENDPOINTS = {
    "facility": lambda w, s: f"{API}/facilities/{w.matrix.facility_in(s).pk}/",
    "vendor": lambda w, s: f"{API}/vendors/{w.matrix.vendor_in(s).pk}/",
    "engagement": lambda w, s: f"{API}/engagements/{w.matrix.engagement_in(s).pk}/",
    "agreement": lambda w, s: f"{API}/agreements/{w.agreements[s].pk}/",
    "document": lambda w, s: f"{API}/documents/{w.documents[s].pk}/",
    "document download": lambda w, s: f"{API}/documents/{w.documents[s].pk}/download/",
    "finding": lambda w, s: f"{API}/findings/{w.findings[s].pk}/",
    "checklist item": lambda w, s: f"{API}/checklist-items/{w.items[s].pk}/",
    "report": lambda w, s: f"{API}/reports/{w.reports[s].pk}/",
}


def test_it_guards_the_report_download(api_world):
    done = api_world.done_report
    probe(
        api_world,
        url=lambda scope: f"{API}/reports/{done.pk}/download/",
        expected=lambda role, scope: api_read(role, "own_facility"),
        roles=("admin", "officer", "limited_officer", "viewer", "anonymous", "expired_auditor", "no_membership"),
    )
    other = api_world.reports["other_facility"].pk
    assert api_world.client("limited_officer").get(f"{API}/reports/{other}/download/").status_code == 404


@pytest.mark.parametrize("endpoint", READ_ENDPOINTS)
def test_it_guards_every_detail_endpoint(api_world, endpoint):
    probe(api_world, url=lambda scope: READ_ENDPOINTS[endpoint](api_world, scope), expected=api_read)


LIST_ENDPOINTS = {
    "facilities": lambda w, s: w.matrix.facility_in(s).pk,
    "vendors": lambda w, s: w.matrix.vendor_in(s).pk,
    "engagements": lambda w, s: w.matrix.engagement_in(s).pk,
    "agreements": lambda w, s: w.agreements[s].pk,
    "documents": lambda w, s: w.documents[s].pk,
    "findings": lambda w, s: w.findings[s].pk,
    "checklist-items": lambda w, s: w.items[s].pk,
    "reports": lambda w, s: w.reports[s].pk,
}


@pytest.mark.parametrize("endpoint", LIST_ENDPOINTS)
def test_it_lists_for_each_role_exactly_what_it_may_see(api_world, endpoint):
    failures = []
    for role in ROLES:
        response = api_world.client(role).get(f"{API}/{endpoint}/?page_size=200")
        want = api_read(role, SCOPES[0])
        if response.status_code != want:
            failures.append(f"{role}: {response.status_code}, expected {want}")
            continue
        if want != 200:
            continue
        ids = {row["id"] for row in response.json()["results"]}
        for scope in SCOPES:
            shown = LIST_ENDPOINTS[endpoint](api_world, scope) in ids
            should = api_read(role, scope) == 200
            if shown != should:
                failures.append(f"{role}: the {scope} object is {'shown' if shown else 'hidden'}")
    assert not failures, f"/{endpoint}/ visibility mismatches:\n" + "\n".join(failures)


def test_it_filters_lists_without_confirming_another_organizations_ids(api_world):
    elsewhere = api_world.matrix.vendor_in("other_org").pk
    response = api_world.client("admin").get(f"{API}/engagements/?vendor={elsewhere}")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def draft_agreement(world: ApiWorld, scope: str):
    return f.agreement(world.matrix.vendor_in(scope), facilities=[world.matrix.facility_in(scope)], status="draft")


WRITES = {
    "vendor update": (
        "patch",
        lambda w, s: f"{API}/vendors/{w.matrix.vendor_in(s).pk}/",
        lambda w, s: {"notes": f"Checked by the API in {s}"},
        200,
    ),
    "engagement update": (
        "patch",
        lambda w, s: f"{API}/engagements/{w.matrix.engagement_in(s).pk}/",
        lambda w, s: {"data_location": "AWS us-east-1"},
        200,
    ),
    "agreement update": (
        "patch",
        lambda w, s: f"{API}/agreements/{w.agreements[s].pk}/",
        lambda w, s: {"notes": "Reviewed"},
        200,
    ),
    "agreement transition": (
        "post",
        lambda w, s: f"{API}/agreements/{draft_agreement(w, s).pk}/transition/",
        lambda w, s: {"action": "send"},
        200,
    ),
    "finding acknowledge": (
        "post",
        lambda w, s: f"{API}/findings/{w.findings[s].pk}/acknowledge/",
        lambda w, s: {"note": "Calling the vendor's counsel this week."},
        200,
    ),
    "checklist item update": (
        "patch",
        lambda w, s: f"{API}/checklist-items/{w.items[s].pk}/",
        lambda w, s: {"status": "in_progress", "evidence_note": "Asked for the encryption attestation"},
        200,
    ),
}


@pytest.mark.parametrize("write", WRITES)
def test_it_guards_every_write(api_world, write):
    method, url, data, success = WRITES[write]
    probe(
        api_world,
        method=method,
        url=lambda scope: url(api_world, scope),
        data=lambda scope: data(api_world, scope),
        expected=lambda role, scope: api_write(role, scope, success=success),
    )


def test_it_guards_the_engagement_and_agreement_creation_by_the_vendor_and_facility_in_scope(api_world):
    def engagement(scope):
        return {
            "vendor": api_world.matrix.vendor_in(scope).pk,
            "facility": api_world.matrix.facility_in(scope).pk,
            "service_description": "Cloud archive",
            "status": "planned",
        }

    # A vendor or facility outside the scope is an unknown reference: 400, never created.
    def expected(role, scope):
        status = api_write(role, scope, success=201)
        return 400 if status == 404 else status

    probe(api_world, method="post", url=lambda scope: f"{API}/engagements/", data=engagement, expected=expected)

    def agreement(scope):
        return {
            "vendor": api_world.matrix.vendor_in(scope).pk,
            "title": f"API BAA {scope}",
            "covers_all_facilities": False,
            "covered_facilities": [api_world.matrix.facility_in(scope).pk],
        }

    probe(api_world, method="post", url=lambda scope: f"{API}/agreements/", data=agreement, expected=expected)


def test_it_guards_the_document_upload(api_world):
    def data(scope):
        return {"agreement": api_world.agreements[scope].pk, "kind": "amendment", "file": io.BytesIO(f.MINIMAL_PDF)}

    def expected(role, scope):
        status = api_write(role, scope, success=201)
        return 400 if status == 404 else status

    # Every request needs its own file object: probe() calls data() each time.
    def with_name(scope):
        payload = data(scope)
        payload["file"].name = "amendment.pdf"
        return payload

    probe(
        api_world,
        method="post",
        url=lambda scope: f"{API}/documents/",
        data=with_name,
        content_type="",
        expected=expected,
    )


def test_it_lets_whoever_sees_a_facility_request_its_report_but_not_elsewhere(api_world):
    def expected(role, scope):
        status = api_read(role, scope)
        return {200: 201, 404: 400}.get(status, status)  # a facility outside the scope is unknown

    probe(
        api_world,
        method="post",
        url=lambda scope: f"{API}/reports/",
        data=lambda scope: {"facility": api_world.matrix.facility_in(scope).pk},
        expected=expected,
    )


def test_it_acknowledges_nothing_for_a_role_that_may_not(api_world):
    test_it_guards_every_write(api_world, "finding acknowledge")
    usernames = set(Finding.objects.exclude(acknowledged_by=None).values_list("acknowledged_by__username", flat=True))
    assert usernames <= {"m_admin", "m_officer", "m_limited"}
    assert not Finding.objects.filter(organization=api_world.matrix.other_org).exclude(acknowledged_by=None).exists()
