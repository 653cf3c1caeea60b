"""The benchmark: every hot path against its floor, measured in the same run on the scale dataset.

For each path: the median wall time over several runs, the median of its floor (the least the same
work can cost here, measured in the same run and interleaved with the path so that both see the same
machine), their ratio, the number of database queries of one run and the peak of Python memory
allocated during one run (tracemalloc; measured in a separate run, as tracing slows Python down).

Nothing here asserts a time: the numbers go to the JSON file and docs/benchmarks.md. What must hold
whatever the machine (the floor finds the same problems as the engine) is checked by the tests.

PostgreSQL only: the production database, and the floor of the compliance run is PostgreSQL SQL.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import logging
import os
import platform
import smtplib
import socket
import statistics
import threading
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from html import escape

import django
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from alerts.models import Alert, DeliveryMode, DispatchRun, SendStatus
from alerts.services import alerts_dispatch, alerts_plan
from compliance.rules import RuleContext, detect_all
from compliance.services import evaluate_compliance, run_compliance
from facilities.models import Facility
from organizations.models import Membership, Organization
from reports.pdf import build_pdf, html_to_pdf
from reports.selectors import report_data
from scale import floor, seeding
from vendors import importing
from vendors.models import Engagement, EngagementStatus, Vendor, VendorCategory

#: How many runs of each path, by cost: the median of these is reported.
RUNS = {"page": 7, "compliance": 5, "alerts": 3, "pdf": 3, "import": 3, "api": 7, "documents": 3}


@dataclass(frozen=True)
class BenchSize:
    alerts: int
    import_rows: int


SIZES = {
    "tiny": BenchSize(alerts=50, import_rows=200),
    "small": BenchSize(alerts=1_000, import_rows=1_000),
    "medium": BenchSize(alerts=2_000, import_rows=2_000),
    "large": BenchSize(alerts=10_000, import_rows=10_000),
}


@dataclass
class Result:
    name: str
    floor: str
    median_s: float
    floor_median_s: float
    ratio: float
    queries: int
    peak_memory_bytes: int
    runs: int
    #: The process's peak resident memory during one run (Linux VmHWM, reset before it): C libraries
    #: (pango, cairo) included, which tracemalloc does not see. 0 where not measured.
    peak_rss_bytes: int = 0
    target: str = ""
    notes: str = ""
    samples_s: list[float] = field(default_factory=list)
    floor_samples_s: list[float] = field(default_factory=list)


@dataclass
class Report:
    size: str
    started_at: str
    machine: dict
    dataset: dict
    results: list[Result] = field(default_factory=list)
    checks: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["paths"] = data.pop("results")
        return data


# --- Measuring -----------------------------------------------------------------------------------


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _queries(fn: Callable[[], object]) -> int:
    """Database queries of one run (an execute wrapper: no cap, unlike the debug cursor's 9,000)."""
    count = 0

    def counting(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counting):
        fn()
    return count


def _reset_peak_rss() -> bool:
    """Reset the process's resident-memory high-water mark (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def _peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _peak_memory(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(
    name: str,
    path: Callable[[], object],
    floor_name: str,
    floor_fn: Callable[[], object],
    *,
    runs: int,
    target: str = "",
    notes: str = "",
    memory: bool = True,
    rss: bool = False,
    setup: Callable[[], object] = lambda: None,
) -> Result:
    """Run the path and its floor alternately ``runs`` times (after one warm-up run of each).

    ``setup`` runs, untimed, before every run of the path and of its floor (the alert benchmark puts
    back the alerts the last run sent). With ``rss``, the run that counts the queries also records
    the peak resident memory of the process."""
    setup()
    path()
    setup()
    floor_fn()
    samples, floor_samples = [], []
    for _ in range(runs):
        setup()
        floor_samples.append(_timed(floor_fn))
        setup()
        samples.append(_timed(path))
    setup()
    peak_rss = 0
    measured_rss = rss and _reset_peak_rss()
    queries = _queries(path)
    if measured_rss:
        peak_rss = _peak_rss()
    setup()
    peak = _peak_memory(path) if memory else 0
    median, floor_median = statistics.median(samples), statistics.median(floor_samples)
    return Result(
        name=name,
        floor=floor_name,
        median_s=round(median, 5),
        floor_median_s=round(floor_median, 5),
        ratio=round(median / floor_median, 2) if floor_median else 0.0,
        queries=queries,
        peak_memory_bytes=peak,
        peak_rss_bytes=peak_rss,
        runs=runs,
        target=target,
        notes=notes,
        samples_s=[round(s, 5) for s in samples],
        floor_samples_s=[round(s, 5) for s in floor_samples],
    )


@contextmanager
def rolled_back():
    """Run a block in a transaction that is always rolled back: the run leaves no trace."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


# --- The dataset ---------------------------------------------------------------------------------


def ensure_dataset(size: str, *, as_of: datetime.date, log: Callable[[str], None]) -> dict:
    """The scale dataset of ``size``, seeded if the database has none. Refuses another size's."""
    if connection.vendor != "postgresql":
        raise CommandError(
            f"The benchmark runs on PostgreSQL (the production database); DATABASE_URL points to "
            f"{connection.vendor}. Example: DATABASE_URL=postgres://postgres@127.0.0.1:5432/baatracker_bench"
        )
    expected = seeding.SIZES[size]
    existing = seeding.scale_organizations().count()
    facilities = Facility.objects.filter(organization__in=seeding.scale_organizations()).count()
    if existing == 0:
        log(f"Seeding the {size} scale dataset (seed_scale --size {size})")
        start = time.perf_counter()
        seeding.seed(size, as_of=as_of)
        log(f"  seeded in {time.perf_counter() - start:.1f} s")
    elif (existing, facilities) != (expected.organizations, expected.facilities):
        raise CommandError(
            f"This database holds a scale dataset of {existing} organizations and {facilities} facilities, not "
            f"the {size} size ({expected.organizations} and {expected.facilities}): run "
            f"`seed_scale --size {size} --replace` or use another database."
        )
    organizations = seeding.scale_organizations()
    return {
        "organizations": organizations.count(),
        "facilities": Facility.objects.filter(organization__in=organizations).count(),
        "vendors": Vendor.objects.filter(organization__in=organizations).count(),
        "engagements": Engagement.objects.filter(facility__organization__in=organizations).count(),
        "agreements": organizations.aggregate(n=Count("agreements"))["n"],
        "users": Membership.objects.filter(organization__in=organizations).count(),
    }


def machine() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu)
    except OSError:
        pass
    memory_gib = None
    try:
        memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "debug": settings.DEBUG,
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": server_version,
        "platform": platform.platform(),
    }


