"""Fixtures of the alert tests: a real SMTP server on loopback (aiosmtpd) that can refuse an address,
answer slowly or go down; an organization whose people should (or should not) be alerted; and the
fault-scenario table printed at the end of the run (alerts expected, delivered, duplicated, lost).

The Redis broker and the Celery worker subprocess come from tests/conftest.py (``celery_worker_factory``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import logging
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from agreements.models import BusinessAssociateAgreement
from compliance.services import run_compliance
from organizations.models import Role
from tests import factories as f
from vendors.models import VendorCategory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every world has eight users: hash their test password cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_broker_pools():
    """tests/support/celery_worker._drop_connections closes the app's connection pool but leaves it in
    kombu's global registry, so the next test using a worker on the same Redis would get that closed pool
    ("Acquire on closed pool"). Forget kombu's pools before each test, and after it (this fixture is torn
    down after the worker fixture), so that the tests of other apps that follow get a fresh pool too."""
    from kombu import pools

    pools.reset()
    yield
    pools.reset()


# --- A real SMTP server ------------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: list[str]
    subject: str
    message: email.message.EmailMessage

    def part(self, content_type: str) -> str:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part.get_content()
        return ""

    @property
    def text(self) -> str:
        return self.part("text/plain")

    @property
    def html(self) -> str:
        return self.part("text/html")


class RecordingHandler:
    """Accepts mail and records it, except for the addresses in ``refuse`` (550, permanently).

    ``mail_delay`` makes the server slow to answer MAIL FROM, before the message is handed over: a
    worker killed while it waits has not delivered that message (nothing is recorded for it).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.mail_delay = 0.0
        self.lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_delay:
            await asyncio.sleep(self.mail_delay)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(
                    message_id=str(message["Message-ID"]),
                    to=list(envelope.rcpt_tos),
                    subject=str(message["Subject"]),
                    message=message,
                )
            )
        return "250 2.0.0 Ok: queued"


