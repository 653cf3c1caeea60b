"""#15 item 6: sign-in behind the documented reverse proxy (one proxy that appends the client's address
to X-Forwarded-For).

* The client's address is the one the trusted proxy appended (the right-most entry); whatever a client
  writes into X-Forwarded-For itself is ignored.
* Lockouts are per (user name, address): nobody locks an account out for everyone from one address.
* A per-address throttle across user names: one address cannot try unlimited user names.
* The access log records the client's address, not the proxy's.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from organizations.models import AccessAction, AccessLogEntry
from organizations.services import access_log_record
from tests import factories as f

pytestmark = pytest.mark.django_db

PROXY = "172.18.0.1"  # the reverse proxy, as the web container sees it
ATTACKER = "203.0.113.7"
COLLEAGUE = "198.51.100.9"


@pytest.fixture(autouse=True)
def behind_one_proxy(settings):
    """What settings.py makes of TRUSTED_PROXY_COUNT=1 (checked in test_it_configures_axes_from_the_environment)."""
    from baatracker import signin

    for name, value in signin.proxy_settings(trusted_proxy_count=1).items():
        setattr(settings, name, value)
    settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def sign_in(client, username: str, password: str, *, client_address: str, spoofed: str = ""):
    forwarded = f"{spoofed}, {client_address}" if spoofed else client_address
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("compliance:dashboard")


def test_it_configures_axes_from_the_environment():
    from baatracker import signin

    assert signin.proxy_settings(trusted_proxy_count=0) == {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
        "AXES_IPWARE_PROXY_COUNT": None,
        "IPWARE_STRICT": False,
    }
    assert signin.proxy_settings(trusted_proxy_count=2)["AXES_IPWARE_PROXY_COUNT"] == 1


def test_it_takes_the_address_the_proxy_appended_and_ignores_a_spoofed_one(rf):
    from baatracker.signin import client_ip

    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"{COLLEAGUE}, {ATTACKER}")

    assert client_ip(request) == ATTACKER


def test_an_attacker_cannot_lock_an_account_out_for_everyone(client):
    f.user(username="alice")
    for _ in range(4):
        sign_in(client, "alice", "wrong-guess", client_address=ATTACKER, spoofed=COLLEAGUE)

    attacker = sign_in(client, "alice", f.PASSWORD, client_address=ATTACKER)
    colleague = sign_in(client, "alice", f.PASSWORD, client_address=COLLEAGUE)

    assert attacker.status_code == 429  # locked for this user name from this address
    assert signed_in(colleague)


def test_one_address_cannot_try_unlimited_user_names(client):
    f.user(username="bob")
    for n in range(6):
        sign_in(client, f"guess{n}", "wrong-guess", client_address=ATTACKER)

    same_address = sign_in(client, "bob", f.PASSWORD, client_address=ATTACKER)
    other_address = sign_in(client, "bob", f.PASSWORD, client_address=COLLEAGUE)

    assert same_address.status_code == 429
    assert signed_in(other_address)


def test_the_access_log_records_the_clients_address(rf):
    officer = f.user()
    request = rf.get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"10.9.9.9, {COLLEAGUE}")
    request.user = officer

    entry = access_log_record(
        request=request, action=AccessAction.EXPORT, obj=officer.membership.organization, description="export"
    )

    assert AccessLogEntry.objects.get(pk=entry.pk).ip_address == COLLEAGUE
