"""The one permission gate: every queryset a user sees goes through ``restrict(user, action)``.

Each domain model's queryset says how it reaches its organization (the tenant boundary, never
crossed) and which of its rows a user limited to some facilities may see. Views, form choice lists,
downloads, exports and reports all ask this gate; nothing else decides visibility.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Action(models.TextChoices):
    VIEW = "view", "View"
    CHANGE = "change", "Create, change or archive"
    ADMINISTER = "administer", "Manage users and organization settings"
    AUDIT = "audit", "Read and export the audit log"


class RestrictedQuerySet(models.QuerySet):
    #: The lookup from this model to its Organization's primary key.
    organization_lookup: str = "organization"

    def facility_scope(self, facility_ids: list[int]) -> Q:
        """Rows visible to a user limited to these facilities. Override per model."""
        raise NotImplementedError(f"{self.model.__name__} does not say how facilities limit it.")

    def for_organization(self, organization_id: int) -> RestrictedQuerySet:
        return self.filter(**{self.organization_lookup: organization_id})

    def restrict(self, user: AbstractBaseUser | AnonymousUser, action: str = Action.VIEW) -> RestrictedQuerySet:
        from organizations.selectors import active_membership

        membership = active_membership(user)
        if membership is None or not membership.allows(action):
            return self.none()
        queryset = self.for_organization(membership.organization_id)
        facility_ids = membership.limited_facility_ids
        if facility_ids is not None:
            queryset = queryset.filter(self.facility_scope(facility_ids))
        return queryset


class GatedNames(dict):
    """{pk: name} of the rows the gate lets a user see; any other pk reads as ``hidden``.

    Name look-ups for display (history, coverage lists) go through the same gate as the rows they
    describe: a coverage change that involved a facility the user may not see says that a facility
    outside their access changed, never its name.
    """

    def __init__(self, rows, hidden: str):
        super().__init__(rows)
        self.hidden = hidden

    def get(self, key, default=None):
        if key in self:
            return self[key]
        return self.hidden if key is not None else default


def names_through_gate(
    user, model: type[models.Model], field: str, *, hidden: str, organization_id: int | None = None
) -> GatedNames:
    """The display names of the ``model`` rows ``user`` may view (``restrict(user, VIEW)``)."""
    queryset = model._default_manager.all().restrict(user, Action.VIEW)
    if organization_id is not None:
        queryset = queryset.for_organization(organization_id)
    return GatedNames(queryset.values_list("pk", field), hidden)


#: How a name outside the user's access reads.
HIDDEN_FACILITY = "a facility outside your access"
HIDDEN_AGREEMENT = "an agreement outside your access"
HIDDEN_VENDOR = "a vendor outside your access"
