"""The benchmark runs end to end on the tiny dataset, so that it cannot rot. It asserts nothing about time:
only that every hot path was measured against its floor, and that the floor of the compliance run finds
the same problems as the engine. CI also runs `manage.py bench --size small` (scripts/test.sh).
"""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alerts.models import Alert
from scale import seeding
from vendors.models import Vendor

pytestmark = [pytest.mark.postgresql_only]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


# Not in a test transaction: the alert dispatch is measured in autocommit, as production runs it.
@pytest.mark.django_db(transaction=True)
def test_it_measures_every_hot_path_against_its_floor(tmp_path):
    json_path, markdown_path = tmp_path / "bench.json", tmp_path / "bench.md"

    call_command("bench", "--size", "tiny", "--runs", "1", "--json", str(json_path), "--markdown", str(markdown_path))

    report = json.loads(json_path.read_text())
    assert report["size"] == "tiny"
    assert report["dataset"]["organizations"] == seeding.SIZES["tiny"].organizations
    assert report["checks"]["compliance"]["floor_finds_the_same_problems"] is True
    assert report["checks"]["compliance"]["detections"] > 0
    names = [path["name"] for path in report["paths"]]
    assert names[0] == "compliance run (whole dataset)"
    for expected in (
        "page: dashboard",
        "page: vendor list, filtered, first page",
        "page: vendor list, deep page",
        "page: coverage matrix",
        "page: findings list",
        "page: vendor detail",
        "api: vendors",
        "api: agreements",
        "api: findings",
        "alert dispatch",
        "PDF report of a facility",
        "inventory import",
        "document reading + provision review",
        "document OCR",
    ):
        assert any(name.startswith(expected) for name in names), expected
    for path in report["paths"]:
        assert path["median_s"] > 0 and path["floor_median_s"] > 0, path["name"]
        assert path["ratio"] == pytest.approx(path["median_s"] / path["floor_median_s"], rel=0.05, abs=0.01)
        assert path["queries"] > 0, path["name"]
        assert path["peak_memory_bytes"] > 0, path["name"]
        assert path["floor"], path["name"]
    pdf = next(path for path in report["paths"] if path["name"].startswith("PDF report"))
    assert pdf["peak_rss_bytes"] > 0 and "pages, progress followed them to the last" in pdf["notes"]
    assert "| compliance run (whole dataset) |" in markdown_path.read_text()
    # The import runs were rolled back, the alerts the dispatch planned deleted: the dataset is as the seed left it.
    assert not Alert.objects.exists()
    assert not Vendor.objects.filter(legal_name__startswith="Bench Import Vendor").exists()


@pytest.mark.django_db
def test_it_refuses_a_dataset_of_another_size():
    seeding.seed("tiny")

    with pytest.raises(CommandError, match="not the small size"):
        call_command("bench", "--size", "small", "--only", "pages")
