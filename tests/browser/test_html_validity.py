"""The Nu HTML checker (vnu.jar from the npm package vnu-jar) finds no error on the main pages."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from django.test import Client

from tests.browser.pages import main_pages, seed

BASE_DIR = Path(__file__).resolve().parents[2]
VNU = BASE_DIR / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def vnu_errors(documents: dict[str, str], tmp_path: Path) -> dict[str, list[str]]:
    java = shutil.which("java")
    assert java, "Java is required by the Nu HTML checker (apt-get install default-jre-headless)"
    assert VNU.exists(), f"{VNU} is missing: run `npm ci` (vnu-jar is in package.json)"
    for name, html in documents.items():
        (tmp_path / f"{name}.html").write_text(html, encoding="utf-8")
    result = subprocess.run(
        [
            java,
            "-jar",
            str(VNU),
            "--errors-only",
            "--format",
            "json",
            *[str(tmp_path / f"{n}.html") for n in documents],
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    errors: dict[str, list[str]] = {}
    for message in messages:
        name = Path(message.get("url", "?")).stem
        errors.setdefault(name, []).append(f"line {message.get('lastLine')}: {message['message']}")
    return errors


def test_it_serves_valid_html_on_the_main_pages(db, tmp_path):
    result = seed()
    client = Client()
    documents = {"login": client.get("/accounts/login/").content.decode()}
    client.force_login(
        result.organization.memberships.get(user__username="admin").user,
        backend="django.contrib.auth.backends.ModelBackend",
    )
    for name, url in main_pages(result.organization).items():
        response = client.get(url)
        assert response.status_code == 200, f"{name}: {url} answered {response.status_code}"
        documents[name] = response.content.decode()
    errors = vnu_errors(documents, tmp_path)
    assert not errors, json.dumps(errors, indent=2)
