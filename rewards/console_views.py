"""The bank console's points pages, under /console/points/ on the bank's domain: the
redemption pickup desk (verify a code, hand the goods over), the programme's rules and
earning rules, and the points mall's offers (create and edit, flash, customer groups).

Any of the bank's staff may use the desk and read the settings; bank admins change the
programme, the earning rules and the offers (others get 403). Everything is in this
bank's own schema: another bank's offer or redemption does not exist here (404).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from banks.models import Branch, StaffRole
from banks.permissions import bank_staff_required
from catalog.models import Sku
from core.errors import ApplicationError
from core.forms import add_service_errors
from rewards import selectors, services
from rewards.forms import CollectForm, EarningRuleForm, OfferForm, ProgrammeForm
from rewards.models import EarningRule, MallOffer, Redemption, RedemptionStatus


def _admin_only(request) -> None:
    if request.membership.role != StaffRole.BANK_ADMIN:
        raise PermissionDenied


def _ctx(request, **extra) -> dict:
    return {"membership": request.membership,
            "is_admin": request.membership.role == StaffRole.BANK_ADMIN, **extra}


def _with_names(rows):
    rows = list(rows)
    users = get_user_model().objects.in_bulk({r.user_id for r in rows})
    branches = Branch.objects.in_bulk({r.branch_id for r in rows})
    for r in rows:
        user = users.get(r.user_id)
        r.customer_name = user.shown_name if user else f"#{r.user_id}"
        r.branch_name = branches[r.branch_id].name if r.branch_id in branches else ""
    return rows


# --- the pickup desk -----------------------------------------------------------------------


@bank_staff_required()
def desk(request):
    """GET: what waits for pickup (one branch or all). POST code: show the redemption the
    code belongs to; POST code + collect: hand it over."""
    bank = request.bank
    branches = list(Branch.objects.filter(bank=bank).order_by("code"))
    branch_id = request.GET.get("branch", "")
    branch_id = int(branch_id) if branch_id.isdigit() else None
    found, status = None, 200
    form = CollectForm(request.POST or None)
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif request.POST.get("collect"):
            try:
                done = services.redemption_collect(bank=bank, code=form.cleaned_data["code"],
                                                   staff=request.user)
            except ApplicationError as exc:
                form.add_error("code", exc.message)
                status = 400
            else:
                messages.success(request, _("Handed over: %(title)s × %(n)s.")
                                 % {"title": done.offer.title, "n": done.quantity})
                return redirect("console_rewards:desk")
        else:
            found = Redemption.objects.select_related("offer").filter(
                pickup_code=form.cleaned_data["code"]).first()
            if found is None:
                form.add_error("code", _("No redemption has this code."))
                status = 400
            else:
                found = _with_names([found])[0]
    waiting = _with_names(selectors.redemptions_waiting(branch_id=branch_id)[:200])
    return render(request, "rewards/console/desk.html", _ctx(
        request, form=form, found=found, waiting=waiting, branches=branches,
        branch_id=branch_id, ready=RedemptionStatus.READY), status=status)


# --- the programme and earning rules -------------------------------------------------------


def _programme_initial(bank) -> dict:
    programme, rules = services.programme_of(bank)
    return {f: getattr(programme, f) for f in services.PROGRAMME_FIELDS} | {
        f: getattr(rules, f) for f in services.RULES_FIELDS}


@bank_staff_required()
def programme(request):
    bank = request.bank
    form = ProgrammeForm(initial=_programme_initial(bank))
    rule_form = EarningRuleForm(prefix="rule")
    status = 200
    if request.method == "POST":
        _admin_only(request)
        if request.POST.get("what") == "rule":
            rule_form = EarningRuleForm(request.POST, prefix="rule")
            if rule_form.is_valid():
                try:
                    services.earning_rule_save(bank=bank, actor=request.user,
                                               **rule_form.cleaned_data)
                except ValidationError as exc:
                    add_service_errors(rule_form, exc)
                else:
                    messages.success(request, _("The earning rule is saved."))
                    return redirect("console_rewards:programme")
        else:
            form = ProgrammeForm(request.POST)
            if form.is_valid():
                try:
                    services.programme_update(bank=bank, actor=request.user,
                                              **form.cleaned_data)
                except ValidationError as exc:
                    add_service_errors(form, exc)
                else:
                    messages.success(request, _("The points programme is saved."))
                    return redirect("console_rewards:programme")
        status = 400
    return render(request, "rewards/console/programme.html", _ctx(
        request, form=form, rule_form=rule_form, rules=selectors.earning_rules()),
        status=status)


@bank_staff_required()
def rule_edit(request, rule_id: int):
    rule = EarningRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    form = EarningRuleForm(initial={f: getattr(rule, f) for f in EarningRuleForm.base_fields})
    status = 200
    if request.method == "POST":
        _admin_only(request)
        form = EarningRuleForm(request.POST)
        if form.is_valid():
            try:
                services.earning_rule_save(bank=request.bank, actor=request.user, rule=rule,
                                           **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The earning rule is saved."))
                return redirect("console_rewards:programme")
        status = 400
    return render(request, "rewards/console/rule.html", _ctx(request, form=form, rule=rule),
                  status=status)


# --- the points mall's offers --------------------------------------------------------------


@bank_staff_required()
def offers(request):
    rows = list(MallOffer.objects.order_by("-created_at", "-id")[:300])
    skus = Sku.objects.select_related("product__merchant").in_bulk({o.sku_id for o in rows})
    for o in rows:
        o.sku = skus.get(o.sku_id)
    return render(request, "rewards/console/offers.html", _ctx(request, offers=rows))


@bank_staff_required()
def offer_edit(request, offer_id: int | None = None):
    offer = None
    if offer_id is not None:
        offer = MallOffer.objects.filter(pk=offer_id).first()
        if offer is None:
            raise Http404
        form = OfferForm(initial={f: getattr(offer, f) for f in OfferForm.base_fields})
    else:
        form = OfferForm()
    status = 200
    if request.method == "POST":
        _admin_only(request)
        form = OfferForm(request.POST)
        if form.is_valid():
            try:
                saved = services.offer_save(bank=request.bank, actor=request.user, offer=offer,
                                            **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("The offer is saved."))
                return redirect("console_rewards:offer", saved.pk)
        status = 400
    sku = Sku.objects.select_related("product__merchant").filter(
        pk=offer.sku_id).first() if offer else None
    return render(request, "rewards/console/offer.html", _ctx(
        request, form=form, offer=offer, sku=sku), status=status)
