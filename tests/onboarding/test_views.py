"""The onboarding pages through the permission gate: organization and facility scopes, and
viewers/auditors who can see the queue but neither upload nor confirm."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agreements.models import BusinessAssociateAgreement
from onboarding.models import DraftState, OnboardingDraft
from tests import factories as f
from tests.onboarding.conftest import zip_of
from tests.support_matrix import OWN_FACILITY, assert_matrix, expected_write, login_as

pytestmark = pytest.mark.django_db

PAGE = "This Business Associate Agreement is entered into between Matrix Imaging Network and Vendor."


def _draft(world, scope: str, **kwargs) -> OnboardingDraft:
    content = f.MINIMAL_PDF
    draft = OnboardingDraft(
        organization=world.organization_of(scope),
        uploaded_by=world.users["officer"],
        original_name=kwargs.pop("original_name", "baa.pdf"),
        size_bytes=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        state=DraftState.READY,
        pages_total=1,
        pages_done=1,
        pages=[{"number": 1, "text": PAGE, "method": "text_layer", "confidence": None}],
        vendor=world.vendor_in(scope),
        vendor_score=100,
        **kwargs,
    )
    draft.file.save("baa.pdf", ContentFile(content), save=False)
    draft.save()
    draft.facilities.set([world.facility_in(scope)])
    return draft


def test_it_guards_the_review_screen(client, matrix_world):
    drafts = {scope: _draft(matrix_world, scope) for scope in ("own_facility", "other_facility", "other_org")}
    assert_matrix(client, matrix_world, url=lambda scope: reverse("onboarding:draft", args=[drafts[scope].pk]))


def test_it_guards_the_confirmation(client, matrix_world):
    def url(scope):
        return reverse("onboarding:draft", args=[_draft(matrix_world, scope).pk])

    def data(scope):
        return {
            "vendor": matrix_world.vendor_in(scope).pk,
            "executed_on": "2025-01-01",
            "facilities": [matrix_world.facility_in(scope).pk],
        }

    assert_matrix(
        client,
        matrix_world,
        url=url,
        method="post",
        data=data,
        expected=lambda role, scope: expected_write(role, scope, success=302),
    )
    # Each successful confirmation (admin, officer, and the limited officer at its own facility) made one agreement.
    assert OnboardingDraft.objects.filter(state=DraftState.CONFIRMED).count() == 5
    created = BusinessAssociateAgreement.objects.filter(onboarding_draft__isnull=False)
    assert all(a.documents.count() == 1 for a in created)


def test_it_guards_the_discard(client, matrix_world):
    assert_matrix(
        client,
        matrix_world,
        url=lambda scope: reverse("onboarding:discard", args=[_draft(matrix_world, scope).pk]),
        method="post",
        expected=lambda role, scope: expected_write(role, scope, success=302),
    )


def test_viewers_and_auditors_see_the_queue_but_cannot_upload_or_send_terms(client, matrix_world):
    _draft(matrix_world, OWN_FACILITY, original_name="visible.pdf")
    for role in ("viewer", "auditor"):
        login_as(client, matrix_world, role)
        page = client.get(reverse("onboarding:queue"))
        assert page.status_code == 200 and "visible.pdf" in page.content.decode()
        assert "Upload to the review queue" not in page.content.decode()
        upload = SimpleUploadedFile("x.pdf", f.MINIMAL_PDF, content_type="application/pdf")
        assert (
            client.post(reverse("onboarding:queue"), {"files": [upload], "covers_all_facilities": "on"}).status_code
            == 403
        )
        terms = SimpleUploadedFile("t.csv", b"file_name\nvisible.pdf\n", content_type="text/csv")
        assert client.post(reverse("onboarding:terms"), {"terms_file": terms}).status_code == 403
    assert OnboardingDraft.objects.count() == 1


def test_the_queue_shows_only_drafts_in_the_users_scope(client, matrix_world):
    for scope in ("own_facility", "other_facility", "other_org"):
        _draft(matrix_world, scope, original_name=f"{scope}.pdf")
    login_as(client, matrix_world, "limited_officer")
    html = client.get(reverse("onboarding:queue")).content.decode()
    assert "own_facility.pdf" in html and "other_facility.pdf" not in html and "other_org.pdf" not in html


def test_an_upload_says_what_was_refused_and_saves_the_rest(client, matrix_world, django_capture_on_commit_callbacks):
    login_as(client, matrix_world, "limited_officer")
    files = [
        SimpleUploadedFile("good.pdf", f.MINIMAL_PDF),
        SimpleUploadedFile("notes.txt", b"not a pdf"),
        SimpleUploadedFile("set.zip", zip_of({"../evil.pdf": f.MINIMAL_PDF})),
    ]
    own = matrix_world.facility_in(OWN_FACILITY)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("onboarding:queue"), {"files": files, "facilities": [own.pk]}, follow=True)
    html = response.content.decode()
    assert "1 PDF added to the review queue" in html
    assert "notes.txt: Refused: not a PDF" in html and "Nothing was saved for it." in html
    assert "set.zip: ../evil.pdf: Refused: its path climbs out of the archive" in html
    assert list(OnboardingDraft.objects.values_list("original_name", flat=True)) == ["good.pdf"]
    assert len(callbacks) == 1


def test_a_limited_officer_cannot_propose_a_facility_outside_their_scope(client, matrix_world):
    login_as(client, matrix_world, "limited_officer")
    other = matrix_world.facility_in("other_facility")
    response = client.post(
        reverse("onboarding:queue"), {"files": [SimpleUploadedFile("a.pdf", f.MINIMAL_PDF)], "facilities": [other.pk]}
    )
    assert response.status_code == 400
    every = client.post(
        reverse("onboarding:queue"),
        {"files": [SimpleUploadedFile("a.pdf", f.MINIMAL_PDF)], "covers_all_facilities": "on"},
    )
    assert every.status_code == 400 and "You manage only some facilities" in every.content.decode()
    assert not OnboardingDraft.objects.exists()


def test_a_bad_terms_sheet_lists_its_rows_and_takes_nothing(client, matrix_world):
    _draft(matrix_world, OWN_FACILITY, original_name="a.pdf")
    login_as(client, matrix_world, "officer")
    sheet = SimpleUploadedFile("t.csv", b"file_name,expires_on\na.pdf,2027-12-31\nb.pdf,\n")
    response = client.post(reverse("onboarding:terms"), {"terms_file": sheet})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Row 3" in html and "No PDF named" in html
    assert OnboardingDraft.objects.get().sheet_terms == {}


def test_the_queue_takes_the_same_queries_for_many_drafts(client, matrix_world, django_assert_max_num_queries):
    login_as(client, matrix_world, "officer")
    _draft(matrix_world, OWN_FACILITY, original_name="first.pdf")
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("onboarding:queue"))
    for number in range(15):
        _draft(matrix_world, OWN_FACILITY, original_name=f"more-{number}.pdf")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("onboarding:queue"))
    assert response.content.decode().count("<tr data-draft=") == 16