# --- The hot paths -------------------------------------------------------------------------------


def bench_compliance(as_of: datetime.date, runs: int, log) -> tuple[Result, dict]:
    horizon = settings.EXPIRY_HORIZON_DAYS
    log("Compliance run: first run (opens every finding)")
    first_run = _timed(lambda: run_compliance(as_of=as_of))
    reverify = settings.READER_LICENSE_REVERIFY_DAYS
    ctx = RuleContext(as_of=as_of, horizon_days=horizon, license_reverify_days=reverify)
    engine = {(d.kind, d.subject_key) for d in detect_all(ctx)}
    sql = {(row[0], row[1]) for row in floor.floor_detections(as_of, horizon, reverify)}
    check = {
        "floor_finds_the_same_problems": engine == sql,
        "detections": len(engine),
        "only_engine": sorted(engine - sql)[:10],
        "only_floor": sorted(sql - engine)[:10],
    }
    log(f"  {len(engine)} detections; floor SQL finds the same: {engine == sql}")
    result = measure(
        "compliance run (whole dataset)",
        lambda: run_compliance(as_of=as_of),
        "one hand-written SQL statement computing the same detections",
        lambda: floor.floor_detections(as_of, horizon, reverify),
        runs=runs,
        target="<= 2.5x floor, < 3 s at large",
        notes=f"steady state (findings already open); the first run, which opens them all, took {first_run:.2f} s",
    )
    return result, check


