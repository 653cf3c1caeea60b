"""The load test of the scale issue: the production web service under N concurrent simulated users.

``manage.py loadtest`` starts Gunicorn with the project's gunicorn.conf.py and production settings
(DEBUG=false, a throwaway SECRET_KEY, HTTPS told by X-Forwarded-Proto as behind the reverse proxy) on
loopback, against the command's own database. wrk (scale/loadtest.lua) then plays the users: one
connection per user, each request a page that a compliance officer browses (dashboard, lists with
their filters and deep pages, detail pages), cycling through a URL list built from the organization's
data. Every request carries a real session of one member, made without the login form.

An error is any response other than 2xx (a redirect to the login page included), a socket error or a
response slower than the timeout. The result reports them with the latency percentiles.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from importlib import import_module
from pathlib import Path
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.core.management import call_command
from django.core.management.utils import get_random_secret_key
from django.db import connection
from django.db.models import Case, Count, Exists, OuterRef, Q, Value, When
from django.test.utils import override_settings
from django.utils import timezone

from agreements.models import AgreementStatus, BusinessAssociateAgreement
from agreements.selectors import ExpiryWindow
from agreements.views import PER_PAGE as AGREEMENTS_PER_PAGE
from alerts.views import ALERTS_PER_PAGE
from compliance.models import Finding, FindingKind, Severity
from compliance.selectors import FindingState
from compliance.views import FINDINGS_PER_PAGE
from facilities.models import Facility
from facilities.views import PER_PAGE as FACILITIES_PER_PAGE
from organizations.models import Membership, Organization, Role
from organizations.querysets import Action
from vendors.models import Vendor
from vendors.selectors import BaaStatus
from vendors.views import PER_PAGE as VENDORS_PER_PAGE

BASE_DIR = Path(settings.BASE_DIR)
GUNICORN_CONFIG = BASE_DIR / "gunicorn.conf.py"
LUA_SCRIPT = Path(__file__).with_name("loadtest.lua")
HOST = "127.0.0.1"
#: The two cores of the machine: one wrk thread each (Gunicorn's workers share them).
WRK_THREADS = 2
RESULT_MARKER = "LOADTEST_RESULT "
#: Every simulated user sends this, as the TLS-terminating proxy of production would
#: (settings.SECURE_PROXY_SSL_HEADER); without it production redirects to https://.
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}

#: How many entries of the URL list each kind of page gets: a compliance officer looks at vendors
#: most, then the dashboard, findings and agreements.
URL_MIX: dict[str, int] = {
    "dashboard": 40,
    "vendor_list": 70,
    "vendor_detail": 100,
    "facility_list": 15,
    "facility_detail": 30,
    "coverage": 20,
    "finding_list": 40,
    "agreement_list": 30,
    "agreement_detail": 45,
    "alerts": 15,
}

# Gunicorn's own entry point, except that the access log is off whatever the configuration says:
# formatting and writing one line per request would be part of every measured latency. The command
# line (-c gunicorn.conf.py, --bind, --workers) is read exactly as `gunicorn` reads it.
GUNICORN_WITHOUT_ACCESS_LOG = """
import sys
from gunicorn.app.wsgiapp import WSGIApplication

class Application(WSGIApplication):
    def load_config(self):
        super().load_config()
        self.cfg.set("accesslog", None)

