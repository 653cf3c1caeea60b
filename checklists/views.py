"""The teleradiology checklist of an engagement: the 7 items in order, item 1 computed from the
agreements (compliance.rules.with_item_one_computed), items 2 and 3 from the readers' licenses and
privileges (compliance.rules.with_reader_items_computed), the others verified with evidence."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from baatracker.forms import render_form, save_with_service
from checklists import selectors
from checklists.forms import ChecklistItemForm
from checklists.models import (
    COMPUTED_ITEM_NUMBERS,
    TELERADIOLOGY_ITEMS,
    ChecklistItem,
    ItemStatus,
    checklist_applies,
)
from checklists.services import COMPUTED_REFUSALS, checklist_ensure
from compliance.timeline import checklist_item_due
from organizations.mixins import action_required, can, get_restricted_object_or_404
from organizations.models import AccessAction
from organizations.querysets import Action
from organizations.services import access_log_record


@require_http_methods(["GET", "POST"])
@action_required(Action.VIEW, write=Action.CHANGE)
def checklist_detail(request, engagement_pk: int):
    today = timezone.localdate()
    action = Action.VIEW if request.method == "GET" else Action.CHANGE
    engagement = get_restricted_object_or_404(
        selectors.engagement_with_item_one(request.user, engagement_pk, today).select_related("vendor", "facility"),
        request,
        pk=engagement_pk,
        action=action,
    )
    checklist = selectors.checklist_of(engagement)
    if request.method == "POST":
        # Start the checklist of a teleradiology engagement that has none (e.g. its vendor's category changed).
        if not checklist_applies(engagement.vendor.category):
            raise Http404("Only teleradiology engagements have this checklist.")
        with transaction.atomic():
            checklist_ensure(engagement=engagement)
        messages.success(request, "Checklist started.")
        return redirect("checklists:detail", engagement_pk=engagement.pk)
    if checklist is None and not checklist_applies(engagement.vendor.category):
        raise Http404("Only teleradiology engagements have this checklist.")
    items = list(selectors.checklist_items(request.user, checklist)) if checklist else []
    for item in items:  # the due state from the one derivation (rule 8b's), not compared in the template
        item.review_overdue = checklist_item_due(item.next_review_on, today)
    done = sum(1 for item in items if item.status in (ItemStatus.COMPLETE, ItemStatus.NOT_APPLICABLE))
    reader_items = selectors.reader_items(request.user, engagement, today)
    return render(
        request,
        "checklists/detail.html",
        {
            "engagement": engagement,
            "checklist": checklist,
            "items": items,
            "item_one": selectors.item_one(request.user, engagement),
            "manual_done": done,
            "reader_items": reader_items,
            "manual_total": len(TELERADIOLOGY_ITEMS) - len(COMPUTED_ITEM_NUMBERS),
            "today": today,
            "can_change": can(request, Action.CHANGE),
        },
    )


@require_http_methods(["GET", "POST"])
@action_required(Action.CHANGE)
def checklist_item_update_view(request, pk: int):
    item = get_restricted_object_or_404(
        ChecklistItem.objects.select_related(
            "checklist__engagement__vendor", "checklist__engagement__facility", "verified_by"
        ),
        request,
        pk=pk,
        action=Action.CHANGE,
    )
    engagement = item.checklist.engagement
    if item.is_computed:
        messages.info(request, COMPUTED_REFUSALS[item.number])
        return redirect("checklists:detail", engagement_pk=engagement.pk)
    initial = {}
    if not item.verified_by_id:
        initial = {"verified_by": request.user.pk, "verified_on": timezone.localdate()}
    form = ChecklistItemForm(
        request.POST or None,
        request.FILES or None,
        instance=item,
        initial=initial,
        organization_id=request.membership.organization_id,
    )

    recorded = save_with_service(
        request,
        form,
        lambda: form.record(evidence_file=request.FILES.get("evidence_file")),
        message=lambda saved: f"Item {saved.number} saved.",
    )
    if recorded is not None:
        return redirect("checklists:detail", engagement_pk=engagement.pk)
    return render_form(
        request,
        "checklists/item_form.html",
        {
            "form": form,
            "item": item,
            "engagement": engagement,
            "earlier_evidence": selectors.earlier_evidence_files(item),
        },
    )


@require_GET
@action_required(Action.VIEW)
def evidence_download(request, pk: int):
    """An item's evidence file, for users who may see the engagement; recorded (45 CFR 164.312(b))."""
    item = get_restricted_object_or_404(
        ChecklistItem.objects.select_related("checklist__engagement__vendor"), request, pk=pk
    )
    if not item.evidence_file:
        raise Http404("This item has no evidence file.")
    try:
        handle = item.evidence_file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The stored file is missing.") from exc
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=item,
        description=f"Downloaded the evidence of checklist item {item.number} of {item.checklist.engagement.vendor}",
    )
    name = item.evidence_file.name.rsplit("/", 1)[-1]
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@action_required(Action.VIEW)
def evidence_version_download(request, pk: int, history_id: int):
    """An earlier evidence file of an item, from its history, for users who may see the item; recorded
    (45 CFR 164.312(b))."""
    item = get_restricted_object_or_404(
        ChecklistItem.objects.select_related("checklist__engagement__vendor"), request, pk=pk
    )
    record = item.history.filter(history_id=history_id).exclude(evidence_file="").first()
    if record is None:
        raise Http404("No such evidence file of this item.")
    storage = ChecklistItem._meta.get_field("evidence_file").storage
    try:
        handle = storage.open(record.evidence_file, "rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The stored file is missing.") from exc
    name = record.evidence_file.rsplit("/", 1)[-1]
    access_log_record(
        request=request,
        action=AccessAction.DOWNLOAD,
        obj=item,
        description=f"Downloaded the earlier evidence {name} of checklist item {item.number} of "
        f"{item.checklist.engagement.vendor}",
    )
    response = FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response