def bench_compliance_as_of(organization: Organization, as_of: datetime.date, runs: int, log) -> Result:
    """``check_compliance --as-of``: one organization, a year back, read-only (nothing written)."""
    day = as_of - datetime.timedelta(days=365)
    horizon = settings.EXPIRY_HORIZON_DAYS
    log(f"Compliance as of {day} for one organization (read-only)")
    return measure(
        "compliance as of a past day, one organization (read-only)",
        lambda: evaluate_compliance(as_of=day, organization_id=organization.pk),
        "the floor SQL for that day over the whole dataset",
        lambda: floor.floor_detections(day, horizon),
        runs=runs,
        target="< 2 s at large",
        notes="evaluate_compliance under the write guard: stored findings untouched",
    )


def _page_client(user) -> Client:
    from identity.twofactor import SESSION_PENDING_KEY

    client = Client(HTTP_HOST="testserver")
    client.force_login(user)
    # The pages are measured, not the sign-in: past the two-factor step an administrator is asked for.
    session = client.session
    session.pop(SESSION_PENDING_KEY, None)
    session.save()
    return client


def bench_pages(organization: Organization, user, runs: int, log) -> list[Result]:
    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    vendors = Vendor.objects.filter(organization=organization)
    busiest_vendor = vendors.annotate(n=Count("engagements")).order_by("-n", "pk").first()
    last_page = max(1, -(-vendors.count() // 25))
    pages = [
        ("dashboard", "/"),
        ("vendor list, filtered, first page", f"/vendors/?category={VendorCategory.PACS}&phi_access=yes"),
        ("vendor list, deep page", f"/vendors/?page={last_page}"),
        ("coverage matrix", "/coverage/"),
        ("findings list", "/findings/"),
        (f"vendor detail ({busiest_vendor.engagements.count()} engagements)", f"/vendors/{busiest_vendor.pk}/"),
    ]
    results = []
    with override_settings(ROOT_URLCONF="scale.bench_urls", ALLOWED_HOSTS=hosts):
        client = _page_client(user)

        def get(url: str) -> Callable[[], object]:
            def fetch():
                response = client.get(url, secure=secure)
                if response.status_code != 200:
                    raise CommandError(f"GET {url} answered {response.status_code}, not 200.")
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

            return fetch

        trivial = get("/bench/trivial/")
        for name, url in pages:
            log(f"Page: {name} ({url})")
            results.append(
                measure(
                    f"page: {name}",
                    get(url),
                    "trivial view through the same middleware",
                    trivial,
                    runs=runs,
                    target="<= 3x floor, < 200 ms at large, queries independent of the data",
                    notes=url,
                )
            )
    return results


#: Each API list endpoint and the page it is compared with: the page that lists the same rows (25 a
#: page, as the page shows). Engagements and checklist items have no list page of their own: the coverage
#: matrix (engagements by vendor and facility) and the findings list stand in.
API_PAGES = (
    ("facilities", "/api/v1/facilities/?page_size=25", "/facilities/"),
    ("vendors", "/api/v1/vendors/?page_size=25", "/vendors/"),
    ("engagements", "/api/v1/engagements/?page_size=25", "/coverage/"),
    ("agreements", "/api/v1/agreements/?page_size=25", "/agreements/"),
    ("findings, open", "/api/v1/findings/?open=true&page_size=25", "/findings/"),
    ("checklist items", "/api/v1/checklist-items/?page_size=25", "/findings/"),
    ("reports", "/api/v1/reports/?page_size=25", "/reports/"),
)


def bench_api(organization: Organization, user, runs: int, log) -> list[Result]:
    """Each API list endpoint (with a real token, through the whole request handling, the access-log
    write included) against its page, measured alternately in the same run: the ratio is API / page."""
    from api.models import TokenScope
    from api.services import api_token_create

    secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
    hosts = [*settings.ALLOWED_HOSTS, "testserver"]
    results = []
    with override_settings(ALLOWED_HOSTS=hosts), rolled_back():
        _, raw = api_token_create(user=user, name="bench", scope=TokenScope.READ, lifetime_days=1)
        api_client = Client(HTTP_HOST="testserver", HTTP_AUTHORIZATION=f"Bearer {raw}")
        page_client = _page_client(user)

        def get(client: Client, url: str) -> Callable[[], object]:
            def fetch():
                response = client.get(url, secure=secure)
                if response.status_code != 200:
                    raise CommandError(f"GET {url} answered {response.status_code}, not 200.")
                if hasattr(response, "render") and not response.is_rendered:
                    response.render()
                return response

            return fetch

        for name, api_url, page_url in API_PAGES:
            log(f"API: {name} ({api_url}) against the page {page_url}")
            results.append(
                measure(
                    f"api: {name}",
                    get(api_client, api_url),
                    f"the page {page_url}",
                    get(page_client, page_url),
                    runs=runs,
                    target="<= 1.5x the page, queries independent of the data",
                    notes=api_url,
                )
            )
    return results


class _Sink:
    """A local SMTP server that accepts everything and keeps what it received (aiosmtpd)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@contextmanager
def smtp_sink():
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:  # a development dependency (requirements-dev.txt)
        raise CommandError("The alert benchmark needs aiosmtpd: pip install -r requirements-dev.txt") from exc
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    handler = _Sink()
    with socket.socket() as probe:  # a free port (aiosmtpd's controller cannot be given port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def bench_alerts(as_of: datetime.date, count: int, runs: int, log) -> Result:
    """Dispatch ``count`` due alerts to a local SMTP sink, in autocommit as production does (each claim,
    hand-over and outcome is its own transaction); the floor sends the same messages with smtplib and
    pays the same two commits per email (the hand-over before the content, the outcome after).

    The alerts are planned and committed first; before each run they are put back to "pending"
    (untimed), and the alerts this benchmark planned are deleted at the end.
    """
    now = timezone.now()
    if connection.in_atomic_block:
        raise CommandError("The alert benchmark runs in autocommit: call it outside a transaction.")
    last_alert = Alert.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    last_run = DispatchRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with smtp_sink() as (sink, port):
        try:
            # Every organization's first alerts (one organization alone has fewer than 10,000 at large).
            alerts_plan(as_of=as_of, first_alerts_only=True)
            alerts = Alert.objects.filter(pk__gt=last_alert)
            planned = alerts.count()
            keep = list(alerts.order_by("pk").values_list("pk", flat=True)[:count])
            alerts.exclude(pk__in=keep).update(status=SendStatus.SKIPPED)
            kept = Alert.objects.filter(pk__in=keep)
            kept.update(delivery=DeliveryMode.IMMEDIATE)
            get_user_model().objects.filter(alerts_received__pk__in=keep, email="").update(email="bench@example.org")
            log(f"Alert dispatch: {len(keep)} of {planned} planned alerts, to the SMTP sink on port {port}")

            def reset():
                kept.update(
                    status=SendStatus.PENDING,
                    attempts=0,
                    claim_token=None,
                    claimed_at=None,
                    handed_over_at=None,
                    uncertain_at=None,
                    next_attempt_at=None,
                    sent_at=None,
                    last_error="",
                )

            email = {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": port,
                "EMAIL_HOST_USER": "",
                "EMAIL_HOST_PASSWORD": "",
                "EMAIL_USE_TLS": False,
                "EMAIL_USE_SSL": False,
            }

            def dispatch():
                with override_settings(**email):
                    summary = alerts_dispatch(as_of=as_of, now=now, daily=False)
                if summary.sent != len(keep):
                    raise CommandError(f"Alert dispatch sent {summary.sent} of {len(keep)} alerts: {summary.as_dict()}")

            reset()
            dispatch()
            messages = list(zip(keep, sink.messages[-len(keep) :], strict=True))
            table = connection.ops.quote_name(Alert._meta.db_table)
            handed_over = f"UPDATE {table} SET handed_over_at = %s WHERE id = %s"
            sent = f"UPDATE {table} SET status = %s, sent_at = %s WHERE id = %s"

            def floor_send():
                client = smtplib.SMTP("127.0.0.1", port)
                try:
                    with connection.cursor() as cursor:
                        for pk, (mail_from, rcpt_tos, content) in messages:
                            cursor.execute(handed_over, [timezone.now(), pk])  # autocommit: one commit
                            client.sendmail(mail_from, rcpt_tos, content)
                            cursor.execute(sent, [SendStatus.SENT, timezone.now(), pk])  # and the second
                finally:
                    client.quit()

            return measure(
                f"alert dispatch ({len(keep)} due alerts)",
                dispatch,
                "the same messages over one SMTP connection with smtplib, with the same two commits per email",
                floor_send,
                runs=runs,
                setup=reset,
                target="<= 2.5x floor",
                notes=f"immediate delivery, one email per alert, autocommit; {len(keep)} of the {planned} "
                "first alerts due",
            )
        finally:
            Alert.objects.filter(pk__gt=last_alert).delete()
            DispatchRun.objects.filter(pk__gt=last_run).delete()


def bare_table_html(data) -> str:
    """The packet's floor: the same rows as one bare fixed-layout table, no styling, no page furniture."""
    rows = [
        (row.vendor.legal_name, row.engagement.service_description, row.baa_status, str(row.agreement or ""))
        for row in data.inventory
    ]
    rows += [(r.finding.get_kind_display(), r.finding.explanation, r.citation, "") for r in data.findings]
    rows += [
        (b.engagement.vendor.legal_name, b.engagement.service_description, f"{b.done_count} of {len(b.items)}", "")
        for b in data.checklists
    ]
    rows += [
        (b.engagement.vendor.legal_name, i.text, i.status, i.evidence) for b in data.checklists for i in b.open_items
    ]
    rows += [(r.link.vendor.legal_name, r.link.subcontractor.legal_name, r.state, "") for r in data.chains]
    rows += [(c.kind, c.subject, c.who, "; ".join(c.details)) for c in data.changes]
    reviews = data.provision_reviews
    rows += [(name, a.title, f"{a.provisions_present} of {len(a.provisions)}", "") for name, a in reviews]
    rows += [(name, p.provision, p.label, "missing") for name, a in reviews for p in a.provisions_missing]
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        "@page { size: letter; margin: 20mm 15mm } html { font: 7.5pt 'DejaVu Sans' }"
        "table { width: 100%; table-layout: fixed; border-collapse: collapse }"
        "</style></head><body><table>" + body + "</table></body></html>"
    )


def bench_pdf(organization: Organization, user, as_of: datetime.date, runs: int, log) -> Result:
    facility = seeding.flagship_facility()
    engagements = facility.engagements.count()
    log(f"PDF report: {facility.name} ({engagements} engagements)")
    pages: list[int] = []

    def report() -> bytes:
        data = report_data(organization=organization, facility=facility, as_of=as_of, user=user)
        pages.clear()
        return build_pdf(
            data,
            paper_size="letter",
            report_number=1,
            generated_by="bench",
            include_signed_documents=False,
            progress=lambda percent, laid_out: pages.append(laid_out or 0),
        )

    data = report_data(organization=organization, facility=facility, as_of=as_of, user=user)
    bare = bare_table_html(data)
    result = measure(
        f"PDF report of a facility ({engagements} engagements)",
        report,
        "WeasyPrint rendering a bare fixed-layout table of the same rows",
        lambda: html_to_pdf(bare),
        runs=runs,
        rss=True,
        target="<= 2x floor, peak memory <= 400 MiB",
        notes="report data from the database, HTML from the templates, PDF by WeasyPrint, workbook attached",
    )
    result.notes += f"; {max(pages)} pages, progress followed them to the last (WeasyPrint's page events)"
    return result


def import_csv(organization: Organization, rows: int) -> bytes:
    """A deterministic inventory file of ``rows`` rows: new vendors with four engagements each."""
    facilities = list(Facility.objects.filter(organization=organization).order_by("pk").values_list("name", flat=True))
    categories = [c for c, _ in VendorCategory.choices if c != VendorCategory.TELERADIOLOGY] + [
        VendorCategory.TELERADIOLOGY
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "legal_name",
            "category",
            "facility",
            "service_description",
            "phi_receives",
            "phi_maintains",
            "phi_access_starts_on",
            "status",
            "contact_email",
        ]
    )
    for index in range(rows):
        vendor = index // 4
        writer.writerow(
            [
                f"Bench Import Vendor {vendor:05d}",
                categories[vendor % len(categories)],
                facilities[index % len(facilities)],
                f"Imported service {index % 4}",
                "yes",
                "yes" if index % 3 else "no",
                "2025-01-15",
                EngagementStatus.ACTIVE,
                f"privacy{vendor}@vendor.example",
            ]
        )
    return out.getvalue().encode()