sys.argv[0] = "gunicorn"
Application("%(prog)s [OPTIONS] [APP_MODULE]", prog="gunicorn").run()
"""


class LoadTestError(Exception):
    """The load test could not run (no wrk, Gunicorn did not start, the session was refused...)."""


@dataclass(frozen=True)
class LoadTestOptions:
    users: int = 50
    duration_s: int = 60
    workers: int | None = None  # None: what gunicorn.conf.py says (WEB_CONCURRENCY, default 3)
    organization_id: int | None = None  # None: the organization with the most engagements
    timeout_s: int = 10
    port: int = 0  # 0: a free port
    seed: int = 0


@dataclass
class LoadTestResult:
    users: int
    duration_s: int
    requests: int
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    requests_per_s: float
    workers: int
    urls: int
    measured_s: float
    timeout_s: int
    organization: str
    user: str
    database: str
    error_counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    requests_by_kind: dict[str, int] = field(default_factory=dict)
    failing_urls: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"Load test of {self.organization} as {self.user} ({self.database}, {self.workers} Gunicorn workers)",
            f"  users          {self.users} concurrent, {self.duration_s} s ({self.measured_s:.1f} s measured)",
            f"  URLs           {self.urls} in the cycle",
            f"  requests       {self.requests} ({self.requests_per_s:.1f}/s)",
            f"  errors         {self.errors}  "
            + ", ".join(f"{name} {count}" for name, count in self.error_counts.items()),
            f"  latency        p50 {self.p50_ms:.1f} ms, p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"max {self.max_ms:.1f} ms",
            "  statuses       " + ", ".join(f"{code}: {n}" for code, n in self.statuses.items()),
            "  sent by kind   " + ", ".join(f"{kind} {n}" for kind, n in self.requests_by_kind.items()),
        ]
        if self.failing_urls:
            lines.append("  failing URLs (probed once after the run):")
            lines.extend(f"    {line}" for line in self.failing_urls)
        return "\n".join(lines)


# --- Who browses, and what ---------------------------------------------------------------------------


def default_organization() -> Organization:
    """The organization with the most engagements (ties: the oldest) that has an active member (an
    archived scale dataset, whose users are deactivated, is not browsed)."""
    with_members = Exists(Membership.objects.filter(organization=OuterRef("pk"), user__is_active=True))
    organization = (
        Organization.objects.filter(with_members).annotate(n=Count("vendors__engagements")).order_by("-n", "pk").first()
    )
    if organization is None:
        raise LoadTestError("There is no organization in the database: seed one first (seed_demo or seed_scale).")
    return organization


def load_test_user(organization: Organization):
    """The member whose sessions browse: an active administrator or compliance officer, preferably one who
    sees every facility; administrators first, then by username, so the same database gives the same user."""
    today = timezone.localdate()
    membership = (
        Membership.objects.filter(
            organization=organization,
            role__in=[Role.ADMIN, Role.COMPLIANCE_OFFICER],
            user__is_active=True,
        )
        .filter(Q(access_expires_on__isnull=True) | Q(access_expires_on__gte=today))
        .annotate(
            facility_limits=Count("facilities"),
            role_rank=Case(When(role=Role.ADMIN, then=Value(0)), default=Value(1)),
        )
        .select_related("user")
        .order_by("facility_limits", "role_rank", "user__username")
        .first()
    )
    if membership is None:
        raise LoadTestError(
            f"{organization} has no active administrator or compliance officer to browse as; add a membership."
        )
    return membership.user


def _path(base: str, **query) -> str:
    query = {key: value for key, value in query.items() if value not in (None, "")}
    return f"{base}?{urlencode(query)}" if query else base


def _last_page(count: int, per_page: int) -> int:
    return max(1, math.ceil(count / per_page))


def _search_terms(names: list[str], rng: random.Random, count: int) -> list[str]:
    """Words of some vendor names, as a user would type them (some whole, some the first letters)."""
    words = sorted({word.strip(".,()").lower() for name in names for word in name.split() if len(word) >= 4})
    picked = rng.sample(words, min(count, len(words)))
    return [word if i % 2 else word[:4] for i, word in enumerate(picked)] + ["no-such-vendor"]


def browse_urls(user, *, seed: int = 0) -> list[tuple[str, str]]:
    """The (kind, path) list the simulated users cycle through, built from what ``user`` may see.

    Every path is a GET that answers 200 for this user: ids come through the permission gate
    (``restrict``), a page number past the end is served as the last page. The same data and seed
    give the same list.
    """
    rng = random.Random(seed)
    vendors = list(
        Vendor.objects.restrict(user, Action.VIEW).order_by("pk").values_list("pk", "legal_name", "category")
    )
    facilities = list(Facility.objects.restrict(user, Action.VIEW).order_by("pk").values_list("pk", flat=True))
    agreements = list(
        BusinessAssociateAgreement.objects.restrict(user, Action.VIEW).order_by("pk").values_list("pk", flat=True)
    )
    finding_count = Finding.objects.restrict(user, Action.VIEW).count()
    vendor_ids = [pk for pk, _name, _category in vendors]
    terms = _search_terms([name for _pk, name, _category in vendors], rng, 4)
    some_facilities = rng.sample(facilities, min(5, len(facilities)))
    some_vendors = rng.sample(vendor_ids, min(5, len(vendor_ids)))

    vendor_last = _last_page(len(vendors), VENDORS_PER_PAGE)
    variants: dict[str, list[str]] = {
        "dashboard": ["/"],
        "vendor_list": [
            "/vendors/",
            _path("/vendors/", page=1),
            _path("/vendors/", page=vendor_last),
            _path("/vendors/", page=max(1, vendor_last // 2)),
            *(_path("/vendors/", category=c) for c in sorted({category for _pk, _name, category in vendors})),
            *(_path("/vendors/", facility=pk) for pk in some_facilities),
            *(_path("/vendors/", baa_status=status) for status in BaaStatus.values),
            _path("/vendors/", phi_access="yes"),
            _path("/vendors/", phi_access="no", page=2),
            *(_path("/vendors/", q=term) for term in terms),
            _path("/vendors/", sort="status"),
            _path("/vendors/", sort="-findings", page=vendor_last),
            _path("/vendors/", baa_status=BaaStatus.MISSING, facility=some_facilities[0] if facilities else None),
        ],
        "vendor_detail": [f"/vendors/{pk}/" for pk in vendor_ids],
        "facility_list": [
            "/facilities/",
            _path("/facilities/", show="all"),
            _path("/facilities/", show="inactive"),
            _path("/facilities/", q=terms[0][:3] if terms else "a"),
            _path("/facilities/", show="all", page=_last_page(len(facilities), FACILITIES_PER_PAGE)),
        ],
        "facility_detail": [f"/facilities/{pk}/" for pk in facilities],
        "coverage": ["/coverage/", _path("/coverage/", gaps=1)],
        "finding_list": [
            "/findings/",
            _path("/findings/", state=FindingState.ALL),
            _path("/findings/", state=FindingState.RESOLVED),
            _path("/findings/", state=FindingState.UNACKNOWLEDGED),
            _path("/findings/", state=FindingState.ALL, page=_last_page(finding_count, FINDINGS_PER_PAGE)),
            *(_path("/findings/", severity=severity) for severity in Severity.values),
            *(_path("/findings/", kind=kind) for kind in rng.sample(FindingKind.values, 4)),
            *(_path("/findings/", facility=pk) for pk in some_facilities[:3]),
            *(_path("/findings/", vendor=pk, state=FindingState.ALL) for pk in some_vendors[:3]),
        ],
        "agreement_list": [
            "/agreements/",
            _path("/agreements/", status=AgreementStatus.EXECUTED),
            _path("/agreements/", status=AgreementStatus.DRAFT),
            _path("/agreements/", expiry=ExpiryWindow.WITHIN_90),
            _path("/agreements/", expiry=ExpiryWindow.EXPIRED),
            _path("/agreements/", archived="all", sort="expires"),
            _path("/agreements/", archived="all", page=_last_page(len(agreements), AGREEMENTS_PER_PAGE)),
            *(_path("/agreements/", q=term) for term in terms[:2]),
            *(_path("/agreements/", vendor=pk) for pk in some_vendors[:3]),
        ],
        "agreement_detail": [f"/agreements/{pk}/" for pk in agreements],
        "alerts": ["/alerts/", _path("/alerts/", page=2), _path("/alerts/", page=10_000 // ALERTS_PER_PAGE)],
    }

    urls: list[tuple[str, str]] = []
    for kind, slots in URL_MIX.items():
        paths = variants[kind]
        if not paths:
            continue  # e.g. an organization without agreements yet
        # Every variant once (as far as the slots go), the rest drawn at random.
        chosen = rng.sample(paths, min(slots, len(paths)))
        chosen += [rng.choice(paths) for _ in range(slots - len(chosen))]
        urls.extend((kind, path) for path in chosen)
    rng.shuffle(urls)
    return urls


# --- Sessions ------------------------------------------------------------------------------------------


def create_sessions(user, count: int, *, secret_key: str) -> list[str]:
    """``count`` signed-in sessions of ``user``, as django.contrib.auth.login would store them, for a server
    whose SECRET_KEY is ``secret_key`` (the session data and the auth hash are signed with it).

    One session per simulated user: a request renews its session at most once a minute (the idle
    logoff of 164.312(a)(2)(iii), baatracker/sessions.py), and real users do not all write the same row.
    """
    engine = import_module(settings.SESSION_ENGINE)
    keys = []
    with override_settings(SECRET_KEY=secret_key, SECRET_KEY_FALLBACKS=[]):
        for _ in range(count):
            session = engine.SessionStore()
            session[SESSION_KEY] = user._meta.pk.value_to_string(user)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = user.get_session_auth_hash()
            session.create()
            keys.append(session.session_key)
    return keys


def delete_sessions(keys: list[str]) -> None:
    engine = import_module(settings.SESSION_ENGINE)
    for key in keys:
        engine.SessionStore(session_key=key).delete()


# --- The server --------------------------------------------------------------------------------------


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL for the database a connection uses now (in a test: the test database)."""
    name = str(settings_dict["NAME"])
    if settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        if name == ":memory:" or "mode=memory" in name:
            raise LoadTestError("Gunicorn cannot share an in-memory SQLite database; use a file or PostgreSQL.")
        return f"sqlite:///{name}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "localhost"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"