# aiosmtpd logs every SMTP command at INFO: keep the failure reports readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port; ``stop()`` and ``start()`` take it down and back up on the
    same port (the worker's EMAIL_URL does not change)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}/?timeout=10"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def count_by_message_id(self) -> Counter:
        return Counter(received.message_id for received in self.received)

    def to(self, address: str) -> list[Received]:
        return [received for received in self.received if address in received.to]


@pytest.fixture
def smtp_server():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """The test process itself sends to the loopback SMTP server (for tests without a worker)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 10
    return smtp_server


# --- An organization with people who should, and should not, be alerted --------------------------------------


@dataclass
class AlertWorld:
    org: object
    center: object
    hospital: object
    admin: object
    officer: object
    center_officer: object
    hospital_officer: object
    viewer: object
    no_email_officer: object
    inactive_officer: object
    outsider: object
    pacs: object
    agreement: BusinessAssociateAgreement
    missing_vendors: list = field(default_factory=list)

    @property
    def expiry_recipients(self) -> set[str]:
        """Who sees the agreement (it covers the imaging center only) and may be alerted."""
        return {self.admin.email, self.officer.email, self.center_officer.email}


def make_world(
    *, expires_in: int = 100, missing: int = 0, pacs_name: str = "Sectra PACS Services", suffix: str = ""
) -> AlertWorld:
    """Lakeside Imaging Network: a PACS vendor whose BAA covers the imaging center only and expires in
    ``expires_in`` days, ``missing`` vendors with PHI access at the center and no BAA, and people of every
    kind: admin and officer (every facility), officers limited to the center or to the hospital, a viewer,
    an officer without an email address, a deactivated officer, and an admin of another organization.
    ``suffix`` tells apart the names of a second world in the same test."""
    org = f.organization(name=f"Lakeside Imaging Network{suffix}")
    center = f.facility(org, name="Lakeside Imaging Center", city="Austin")
    hospital = f.facility(org, name="Riverside Hospital Radiology", kind="hospital")
    pacs = f.vendor(org, legal_name=pacs_name, category=VendorCategory.PACS)
    f.engagement(pacs, center, service_description="PACS and image archive", phi_maintains=True)
    agreement = f.agreement(
        pacs,
        title="Sectra BAA 2024",
        facilities=[center],
        executed_on=f.days(-700),
        expires_on=f.days(expires_in),
    )
    missing_vendors = []
    for number in range(missing):
        vendor = f.vendor(org, legal_name=f"Unsigned AI Tool {number + 1}", category=VendorCategory.AI_DIAGNOSTIC)
        f.engagement(vendor, center, service_description="Triage")
        missing_vendors.append(vendor)
    world = AlertWorld(
        org=org,
        center=center,
        hospital=hospital,
        admin=f.user(org, role=Role.ADMIN, username=f"ada{suffix}", first_name="Ada", last_name="Admin"),
        officer=f.user(
            org, role=Role.COMPLIANCE_OFFICER, username=f"olivia{suffix}", first_name="Olivia", last_name="Officer"
        ),
        center_officer=f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[center], username=f"cora{suffix}"),
        hospital_officer=f.user(org, role=Role.COMPLIANCE_OFFICER, facilities=[hospital], username=f"hal{suffix}"),
        viewer=f.user(org, role=Role.VIEWER, username=f"vera{suffix}"),
        no_email_officer=f.user(org, role=Role.COMPLIANCE_OFFICER, username=f"nomail{suffix}", email=""),
        inactive_officer=f.user(org, role=Role.COMPLIANCE_OFFICER, username=f"gone{suffix}", is_active=False),
        outsider=f.user(f.organization(name=f"Other Health{suffix}"), role=Role.ADMIN, username=f"outsider{suffix}"),
        pacs=pacs,
        agreement=agreement,
        missing_vendors=missing_vendors,
    )
    return world


@pytest.fixture
def alert_world(db) -> AlertWorld:
    return make_world()


def run_rules(world: AlertWorld, as_of) -> None:
    run_compliance(organization_id=world.org.pk, as_of=as_of)


# --- The fault scenarios' table -------------------------------------------------------------------------------

_SCENARIOS: list[dict] = []


def record_scenario(name: str, *, expected: dict[int, str], counts: Counter, note: str = "") -> dict:
    """Measure a fault scenario at the SMTP server, per alert: ``expected`` maps each alert that should go
    out to the Message-ID of the email carrying it (its own, or its digest's); ``counts`` is how many
    times the server received each Message-ID.

    Delivered: alerts whose email arrived; duplicated: extra copies of an alert received; lost: alerts
    whose email never arrived. Emails are counted too (a digest is one email carrying several alerts).
    """
    received_ids = set(counts)
    expected_ids = set(expected.values())
    row = {
        "scenario": name,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "expected": len(expected),
        "delivered": sum(1 for message in expected.values() if message in received_ids),
        "duplicated": sum(max(counts[message] - 1, 0) for message in expected.values()),
        "lost": sum(1 for message in expected.values() if message not in received_ids),
        "emails_expected": len(expected_ids),
        "emails_received": sum(counts.values()),
        "unexpected_emails": len(received_ids - expected_ids),
        "note": note,
    }
    _SCENARIOS.append(row)
    return row


def pytest_terminal_summary(terminalreporter):
    if not _SCENARIOS:
        return
    terminalreporter.section("alert fault scenarios (measured)")
    terminalreporter.write_line(
        f"{'scenario':<32} {'db':<10} {'alerts expected':>15} {'delivered':>9} {'duplicated':>10} {'lost':>5}"
        f" {'emails expected':>15} {'received':>8}"
    )
    for row in _SCENARIOS:
        terminalreporter.write_line(
            f"{row['scenario']:<32} {row['database']:<10} {row['expected']:>15} {row['delivered']:>9} "
            f"{row['duplicated']:>10} {row['lost']:>5} {row['emails_expected']:>15} {row['emails_received']:>8}"
            + (f"  ({row['note']})" if row["note"] else "")
        )
    path = settings.VAR_DIR / f"alerts-fault-scenarios-{_SCENARIOS[0]['database']}.json"
    path.write_text(json.dumps(_SCENARIOS, indent=2))
    terminalreporter.write_line(f"(written to {path})")
