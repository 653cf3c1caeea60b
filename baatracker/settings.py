"""Settings for BAA Tracker, read strictly from the environment (see .env.example).

The embedded default (no variables set) is a development setup: SQLite under var/, a filesystem
Celery broker under var/, email written to var/mail. DEBUG=false is production mode, which refuses
the development secret key and requires ALLOWED_HOSTS.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from baatracker.env import (
    email_settings_from_url,
    env_bool,
    env_database,
    env_int,
    env_int_list,
    env_list,
    env_str,
    env_time,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BAATRACKER_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEVELOPMENT_SECRET_KEY = "development-only-not-secret-0f4c1d1e"
DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

if not DEBUG:
    if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in production (DEBUG=false); the development key is refused."
        )
    if len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters long in production.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list the host names this app serves in production (DEBUG=false)."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_filters",
    "simple_history",
    "axes",
    "baatracker",  # the shared layout's template tags (baatracker/templatetags/ui.py)
    "organizations",
    "facilities",
    "vendors",
    "agreements",
    "checklists",
    "readers",
    "compliance",
    "alerts",
    "reports",
    "scale",
    # Reading signed documents: safety check, text and OCR, provision review (issue 12).
    "documents",
    # Bulk onboarding of signed BAAs: the review queue (issue 12 item 4).
    "onboarding",
]

# --- REST API and calendar feeds (issue #14, "api"): apps, DRF and drf-spectacular -------------------
INSTALLED_APPS += [
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served by the app itself: no CDN
    "api",
    "calendars",
]
REST_FRAMEWORK = {
    # A personal API token (Authorization: Bearer ...), or the browser's session (the docs page).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # The one permission gate: api.base.RestrictedViewSet restricts every queryset.
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.GatePermission"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.base.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BAA Tracker API",
    "DESCRIPTION": "Vendors, engagements, business associate agreements, findings, checklists and audit "
    "reports of your organization, within your role and facilities. See docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["api.permissions.GatePermission"],
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "EngagementStatusEnum": "vendors.models.EngagementStatus",
        "AgreementStatusEnum": "agreements.models.AgreementStatus",
        "AgreementCreateStatusEnum": "api.serializers.AGREEMENT_CREATE_STATUS_CHOICES",
        "ChecklistItemStatusEnum": "checklists.models.ItemStatus",
        "ChecklistItemManualStatusEnum": "api.serializers.ITEM_MANUAL_STATUS_CHOICES",
        "ReportStatusEnum": "reports.models.ReportStatus",
        "FacilityKindEnum": "facilities.models.FacilityKind",
        "DocumentKindEnum": "agreements.models.DocumentKind",
        "FindingKindEnum": "compliance.models.FindingKind",
    },
}
# --- end of the REST API block ------------------------------------------------------------------------

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads a body: refuses one over the limit from its Content-Length (baatracker/limits.py).
    "baatracker.limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Renews a signed-in session at most once a minute (idle logoff, baatracker/sessions.py).
    "baatracker.sessions.SessionRenewalMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: no-store for signed-in users, and a Permissions-Policy (baatracker/headers.py).
    "baatracker.headers.SecurityHeadersMiddleware",
    # Every page requires sign-in and an active membership (login_not_required views are exempt).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "organizations.middleware.ActiveMembershipMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "baatracker.urls"
WSGI_APPLICATION = "baatracker.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "organizations.context_processors.membership",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so that a Celery worker started by a test sees the test database.
    test_name = Path(DATABASES["default"]["NAME"]).stem
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_{test_name}.sqlite3")}
    # IMMEDIATE: a transaction takes the write lock when it begins, so two writers (a web request and
    # a Celery worker) wait for each other (up to the timeout) instead of one failing at once with
    # "database is locked" when both had read first (SQLite's deadlock avoidance).
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: the pages' queries cost more than PostgreSQL's JIT threshold on a large
    # inventory, and compiling them took 40-250 ms per query, more than running them (docs/benchmarks.md).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "compliance:dashboard"
LOGOUT_REDIRECT_URL = "login"

# 45 CFR 164.312(a)(2)(iii): automatic logoff after a period of inactivity. A signed-in request
# renews the session at most once a minute (baatracker/sessions.py), so it ends at most
# IDLE_LOGOFF_MINUTES after the last request, without a session UPDATE on every page.
IDLE_LOGOFF_MINUTES = env_int("IDLE_LOGOFF_MINUTES", 15, minimum=1, maximum=24 * 60)
SESSION_COOKIE_AGE = IDLE_LOGOFF_MINUTES * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Login throttling (django-axes) behind the reverse proxy: baatracker/signin.py says why. A user name +
# address pair is locked after LOGIN_FAILURE_LIMIT failures (so nobody locks an account out for
# everyone), an address after LOGIN_ADDRESS_FAILURE_LIMIT failures across user names.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_ADDRESS_FAILURE_LIMIT = env_int("LOGIN_ADDRESS_FAILURE_LIMIT", 30, minimum=1)
AXES_COOLOFF_TIME = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "baatracker.signin.AddressThrottledAxesHandler"
# The number of reverse proxies in front of Gunicorn that append to X-Forwarded-For (docker-compose.yml:
# one). 0: none, the client's address is REMOTE_ADDR and X-Forwarded-For is ignored.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
from baatracker.proxy import proxy_settings  # noqa: E402

globals().update(proxy_settings(trusted_proxy_count=TRUSTED_PROXY_COUNT))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "America/New_York")
try:
    import zoneinfo

    zoneinfo.ZoneInfo(TIME_ZONE)
except Exception:
    raise ImproperlyConfigured(f"TIME_ZONE={TIME_ZONE!r} is not a known time zone, e.g. America/Chicago.") from None
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
_NODE_MODULES = BASE_DIR / "node_modules"
for _prefix, _path in [("vendor/bootstrap", _NODE_MODULES / "bootstrap" / "dist")]:
    if _path.exists():
        STATICFILES_DIRS.append((_prefix, _path))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media-not-served/"  # documents are served only through permission-checked views

# Signed BAA documents and evidence files.
MAX_UPLOAD_MEGABYTES = env_int("MAX_UPLOAD_MEGABYTES", 20, minimum=1, maximum=200)
# Reading uploaded PDFs (documents/reader.py): limits per document for the reader process the worker
# starts (address space, CPU seconds, wall seconds).
DOCUMENT_READ_MEMORY_MB = env_int("DOCUMENT_READ_MEMORY_MB", 1536, minimum=256)
DOCUMENT_READ_CPU_SECONDS = env_int("DOCUMENT_READ_CPU_SECONDS", 300, minimum=5)
DOCUMENT_READ_WALL_SECONDS = env_int("DOCUMENT_READ_WALL_SECONDS", 600, minimum=5)
FILE_UPLOAD_HANDLERS = [
    "baatracker.limits.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Form fields other than files (Django's default, stated): 2.5 MB.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_PERMISSIONS = 0o640

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email: files under var/mail unless EMAIL_URL selects SMTP.
globals().update(email_settings_from_url("EMAIL_URL", os.environ.get("EMAIL_URL"), file_path=str(VAR_DIR / "mail")))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "BAA Tracker <baa-tracker@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Alert delivery (alerts/services.py). A claim on an email older than ALERT_CLAIM_TIMEOUT seconds
# belongs to a worker that died, and the next run takes it over: longer than one SMTP exchange can take
# (connect, MAIL, RCPT, DATA and the final reply, each bounded by EMAIL_TIMEOUT), so a live worker keeps
# its claim. ALERT_RETRY_SECONDS: the first wait after a failed attempt, doubling after each one.
_SMTP_TIMEOUT = globals().get("EMAIL_TIMEOUT") or 30
ALERT_CLAIM_TIMEOUT = env_int("ALERT_CLAIM_TIMEOUT", max(60, 4 * _SMTP_TIMEOUT), minimum=1)
if ALERT_CLAIM_TIMEOUT <= 2 * _SMTP_TIMEOUT:
    raise ImproperlyConfigured(
        f"ALERT_CLAIM_TIMEOUT={ALERT_CLAIM_TIMEOUT} must be more than twice the SMTP timeout ({_SMTP_TIMEOUT} s, "
        "the timeout option of EMAIL_URL): a worker still talking to the server would lose its claim."
    )
ALERT_RETRY_SECONDS = env_int("ALERT_RETRY_SECONDS", 300, minimum=1, maximum=6 * 3600)
# Absolute links in emails and reports. Unset, they follow the port the development server listens on
# (scripts/run.sh serves PORT, and its worker and beat inherit it), so no link points to another port.
DEVELOPMENT_PORT = env_int("PORT", 8000, minimum=1, maximum=65535)
SITE_URL = env_str("SITE_URL", f"http://127.0.0.1:{DEVELOPMENT_PORT}").rstrip("/")

# Compliance rules.
#: Vendor categories whose engagements get the 7-item HIPAA checklist (checklists/models.py), and whose
#: checklist the rules check (rules 8 and 9). One place: add a category here to give it the checklist.
CHECKLIST_VENDOR_CATEGORIES: tuple[str, ...] = ("teleradiology",)
EXPIRY_HORIZON_DAYS = env_int("EXPIRY_HORIZON_DAYS", 90, minimum=1, maximum=3650)
ALERT_LEAD_DAYS = sorted(set(env_int_list("ALERT_LEAD_DAYS", [90, 60, 30, 14, 7, 1])), reverse=True)
MISSING_BAA_REMINDER_DAYS = env_int("MISSING_BAA_REMINDER_DAYS", 7, minimum=1)
# Teleradiology readers: a state license not re-verified at the source for this long is a finding.
READER_LICENSE_REVERIFY_DAYS = env_int("READER_LICENSE_REVERIFY_DAYS", 365, minimum=1, maximum=3650)

# Celery. The embedded default is kombu's filesystem transport under var/, so the same worker and
# beat code runs with no broker server; production sets CELERY_BROKER_URL=redis://...
_BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.split(":", 1)[0] not in {"filesystem", "redis", "rediss", "amqp", "memory"}:
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://host:6379/0 or filesystem:// (embedded)."
    )
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem"):
    for sub in ("queue", "processed", "control"):
        (_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # kombu's default is ./control, relative to wherever the process started.
        "control_folder": str(_BROKER_DIR / "control"),
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # A task unacknowledged this long (e.g. its worker was killed) is delivered again. Workers look for
    # such tasks every 10 seconds (kombu's default scans every 100), so a killed dispatch run is taken up
    # again within the visibility timeout plus 10 seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=10),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "baatracker")
CELERY_TASK_IGNORE_RESULT = True
# Late acknowledgement: a task whose worker dies mid-run goes back to the queue. Every task is
# idempotent, so running it again is safe.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

COMPLIANCE_RUN_AT = env_time("COMPLIANCE_RUN_AT", "02:00")
ALERT_DISPATCH_AT = env_time("ALERT_DISPATCH_AT", "07:00")
# Every periodic job, in one place.
CELERY_BEAT_SCHEDULE = {
    # Nightly, before anyone is at work: recompute every finding for every organization.
    "compliance-run-nightly": {
        "task": "compliance.tasks.run_compliance_checks",
        "schedule": crontab(hour=COMPLIANCE_RUN_AT[0], minute=COMPLIANCE_RUN_AT[1]),
    },
    # Daily, at the start of the working day and after the nightly run: send every alert that is due
    # (expiry reminders, missing-BAA alerts and weekly reminders, checklist reviews, digests).
    "alerts-dispatch-daily": {
        "task": "alerts.tasks.dispatch_due_alerts",
        "schedule": crontab(hour=ALERT_DISPATCH_AT[0], minute=ALERT_DISPATCH_AT[1]),
    },
    # Every 10 minutes (minute 0, 10, 20 ...): the first alert of a finding that just appeared, retries of
    # failed emails whose backoff has passed, and emails a dead worker had claimed.
    "alerts-send-pending-every-10-minutes": {
        "task": "alerts.tasks.send_pending_alerts",
        "schedule": crontab(minute="*/10"),
    },
}

# Security headers. 45 CFR 164.312(e)(1): transmission security, so production forces HTTPS.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Content security policy: everything is served by the app itself, so only 'self' is allowed.
from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# --- Sign-in: single sign-on (OpenID Connect), two-factor (TOTP), sign-in log: the identity app -----------
# Kept in one block so other changes to INSTALLED_APPS, MIDDLEWARE and AUTHENTICATION_BACKENDS stay apart.
INSTALLED_APPS += [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "identity",
]
# django-otp's middleware gives request.user.is_verified(); the identity middleware then keeps a person
# who gave only their password on the two-factor pages. Both right after authentication.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "django_otp.middleware.OTPMiddleware",
)
MIDDLEWARE.insert(MIDDLEWARE.index("django_otp.middleware.OTPMiddleware") + 1, "identity.twofactor.TwoFactorMiddleware")
AUTHENTICATION_BACKENDS += ["identity.backends.OrganizationOIDCBackend"]
# HHS 405(d) HICP practice 3: multi-factor authentication for privileged accounts. Switch off only for
# a development database (the test suite does, except in the tests of two-factor sign-in).
TWO_FACTOR_REQUIRED_FOR_ADMINS = env_bool("TWO_FACTOR_REQUIRED_FOR_ADMINS", True)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "BAA Tracker")
# Fernet keys for the identity providers' client secrets, newest first (identity/crypto.py).
SSO_SECRET_KEYS = env_list("SSO_SECRET_KEYS", [])
# mozilla-django-oidc: the per-organization values (endpoints, client) come from identity.backends.
OIDC_AUTHENTICATION_CALLBACK_URL = "identity:sso_callback"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_TIMEOUT = env_int("OIDC_TIMEOUT_SECONDS", 10, minimum=1, maximum=120)
OIDC_CLOCK_SKEW_SECONDS = env_int("OIDC_CLOCK_SKEW_SECONDS", 60, minimum=0, maximum=600)
OIDC_VERIFY_SSL = True
# --- end of the identity block ------------------------------------------------------------------------------
