"""Admission pages: the merchant's application (any signed-in person, on the bank's
domain) and the bank console's queue, dossier, inspection and decisions, and the review
of product listings. Staff of another bank get 404 for all of it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from admission import selectors, services
from admission.forms import ApplyForm, DecisionForm, InspectionForm, LicenceScanForm
from admission.models import LicenceKind
from admission.services import STAFF_ROLES
from banks.permissions import bank_staff_required
from catalog import selectors as catalog_selectors
from catalog import services as catalog_services
from catalog.models import Merchant
from core import uploads
from core.errors import ApplicationError
from core.forms import add_service_errors


@login_required
def apply(request):
    if request.bank is None:
        raise Http404
    form = ApplyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        licences = [services.LicenceSpec(kind=LicenceKind.BUSINESS, number=d["licence_number"],
                                         expires_on=d["licence_expires"],
                                         document=d.get("licence_scan"))]
        if d.get("sc_number"):
            licences.append(services.LicenceSpec(kind=LicenceKind.FOOD_PRODUCTION,
                                                 number=d["sc_number"],
                                                 expires_on=d["sc_expires"]))
        try:
            dossier = services.admission_apply(
                bank=request.bank, applicant=request.user, shop_name=d["shop_name"],
                kind=d["kind"], county=d["county"], township=d["township"],
                intro=d["intro"], uscc=d["uscc"], legal_rep_name=d["legal_rep_name"],
                legal_rep_id=d["legal_rep_id"], contact_phone=d["contact_phone"],
                address=d["address"], licences=licences)
        except ValidationError as exc:
            add_service_errors(form, exc, {"licences": "licence_expires",
                                           "document": "licence_scan"})
        else:
            messages.success(request, _("Application sent. The bank will review it and "
                                        "arrange an on-site inspection."))
            return redirect("merchant:shop", dossier.merchant_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "admission/apply.html", {"form": form}, status=status)


@login_required
def merchant_licences(request, merchant_id: int):
    """The merchant's licences and their scans: upload one (again, when the platform set a
    file aside)."""
    if request.bank is None:
        raise Http404
    merchant, dossier = selectors.dossier_for_member(user=request.user, bank=request.bank,
                                                     merchant_id=merchant_id)
    form = LicenceScanForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.licence_set_scan(dossier=dossier, actor=request.user,
                                      licence_id=form.cleaned_data["licence"],
                                      document=form.cleaned_data["document"])
        except (ValidationError, ApplicationError) as exc:
            messages.error(request, " ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, _("Scan uploaded."))
            return redirect("merchant-licences", merchant.pk)
    return render(request, "admission/merchant_licences.html",
                  {"merchant": merchant, "dossier": dossier, "form": form,
                   "again": selectors.files_to_upload_again(dossier=dossier)},
                  status=400 if request.method == "POST" else 200)


@bank_staff_required(*STAFF_ROLES)
def queue(request):
    tab = request.GET.get("tab", "queue")
    if tab not in selectors.QUEUE_TABS:
        tab = "queue"
    merchants = list(selectors.admission_queue(bank=request.bank, tab=tab))
    flags = selectors.flags_by_merchant()
    flagged = [(m, flags[m.pk]) for m in
               Merchant.objects.filter(bank=request.bank, pk__in=list(flags))]
    return render(request, "admission/queue.html", {
        "tab": tab, "merchants": merchants, "flagged": flagged,
        "tabs": list(selectors.QUEUE_TABS)})


@bank_staff_required(*STAFF_ROLES)
def dossier(request, merchant_id: int):
    merchant, file = selectors.dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    return render(request, "admission/dossier.html", {
        "merchant": merchant, "dossier": file,
        "actions": catalog_services.merchant_allowed_actions(merchant),
        "inspection_form": InspectionForm(), "decision_form": DecisionForm(),
        "flags": [f for f in file.flags.all() if f.resolved_at is None],
    })


@bank_staff_required(*STAFF_ROLES)
@require_POST
def inspection_add(request, merchant_id: int):
    merchant, file = selectors.dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    form = InspectionForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.inspection_record(dossier=file, inspector=request.user,
                                       **form.cleaned_data)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("admission:dossier", merchant.pk)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Inspection recorded."))
            return redirect("admission:dossier", merchant.pk)
    return render(request, "admission/dossier.html", {
        "merchant": merchant, "dossier": file,
        "actions": catalog_services.merchant_allowed_actions(merchant),
        "inspection_form": form, "decision_form": DecisionForm(), "flags": []}, status=400)


@bank_staff_required(*STAFF_ROLES)
@require_POST
def decide(request, merchant_id: int, action: str):
    merchant, file = selectors.dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    service = services.DECISIONS.get(action)
    if service is None:
        raise Http404
    form = DecisionForm(request.POST)
    form.is_valid()
    kwargs = {"dossier": file, "actor": request.user}
    if action in {"reject", "suspend", "reinstate"}:
        kwargs["reason"] = form.cleaned_data.get("reason", "")
    try:
        service(**kwargs)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("admission:dossier", merchant.pk)
    merchant.refresh_from_db()
    messages.success(request, _("%(m)s is now “%(s)s”.")
                     % {"m": merchant.name, "s": merchant.get_status_display()})
    return redirect("admission:dossier", merchant.pk)


@bank_staff_required(*STAFF_ROLES)
@require_POST
def document_upload(request, merchant_id: int):
    merchant, file = selectors.dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    try:
        services.document_add(dossier=file, title=request.POST.get("title", ""),
                              file=request.FILES.get("file"), actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Document added to the dossier."))
    return redirect("admission:dossier", merchant.pk)


@bank_staff_required(*STAFF_ROLES)
def private_file(request, merchant_id: int, kind: str, item_id: int):
    """A dossier's private file (document, licence scan, inspection photo), to this bank's
    staff only: these files are never under a public URL."""
    _merchant, file = selectors.dossier_for_bank(bank=request.bank, merchant_id=merchant_id)
    field = selectors.dossier_file(dossier=file, kind=kind, item_id=item_id)
    return uploads.serve_file(field.storage, field.name, private=True)


@bank_staff_required(*STAFF_ROLES)
@require_POST
def feature(request, merchant_id: int):
    merchant = catalog_selectors.bank_merchant(bank=request.bank, merchant_id=merchant_id)
    services.merchant_feature(merchant=merchant, featured=request.POST.get("featured") == "1",
                              actor=request.user)
    return redirect("admission:dossier", merchant.pk)


@bank_staff_required(*STAFF_ROLES)
def listings(request):
    return render(request, "admission/listings.html", {
        "products": catalog_selectors.listing_review_queue(bank=request.bank)})


@bank_staff_required(*STAFF_ROLES)
@require_POST
def listing_decide(request, product_id: int, action: str):
    product = catalog_selectors.bank_product(bank=request.bank, product_id=product_id)
    if action not in {"approve_listing", "reject_listing", "delist"}:
        raise Http404
    form = DecisionForm(request.POST)
    form.is_valid()
    try:
        services.listing_decide(product=product, action=action, actor=request.user,
                                reason=form.cleaned_data.get("reason", ""))
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(p)s is now “%(s)s”.")
                         % {"p": product.name, "s": product.get_status_display()})
    return redirect("admission:listings")
