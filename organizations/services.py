"""Writes of the organizations app."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import models, transaction

from baatracker.signin import client_ip
from organizations.models import AccessLogEntry, Membership, Role
from organizations.selectors import active_admin_count, active_membership


def access_log_record(*, request, action: str, obj: models.Model, description: str = "") -> AccessLogEntry:
    """Record a read that changes nothing (a download, an export) for the audit trail (164.312(b))."""
    membership = active_membership(request.user)
    return AccessLogEntry.objects.create(
        organization_id=membership.organization_id,
        user=request.user,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        description=(description or str(obj))[:300],
        ip_address=client_ip(request),  # the client's, behind the reverse proxy too (baatracker/signin.py)
    )


# --- Members: written by an organization's administrators (organizations.views) ---------------------
# 45 CFR 164.308(a)(4) information access management and 164.312(a)(2)(i) unique user identification:
# every person has their own account, with the least role they need, removed when they leave.


def _check_keeps_an_admin(membership, *, new_role: str | None = None, deactivating: bool = False) -> None:
    losing_admin = membership.role == Role.ADMIN and (deactivating or (new_role is not None and new_role != Role.ADMIN))
    if losing_admin and not active_admin_count(membership.organization_id, excluding_membership_id=membership.pk):
        raise ValidationError("The organization needs at least one active administrator.")


def _apply_limits(membership, *, role: str, facilities, access_expires_on) -> None:
    membership.role = role
    membership.access_expires_on = access_expires_on
    membership.full_clean(exclude=["user"])
    ids = [facility.pk for facility in facilities or []]
    if ids and len(set(ids)) != len(
        set(membership.organization.facilities.filter(pk__in=ids).values_list("pk", flat=True))
    ):
        raise ValidationError("A member can only be limited to facilities of their own organization.")


def member_create(
    *,
    organization,
    username: str,
    email: str,
    first_name: str = "",
    last_name: str = "",
    password: str,
    role: str,
    facilities=(),
    access_expires_on=None,
):
    """Create a user account and its membership. The password must pass AUTH_PASSWORD_VALIDATORS.

    Administrators are never limited to facilities; an auditor's access needs an end date.
    """

    user_model = get_user_model()
    user = user_model(username=username, email=email, first_name=first_name, last_name=last_name)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    membership = Membership(organization=organization, role=role)
    _apply_limits(membership, role=role, facilities=facilities, access_expires_on=access_expires_on)
    with transaction.atomic():
        user.save()
        membership.user = user
        membership.save()
        if role != Role.ADMIN and facilities:
            membership.facilities.set(facilities)
    return membership


def member_update(*, membership, role: str, facilities=(), access_expires_on=None):
    """Change a member's role, facility limits or end date; the last active administrator stays one."""

    _check_keeps_an_admin(membership, new_role=role)
    _apply_limits(membership, role=role, facilities=facilities, access_expires_on=access_expires_on)
    with transaction.atomic():
        membership.save()
        membership.facilities.set([] if role == Role.ADMIN else list(facilities or []))
    membership.__dict__.pop("limited_facility_ids", None)
    return membership


def member_set_active(*, membership, active: bool, by=None):
    """Deactivate (or reactivate) a member's account. Nothing is deleted: the history keeps who did what.

    The membership is saved with a change reason so that the activity log shows the deactivation.
    """

    if not active:
        if by is not None and membership.user_id == by.pk:
            raise ValidationError("You cannot deactivate your own account.")
        _check_keeps_an_admin(membership, deactivating=True)
    user = membership.user
    with transaction.atomic():
        user.is_active = active
        user.save(update_fields=["is_active"])
        membership._change_reason = "Account reactivated" if active else "Account deactivated"
        membership.save()
    return membership
