"""The three curl examples of docs/api.md, read from the page and sent as written (ids swapped for the
test world's), so that the page stays true: every request answers 2xx with what the text says."""

from __future__ import annotations

import datetime
import io
import json
import re
import shlex
from pathlib import Path

from django.conf import settings
from django.test import Client

from agreements.models import BusinessAssociateAgreement
from compliance.kinds import Severity
from compliance.models import Finding
from tests import factories as f
from tests.api.world import ApiWorld

DOC = Path(settings.BASE_DIR) / "docs" / "api.md"
#: The ids the page uses: the vendor, the facility, the agreement it creates, the finding, the report.
DOC_VENDOR, DOC_FACILITY, DOC_AGREEMENT, DOC_FINDING = 42, 7, 318, 1234


def documented_curls() -> list[list[str]]:
    """The curl commands of the "Three examples" section, each split as the shell would."""
    section = DOC.read_text().split("## Three examples", 1)[1].split("\n## ", 1)[0]
    commands, pending = [], ""
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            pending += line + "\n"
            if pending.count("'") % 2 or line.endswith("\\"):
                continue  # a quoted body or a continued line goes on
            words = shlex.split(pending.replace("\\\n", " "), comments=True)
            pending = ""
            if words and words[0] == "curl":
                commands.append(words)
    return commands


def send(client: Client, words: list[str], ids: dict[int, int], report_id: int):
    headers, body, form, url = {}, None, {}, None
    args = iter(words[1:])
    for word in args:
        if word == "-H":
            name, _, value = next(args).partition(": ")
            headers[name] = value
        elif word == "-d":
            body = json.loads(next(args), object_hook=lambda d: {k: _ours(v, ids) for k, v in d.items()})
        elif word == "-F":
            name, _, value = next(args).partition("=")
            if value.startswith("@"):
                upload = io.BytesIO(f.MINIMAL_PDF)
                upload.name = value[1:]
                form[name] = upload
            else:
                form[name] = str(_ours(int(value), ids)) if value.isdigit() else value
        elif word.startswith("$BASE"):
            url = word.removeprefix("$BASE").replace("{id}", str(report_id))
            url = re.sub(r"(?<=[/=])(\d+)(?=[/&]|$)", lambda m: str(ids.get(int(m[1]), m[1])), url)
    assert headers.pop("Authorization") == "Bearer $BT_TOKEN", words
    if body is not None:
        assert headers.pop("Content-Type") == "application/json"
        return client.post(url, body, content_type="application/json")
    if form:
        return client.post(url, form)
    return client.get(url)


def _ours(value, ids: dict[int, int]):
    if isinstance(value, list):
        return [_ours(item, ids) for item in value]
    return ids.get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value


def test_the_three_documented_examples_work_as_written(api_world: ApiWorld):
    commands = documented_curls()
    assert len(commands) == 7  # example 1: one request; 2: two; 3: four
    officer = api_world.client("officer")
    facility = api_world.matrix.facility_in("own_facility")
    vendor = api_world.matrix.vendor_in("own_facility")
    f.agreement(vendor, facilities=[facility], title="Spring BAA", expires_on=datetime.date(2027, 3, 1))
    critical = Finding.objects.filter(facility=facility, resolved_at__isnull=True, severity=Severity.CRITICAL).first()
    assert critical is not None, "the test world has an open critical finding at the facility"
    ids = {DOC_VENDOR: vendor.pk, DOC_FACILITY: facility.pk, DOC_FINDING: critical.pk}
    report_id = api_world.done_report.pk  # "poll until done": the world's finished report stands in

    answers = []
    for words in commands:
        response = send(officer, words, ids, report_id)
        assert 200 <= response.status_code < 300, (words, response.status_code, response.content[:500])
        answers.append(response)
        if "/api/v1/agreements/" in words[-1] and "-d" in words:
            ids[DOC_AGREEMENT] = response.json()["id"]  # "-> {"id": 318, ...}"

    expiring = answers[0].json()["results"]
    assert "Spring BAA" in {row["title"] for row in expiring}
    assert all(row["status"] == "executed" and row["expires_on"] < "2027-04-01" for row in expiring)
    created = BusinessAssociateAgreement.objects.get(pk=ids[DOC_AGREEMENT])
    assert created.status == "executed" and list(created.covered_facilities.all()) == [facility]
    assert answers[2].json()["agreement"] == created.pk
    assert critical.pk in {row["id"] for row in answers[3].json()["results"]}
    critical.refresh_from_db()
    assert critical.acknowledged_at is not None
    assert answers[5].json()["facility"] == facility.pk
    assert answers[6]["Content-Type"] == "application/pdf"
