"""Fixtures of the alert tests: a real SMTP server on loopback (aiosmtpd) that can refuse an address,
answer slowly or go down; an organization whose people should (or should not) be alerted; and the
fault-scenario table printed at the end of the run (alerts expected, delivered, duplicated, lost).

The Redis broker and the Celery worker subprocess come from tests/conftest.py (``celery_worker_factory``).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller

from agreements.models import BusinessAssociateAgreement
from compliance.services import run_compliance
from organizations.models import Role
from tests import factories as f
from vendors.models import VendorCategory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every world has eight users: hash their test password cheaply."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- A real SMTP server ------------------------------------------------------------------------------------


@dataclass
class Received:
    message_id: str
    to: list[str]
    subject: str
    message: email.message.EmailMessage
    #: time.monotonic() when the server had the whole message (before it replied, or dropped).
    arrived_at: float = 0.0

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

    Faults, set by a test: ``mail_delay`` makes the server slow to answer MAIL FROM, before the message
    is handed over (a worker killed while it waits has not delivered that message); ``pause_mail`` and
    ``pause_data`` pause (``pause_seconds``) the next N answers to MAIL FROM, or to the end of the
    content (the message is recorded first: the server has it, the client does not know);
    ``drop_after_data`` records the next N messages (-1: every one) and then drops the connection
    without answering; ``refuse_message`` answers 552 after the content to the messages it matches
    (e.g. "message too large"). ``pausing`` says where the server is pausing now.
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.refuse: set[str] = set()
        self.mail_delay = 0.0
        self.pause_mail = 0
        self.pause_data = 0
        self.pause_seconds = 0.0
        self.pausing = ""
        self.drop_after_data = 0
        self.refuse_message = None
        self.lock = threading.Lock()

    async def _pause(self, where: str) -> None:
        self.pausing = where
        try:
            await asyncio.sleep(self.pause_seconds)
        finally:
            self.pausing = ""

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_delay:
            await asyncio.sleep(self.mail_delay)
        if self.pause_mail:
            self.pause_mail -= 1
            await self._pause("MAIL")
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
        received = Received(
            message_id=str(message["Message-ID"]),
            to=list(envelope.rcpt_tos),
            subject=str(message["Subject"]),
            message=message,
            arrived_at=time.monotonic(),
        )
        if self.refuse_message is not None and self.refuse_message(received):
            return "552 5.3.4 Message too big for this recipient's mailbox"
        with self.lock:
            self.received.append(received)
        if self.drop_after_data:
            self.drop_after_data -= 1 if self.drop_after_data > 0 else 0
            server.transport.abort()  # the server has the message; the client gets no answer
            return "250 2.0.0 Ok: queued (never heard)"
        if self.pause_data:
            self.pause_data -= 1
            await self._pause("DATA")
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

    def __init__(self, timeout: int = 10) -> None:
        self.port = free_port()
        self.timeout = timeout
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}/?timeout={self.timeout}"

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

    def first_arrivals(self) -> dict[str, float]:
        """When each Message-ID first arrived (time.monotonic())."""
        first: dict[str, float] = {}
        for received in self.received:
            first.setdefault(received.message_id, received.arrived_at)
        return first


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


def record_scenario(
    name: str,
    *,
    expected: dict[int, str],
    counts: Counter,
    note: str = "",
    uncertain: set[int] | None = None,
    started_at: float | None = None,
    arrivals: dict[str, float] | None = None,
) -> dict:
    """Measure a fault scenario at the SMTP server, per alert, and add it to the fault table
    (tests/support/fault_table.py): ``expected`` maps each alert that should go out to the Message-ID
    of the email carrying it (its own, or its digest's); ``counts`` is how many times the server
    received each Message-ID; ``uncertain`` the alerts whose outcome was once unknown; ``started_at``
    and ``arrivals`` (time.monotonic()) give the max delay.

    Delivered: alerts whose email arrived; duplicated: extra copies of an alert received; lost: alerts
    whose email never arrived. Emails are counted too (a digest is one email carrying several alerts).
    """
    from tests.support.fault_table import add_row

    received_ids = set(counts)
    expected_ids = set(expected.values())
    delays = [
        arrivals[message] - started_at
        for message in expected.values()
        if arrivals is not None and started_at is not None and message in arrivals
    ]
    row = {
        "scenario": name,
        "expected": len(expected),
        "delivered": sum(1 for message in expected.values() if message in received_ids),
        "duplicated": sum(max(counts[message] - 1, 0) for message in expected.values()),
        "lost": sum(1 for message in expected.values() if message not in received_ids),
        "emails_expected": len(expected_ids),
        "emails_received": sum(counts.values()),
        "unexpected_emails": len(received_ids - expected_ids),
        "uncertain": len(uncertain or ()),
        "max_delay": max(delays) if delays else None,
        "note": note,
    }
    add_row(
        name,
        due=row["expected"],
        delivered=row["delivered"],
        duplicates=row["duplicated"],
        lost=row["lost"],
        uncertain=row["uncertain"],
        max_delay=row["max_delay"],
        note=note or f"{row['emails_received']} emails received, {row['emails_expected']} expected",
    )
    return row