def configured_workers() -> int:
    """The number of workers gunicorn.conf.py gives in this environment (WEB_CONCURRENCY, default 3)."""
    return int(runpy.run_path(str(GUNICORN_CONFIG))["workers"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def collect_static(var_dir: Path) -> None:
    """Collect the static files into ``var_dir``/staticfiles with their manifest.

    Production pages name every static file by its hashed name from staticfiles.json, so they need the
    manifest. The files themselves are not requested (a browser keeps them: hashed names are cached for
    a year), so WhiteNoise's compressed copies, 20 s of brotli and gzip on two cores, are left out; the
    manifest storage gives the same names.
    """
    storages = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }
    with override_settings(STATIC_ROOT=var_dir / "staticfiles", STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)


@dataclass
class GunicornServer:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "Gunicorn log (last lines):\n" + "\n".join(text.splitlines()[-lines:])

    def get(self, path: str, headers: dict[str, str] | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
        """One GET, redirects not followed: (status, headers, body)."""
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers={**PROXY_HEADERS, **(headers or {})})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LoadTestError(f"Gunicorn exited with code {self.process.returncode}.\n{self.log_tail()}")
            try:
                status, _headers, _body = self.get("/healthz", timeout=5)
            except OSError:
                status = None
            if status == 200:
                return
            time.sleep(0.2)
        raise LoadTestError(f"Gunicorn did not answer /healthz with 200 within {timeout:g} s.\n{self.log_tail()}")

    def stop(self, timeout: float = 40) -> None:
        """SIGTERM: Gunicorn's graceful shutdown (requests in flight finish); SIGKILL if it hangs."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def gunicorn_server(*, workers: int, port: int, secret_key: str, var_dir: Path) -> Iterator[GunicornServer]:
    """Gunicorn as production runs it (gunicorn.conf.py, DEBUG=false), on loopback, stopped on the way out."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secret_key,
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": database_url(connection.settings_dict),
        # Static files collected for this run, the mail and broker directories of the settings: all scratch.
        "BAATRACKER_VAR_DIR": str(var_dir),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-c",
        GUNICORN_WITHOUT_ACCESS_LOG,
        "--config",
        str(GUNICORN_CONFIG),
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(workers),
        # Gunicorn's management socket, by default one per user ($HOME/.gunicorn/gunicorn.ctl): this run's own,
        # so that a load test beside another Gunicorn on the machine takes nothing from it.
        "--control-socket",
        str(var_dir / "gunicorn.ctl"),
        "baatracker.wsgi",
    ]
    log_path = var_dir / "gunicorn.log"
    with log_path.open("ab") as log:
        # A session of its own: Ctrl-C reaches this process only, which then stops Gunicorn gracefully.
        process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = GunicornServer(process=process, port=port, log_path=log_path)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM (e.g. from a CI time limit) unwinds like Ctrl-C, so Gunicorn and the sessions are cleaned up."""

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, raise_interrupt)
    except ValueError:  # not the main thread: leave the default
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- The run -----------------------------------------------------------------------------------------


def check_signed_in(server: GunicornServer, cookie: str) -> None:
    """The dashboard answers 200 to the session cookie: not a redirect to the login page, not a 403."""
    status, headers, _body = server.get("/", headers={"Cookie": cookie})
    if status != 200:
        where = headers.get("Location", "")
        raise LoadTestError(
            f"The dashboard answered {status}{' -> ' + where if where else ''} to the load test's session: "
            f"the simulated users would not be signed in.\n{server.log_tail()}"
        )


def run_wrk(*, server: GunicornServer, options: LoadTestOptions, url_file: Path, cookie_file: Path) -> dict:
    wrk = shutil.which("wrk")
    threads = min(WRK_THREADS, options.users)
    command = [
        wrk,
        "--threads",
        str(threads),
        "--connections",
        str(options.users),
        "--duration",
        f"{options.duration_s}s",
        "--timeout",
        f"{options.timeout_s}s",
        "--latency",
        "--script",
        str(LUA_SCRIPT),
        server.url,
        "--",
        str(url_file),
        str(cookie_file),
        str(threads),
    ]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=options.duration_s + options.timeout_s + 60,
        start_new_session=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise LoadTestError(f"wrk exited with code {completed.returncode} without a result:\n{completed.stderr}")


def failing_urls(server: GunicornServer, cookie: str, paths: list[str], limit: int = 20) -> list[str]:
    """Each distinct path requested once, after a run with errors: which ones do not answer 200?"""
    failing = []
    for path in sorted(set(paths)):
        try:
            status, headers, _body = server.get(path, headers={"Cookie": cookie})
        except OSError as exc:
            failing.append(f"{path}: {exc}")
            continue
        if status != 200:
            failing.append(f"{path}: {status} {headers.get('Location', '')}".rstrip())
        if len(failing) >= limit:
            break
    return failing


def run_load_test(options: LoadTestOptions, *, log: Callable[[str], None] = print) -> LoadTestResult:
    if shutil.which("wrk") is None:
        raise LoadTestError("wrk is not installed (Debian/Ubuntu: apt-get install wrk).")
    if options.users < 1 or options.duration_s < 1:
        raise LoadTestError("--users and --duration must be at least 1.")
    if options.organization_id is None:
        organization = default_organization()
    else:
        organization = Organization.objects.filter(pk=options.organization_id).first()
        if organization is None:
            raise LoadTestError(f"There is no organization with id {options.organization_id}.")
    user = load_test_user(organization)
    urls = browse_urls(user, seed=options.seed)
    workers = options.workers or configured_workers()
    port = options.port or free_port()
    secret_key = get_random_secret_key()  # 50 characters: what production mode requires
    log(f"{organization} (id {organization.pk}) as {user.get_username()}: {len(urls)} URLs")

    with (
        _terminate_raises(),
        tempfile.TemporaryDirectory(prefix="baatracker-loadtest-") as scratch,
    ):
        var_dir = Path(scratch)
        url_file, cookie_file = var_dir / "urls.txt", var_dir / "cookies.txt"
        url_file.write_text("".join(f"{kind} {path}\n" for kind, path in urls))
        collect_static(var_dir)
        session_keys = create_sessions(user, options.users, secret_key=secret_key)
        cookies = [f"{settings.SESSION_COOKIE_NAME}={key}" for key in session_keys]
        cookie_file.write_text("".join(f"{cookie}\n" for cookie in cookies))
        try:
            with gunicorn_server(workers=workers, port=port, secret_key=secret_key, var_dir=var_dir) as server:
                log(f"Gunicorn on {server.url}, {workers} workers; waiting for /healthz")
                server.wait_ready()
                check_signed_in(server, cookies[0])
                log(f"{options.users} users for {options.duration_s} s (wrk)")
                raw = run_wrk(server=server, options=options, url_file=url_file, cookie_file=cookie_file)
                result = _result(raw, options=options, workers=workers, urls=urls, organization=organization, user=user)
                if result.errors:
                    result.failing_urls = failing_urls(server, cookies[0], [path for _kind, path in urls])
                    log(server.log_tail())
        finally:
            delete_sessions(session_keys)
    return result


def _result(raw: dict, *, options, workers, urls, organization, user) -> LoadTestResult:
    error_counts = {name: int(raw[name]) for name in ("non_2xx", "connect", "read", "write", "timeout")}
    measured_s = raw["duration_us"] / 1e6
    return LoadTestResult(
        users=options.users,
        duration_s=options.duration_s,
        requests=int(raw["requests"]),
        errors=sum(error_counts.values()),
        p50_ms=round(raw["p50_us"] / 1000, 1),
        p95_ms=round(raw["p95_us"] / 1000, 1),
        p99_ms=round(raw["p99_us"] / 1000, 1),
        max_ms=round(raw["max_us"] / 1000, 1),
        requests_per_s=round(raw["requests"] / measured_s, 1) if measured_s else 0.0,
        workers=workers,
        urls=len(urls),
        measured_s=round(measured_s, 2),
        timeout_s=options.timeout_s,
        organization=f"{organization.name} (id {organization.pk})",
        user=user.get_username(),
        database=connection.vendor,
        error_counts=error_counts,
        statuses={str(code): n for code, n in sorted(raw["statuses"].items())},
        requests_by_kind=dict(Counter(raw["sent"]).most_common()),
    )