def bench_import(organization: Organization, user, rows: int, runs: int, log) -> Result:
    data = import_csv(organization, rows)
    membership = user.membership
    log(f"Import: {rows} rows ({len(data)} bytes)")

    def run_import():
        with rolled_back():
            sheet = importing.read_inventory(io.BytesIO(data), name="inventory.csv")
            result = importing.import_inventory(sheet=sheet, user=user, membership=membership, commit=True)
            if not result.ok:
                raise CommandError(f"The benchmark's import file has errors: {result.errors[:3]}")

    facility_ids = {
        f.name: f.pk for f in Facility.objects.filter(organization=organization).only("name", "organization")
    }

    def floor_insert():
        """The same vendors and engagements written with two bulk inserts: no validation, no history."""
        with rolled_back():
            reader = csv.DictReader(io.StringIO(data.decode()))
            vendors: dict[str, Vendor] = {}
            engagements = []
            for row in reader:
                vendor = vendors.get(row["legal_name"])
                if vendor is None:
                    vendor = vendors[row["legal_name"]] = Vendor(
                        organization=organization,
                        legal_name=row["legal_name"],
                        category=row["category"],
                        contact_email=row["contact_email"],
                    )
                engagements.append(
                    Engagement(
                        vendor=vendor,
                        facility_id=facility_ids[row["facility"]],
                        service_description=row["service_description"],
                        phi_receives=row["phi_receives"] == "yes",
                        phi_maintains=row["phi_maintains"] == "yes",
                        phi_access_starts_on=datetime.date.fromisoformat(row["phi_access_starts_on"]),
                        status=row["status"],
                    )
                )
            Vendor.objects.bulk_create(vendors.values(), batch_size=2000)
            for engagement in engagements:
                engagement.vendor_id = engagement.vendor.pk
            Engagement.objects.bulk_create(engagements, batch_size=2000)

    return measure(
        f"inventory import ({rows} CSV rows, confirmation)",
        run_import,
        "the same vendors and engagements parsed with csv and written with bulk_create",
        floor_insert,
        runs=runs,
        notes="validation of every row, vendors, engagements, teleradiology checklists and their history",
    )


