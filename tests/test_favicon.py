"""Every page names its icon, so browsers do not ask for a /favicon.ico that is not there (a 404 a page)."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db  # the sign-in page lists the organizations' single sign-on buttons
def test_it_links_an_icon_that_the_app_serves(client):
    html = client.get("/accounts/login/").content.decode()
    match = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
    assert match, "the sign-in page names no icon"
    path = match.group(1).removeprefix("/static/")
    found = finders.find(path)
    assert found and open(found).read().startswith("<svg")
