"""The permission gate by construction (issue #10 item 3): no path to data skips it.

Three checks, each of which fails on a new view, selector or query that does not pass the gate:

* every routed URL's view is wrapped by ``organizations.mixins.action_required`` (which resolves the
  active membership and its role before the view runs), or is listed below with the reason;
* every query written in a view, selector or form module (``Model.objects...``, ``.history``) goes
  through ``restrict(user, action)``, is handed to the gate's view helpers
  (``get_restricted_object_or_404``, ``restricted_queryset``, ``names_through_gate``), is a
  subquery correlated to a restricted outer query (``OuterRef``), or is listed below with the reason;
* every selector takes the user or a queryset (which its callers restricted), or is listed below.

The crawl of tests/test_hidden_facility_crawl.py checks the same gate from the outside.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

ROOT = Path(__file__).resolve().parents[1]
APPS = (
    "organizations",
    "facilities",
    "vendors",
    "agreements",
    "checklists",
    "compliance",
    "alerts",
    "reports",
    "api",
    "calendars",
    "identity",
)

#: Routed views without ``action_required``, and why.
UNGATED_VIEWS = {
    "login": "signing in (django.contrib.auth)",
    "logout": "signing out",
    "password_change": "the signed-in user's own password",
    "password_change_done": "the signed-in user's own password",
    "password_reset": "account recovery, signed out",
    "password_reset_done": "account recovery, signed out",
    "password_reset_confirm": "account recovery, signed out",
    "password_reset_complete": "account recovery, signed out",
    "healthz": "load-balancer health check: no data",
    "organizations:keepalive": "extends the session of the idle-logoff timer: no data",
    "alerts:unsubscribe": "RFC 8058 one-click unsubscribe, signed token naming one user's own preferences",
    "alerts:vendor_unsubscribe": "one-click unsubscribe of a vendor contact: signed token naming vendor and address",
    "api:schema": "the OpenAPI schema, no data; api.permissions.GatePermission (a member's token or session)",
    "api:docs": "the Swagger UI page, no data; sign-in required and api.permissions.GatePermission",
    "calendars:feed": "calendar clients: the secret URL is the credential; its owner's restrict() decides",
    "identity:sso_by_email": "single sign-on, signed out: the provider of an e-mail domain, no data",
    "identity:sso_start": "single sign-on, signed out: a redirect to the organization's provider",
    "identity:sso_callback": "single sign-on, signed out: the provider's answer, then the usual gate",
    "identity:two_factor": "the signed-in user's own second factor, between password and code",
    "identity:two_factor_verify": "the signed-in user's own second factor, between password and code",
    "identity:two_factor_enrol": "the signed-in user's own authenticator app",
    "identity:recovery_codes_new": "the signed-in user's own recovery codes",
    "identity:security": "the signed-in user's own sign-in security",
}

#: (module, function) -> why its queries need no ``restrict``.
UNRESTRICTED_QUERIES = {
    ("organizations/views.py", "_member_of_my_organization"): "memberships of the administrator's organization",
    ("organizations/selectors.py", "active_membership"): "the gate itself: the user's own membership",
    ("organizations/selectors.py", "members_of"): "administrators' member list, by the caller's organization",
    ("organizations/selectors.py", "active_admin_count"): "a count, no rows shown",
    ("organizations/selectors.py", "history_model"): "a model class, no rows",
    ("organizations/selectors.py", "_history_rows"): "audit log by organization; restrict(user, AUDIT) if limited",
    ("organizations/selectors.py", "_access_rows"): "audit log by organization; filters.logged restricts (AUDIT)",
    ("organizations/selectors.py", "_sign_in_rows"): "audit log by organization; filters.logged restricts (AUDIT)",
    ("organizations/selectors.py", "activity_page_details"): "details of rows already selected by organization",
    ("organizations/selectors.py", "_changed_fields"): "previous versions of history rows already selected",
    ("organizations/forms.py", "__init__"): "administrators' forms, choices of their own organization",
    ("organizations/forms.py", "clean_username"): "uniqueness check, no rows shown",
    ("vendors/selectors.py", "vendor_history"): "history of the ids the gate returned (restricted querysets)",
    ("vendors/forms.py", "clean_legal_name"): "uniqueness check within the organization, no rows shown",
    ("vendors/forms.py", "clean"): "uniqueness check of a link of a vendor the gate returned",
    ("agreements/selectors.py", "agreement_history"): "history of an agreement the gate returned",
    ("agreements/forms.py", "covered_facilities_to_save"): "keeps hidden coverage on save, never shown",
    ("checklists/selectors.py", "checklist_of"): "the checklist of an engagement the gate returned",
    ("checklists/forms.py", "__init__"): "who verified: members of the organization",
    ("checklists/views.py", "evidence_version_download"): "the history of an item the gate returned",
    ("checklists/selectors.py", "earlier_evidence_files"): "the history of an item the gate returned",
    ("alerts/views.py", "unsubscribe"): "the user named by the signed token",
    ("alerts/views.py", "vendor_unsubscribe"): "the vendor named by the signed token, for its own address",
    ("alerts/selectors.py", "alert_recipients_of"): "recipients of the restricted alerts",
    ("alerts/selectors.py", "refused_addresses"): "addresses of the restricted alerts",
    ("alerts/selectors.py", "last_dispatch"): "the organization's dispatch runs: counts, no names",
    ("reports/selectors.py", "of"): "the report's Scope: restrict(user) when a user asks, else the organization",
    ("reports/selectors.py", "_inventory"): "rows of the report's scope (Scope.of) and their documents",
    ("reports/selectors.py", "_checklists"): "items of the scope's checklists",
    ("reports/selectors.py", "_changes"): "history of the scope's records; names through GatedNames",
    ("api/views.py", "base_queryset"): "what to select; api.base.RestrictedViewSet.get_queryset restricts it",
    ("calendars/views.py", "calendar_feed"): "the feed named by its secret; events through its owner's gate",
    ("identity/views.py", "_provider"): "single sign-on: the provider this browser's session started with",
    ("identity/views.py", "member_two_factor_reset"): "memberships of the administrator's organization",
    ("identity/selectors.py", "provider_for_email"): "signed out: the provider of an e-mail domain, no rows shown",
    ("identity/selectors.py", "sign_in_buttons"): "signed out: the buttons administrators chose to show",
    ("identity/selectors.py", "sign_in_policy"): "the two-factor rule of the caller's organization",
    ("identity/selectors.py", "unconfirmed_totp_device"): "the signed-in user's own device",
    ("identity/selectors.py", "recovery_codes_left"): "the signed-in user's own count",
    ("identity/selectors.py", "users_with_two_factor"): "ids of the administrator's member list, no rows shown",
    (
        "agreements/selectors.py",
        "filter_by_expiry",
    ): "narrows the caller's restricted list by finding ids, no rows shown",
    (
        "compliance/selectors.py",
        "findings_as_of",
    ): "names of detections the gate let through; no user: the system report",
}

#: Selectors that take neither the user nor a queryset, and why.
SELECTORS_WITHOUT_USER = {
    "alerts/selectors.py:last_dispatch": "the organization's dispatch runs: counts, no names",
    "checklists/selectors.py:checklist_of": "the checklist of an engagement the gate returned",
    "checklists/selectors.py:earlier_evidence_files": "the history of an item the gate returned",
    "compliance/selectors.py:severity_rank": "an SQL expression",
    "compliance/selectors.py:kind_choices": "the finding-kind registry",
    "compliance/selectors.py:coverage_matrix": "takes the restricted querysets it tabulates",
    "organizations/selectors.py:members_of": "administrators' member list, by the caller's organization",
    "organizations/selectors.py:active_admin_count": "a count",
    "organizations/selectors.py:activity_sources": "model classes",
    "organizations/selectors.py:activity_source_choices": "labels",
    "organizations/selectors.py:activity_page_details": "details of rows already selected by organization",
    "reports/selectors.py:report_data": "takes the requesting user (None: a system report of the organization)",
    "vendors/selectors.py:vendors_with_status": "takes the user",
    "vendors/selectors.py:change_history": "takes the HistorySources its callers restricted",
    "vendors/selectors.py:inventory_rows": "takes the vendors its caller selected",
    "identity/selectors.py:provider_for_email": "signed out: the provider of an e-mail domain",
    "identity/selectors.py:sign_in_buttons": "signed out: the buttons administrators chose to show",
    "identity/selectors.py:sign_in_policy": "the two-factor rule of the caller's organization",
    "identity/selectors.py:base32_secret": "a device's key as text",
    "identity/selectors.py:users_with_two_factor": "ids of the administrator's member list",
    "compliance/selectors.py:finding_period": "the period of a finding the gate returned",
}

GATE_HELPERS = {"get_restricted_object_or_404", "restricted_queryset", "names_through_gate", "GatedNames"}


def _routes():
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue  # the admin's own gate: tests/test_admin.py
                yield from walk(pattern.url_patterns, prefix + (f"{pattern.namespace}:" if pattern.namespace else ""))
            elif isinstance(pattern, URLPattern):
                yield prefix + (pattern.name or str(pattern.pattern)), pattern.callback

    return list(walk(get_resolver().url_patterns))


def _gate_action(view):
    while view is not None:
        if hasattr(view, "gate_action"):
            return view.gate_action
        view = getattr(view, "__wrapped__", None)
    return None


def test_every_routed_view_passes_the_gate():
    routes = _routes()
    assert len(routes) > 40
    ungated = sorted(name for name, view in routes if _gate_action(view) is None and name not in UNGATED_VIEWS)
    assert ungated == [], "views without @action_required (organizations.mixins); add it, or say why not here"
    assert set(UNGATED_VIEWS) <= {name for name, _ in routes}, "a listed exception no longer exists: remove it"


def _ungated_queries(path: Path) -> list[tuple[str, int, str]]:
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    function_of = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                function_of.setdefault(inner, node.name)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager", "history")):
            continue
        top, gated = node, False
        while True:  # up the chain: Model.objects.filter(...).restrict(...)
            parent = parents.get(top)
            if isinstance(parent, ast.Attribute) and parent.value is top:
                gated |= parent.attr in ("restrict", "none")
                top = parent
            elif isinstance(parent, ast.Call) and parent.func is top:
                gated |= any(
                    isinstance(n, ast.Call) and getattr(n.func, "id", "") == "OuterRef" for n in ast.walk(parent)
                )
                top = parent
            else:
                break
        handed = parents.get(top)
        if isinstance(handed, ast.Call) and getattr(handed.func, "id", "") in GATE_HELPERS:
            gated = True
        if not gated:
            found.append((function_of.get(node, "<module>"), node.lineno, ast.unparse(top)[:80]))
    return found


@pytest.mark.parametrize("module", ("views.py", "selectors.py", "forms.py"))
def test_every_query_of_views_selectors_and_forms_passes_the_gate(module):
    problems, needed = [], set()
    for app in APPS:
        path = ROOT / app / module
        if not path.exists():
            continue
        relative = f"{app}/{module}"
        for function, line, code in _ungated_queries(path):
            if (relative, function) in UNRESTRICTED_QUERIES:
                needed.add((relative, function))
            else:
                problems.append(f"{relative}:{line} in {function}: {code}")
    assert problems == [], "queries without restrict(user, action); use the gate, or say why not in this test"
    listed = {key for key in UNRESTRICTED_QUERIES if key[0].endswith(module)}
    assert listed - needed == set(), "listed exceptions that are no longer needed: remove them"


def test_every_selector_takes_the_user_or_a_queryset():
    import importlib

    problems = []
    for app in APPS:
        if not (ROOT / app / "selectors.py").exists():
            continue
        module = importlib.import_module(f"{app}.selectors")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("_") or function.__module__ != module.__name__:
                continue
            parameters = inspect.signature(function).parameters
            takes = {"user", "queryset", "scope"} & set(parameters)
            key = f"{app}/selectors.py:{name}"
            if not takes and key not in SELECTORS_WITHOUT_USER:
                problems.append(key)
    assert problems == [], "selectors that take neither the user nor a restricted queryset"