# --- The whole benchmark -------------------------------------------------------------------------

SECTIONS = ("compliance", "pages", "api", "alerts", "pdf", "import", "documents")


def run(
    size: str,
    *,
    sections: tuple[str, ...] = SECTIONS,
    runs: dict[str, int] | None = None,
    as_of: datetime.date | None = None,
    log: Callable[[str], None] = print,
) -> Report:
    runs = {**RUNS, **(runs or {})}
    as_of = as_of or timezone.localdate()
    if ("pages" in sections or "api" in sections) and not settings.DEBUG:
        from django.contrib.staticfiles.storage import staticfiles_storage

        try:
            staticfiles_storage.url("vendor/bootstrap/css/bootstrap.min.css")
        except ValueError as exc:
            raise CommandError(
                "Production settings (DEBUG=false) serve hashed static files: run "
                "`manage.py collectstatic --noinput` first."
            ) from exc
    dataset = ensure_dataset(size, as_of=as_of, log=log)
    organization = seeding.scale_organizations().order_by("name").first()
    user = seeding.scale_admin(organization)  # sees every facility: pages show the whole organization
    report = Report(
        size=size,
        started_at=timezone.now().isoformat(timespec="seconds"),
        machine=machine(),
        dataset=dataset,
    )
    bench_size = SIZES[size]
    if "compliance" in sections:
        result, check = bench_compliance(as_of, runs["compliance"], log)
        report.results.append(result)
        report.checks["compliance"] = check
        report.results.append(bench_compliance_as_of(organization, as_of, runs["compliance"], log))
    elif not Organization.objects.filter(pk=organization.pk, findings__isnull=False).exists():
        run_compliance(as_of=as_of)  # the pages and alerts need the findings
    if "pages" in sections:
        report.results.extend(bench_pages(organization, user, runs["page"], log))
    if "api" in sections:
        report.results.extend(bench_api(organization, user, runs["api"], log))
    if "alerts" in sections:
        report.results.append(bench_alerts(as_of, bench_size.alerts, runs["alerts"], log))
    if "pdf" in sections:
        report.results.append(bench_pdf(organization, user, as_of, runs["pdf"], log))
    if "import" in sections:
        report.results.append(bench_import(organization, user, bench_size.import_rows, runs["import"], log))
    if "documents" in sections:
        from documents.bench import bench_documents

        report.results.extend(
            bench_documents(size, organization, runs["documents"], log, measure=measure, rolled_back=rolled_back)
        )
    return report


