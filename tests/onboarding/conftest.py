"""The corpus of the documents tests (rendered once per session), shared with the onboarding tests."""

from __future__ import annotations

import io
import zipfile

import pytest

from tests.documents.conftest import commercial_pdf, hhs_pdf  # noqa: F401 - shared session fixtures
from tests.support_matrix import matrix_world  # noqa: F401 - the permission matrix's world


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def zip_of(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()