def format_table(report: Report) -> str:
    lines = [
        f"{'hot path':<58} {'median':>10} {'floor':>10} {'ratio':>6} {'queries':>8} {'peak MiB':>9} {'RSS MiB':>8}",
    ]
    for r in report.results:
        lines.append(
            f"{r.name[:58]:<58} {_seconds(r.median_s):>10} {_seconds(r.floor_median_s):>10} {r.ratio:>5.2f}x "
            f"{r.queries:>8} {r.peak_memory_bytes / 2**20:>9.1f} {r.peak_rss_bytes / 2**20:>8.1f}"
        )
    return "\n".join(lines)


def _seconds(value: float) -> str:
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def write_json(report: Report, path: str) -> None:
    with open(path, "w") as out:
        json.dump(report.as_dict(), out, indent=2, default=str)
        out.write("\n")


def format_markdown(report: Report) -> str:
    """The results as a Markdown table, for docs/benchmarks.md."""
    m = report.machine
    lines = [
        f"Size **{report.size}** ({', '.join(f'{n:,} {what}' for what, n in report.dataset.items())}), "
        f"run {report.started_at} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, "
        f"PostgreSQL {m['postgresql']}, Python {m['python']}, Django {m['django']}, "
        f"{'DEBUG=true (development settings)' if m.get('debug') else 'DEBUG=false (production settings)'}.",
        "",
        "| hot path | median | floor | floor median | ratio | target | queries | peak Python memory |",
        "|---|---:|---|---:|---:|---|---:|---:|",
    ]
    for r in report.results:
        lines.append(
            f"| {r.name} | {_seconds(r.median_s)} | {r.floor} | {_seconds(r.floor_median_s)} | {r.ratio:.2f}x | "
            f"{r.target or '-'} | {r.queries} | {r.peak_memory_bytes / 2**20:.1f} MiB |"
        )
    return "\n".join(lines) + "\n"
