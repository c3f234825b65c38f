"""The shopper's points pages on a bank's domain, under /points/: my points (balance,
history, what expires next), the points mall (offers for me, flash ones with their
window and what is left), redeeming (quantity and pickup branch; the cash part of a
points-plus-cash offer by card), my redemptions with their pickup codes, and points at
checkout (reached from the pay page through a registered payment option).

Points are the bank's own: every page works in the schema of the bank whose domain this
is (``request.bank``). Thin: writes are ``rewards.services`` calls, reads selectors
scoped to the signed-in customer (someone else's redemption is a 404).
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from banks.models import Branch
from core.errors import ApplicationError, first_message, validation_errors
from core.idempotency import request_fingerprint
from orders.models import CheckoutStatus
from orders.selectors import checkout_of_buyer
from payments.card_entry import card_entry_context
from payments.forms import CardForm
from payments.interfaces import PaymentOption
from payments.services import Card
from rewards import selectors, services
from rewards.forms import ApplyPointsForm, RedeemForm
from rewards.models import RedemptionStatus

log = logging.getLogger(__name__)

def _bank(request):
    bank = getattr(request, "bank", None)
    if bank is None:  # points are a bank's: there are none on the portal
        raise Http404
    return bank


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    return first_message(validation_errors(exc)) or _("Please check your input.")


def _branches(bank):
    return list(Branch.objects.filter(bank=bank, is_pickup_point=True).order_by("code"))


# --- the pay page's option (registered with payments in RewardsConfig.ready) -------------


def checkout_payment_options(*, request, checkout) -> list[PaymentOption]:
    """Pay part with this bank's points, on its own storefront, when the buyer has some
    to use (or has applied some: then the option says how many)."""
    bank = getattr(request, "bank", None)
    user = request.user
    if (bank is None or not user.is_authenticated or checkout.buyer_id != user.pk
            or checkout.status != CheckoutStatus.PENDING_PAYMENT
            or checkout.storefront_bank_id != bank.pk):
        return []
    try:
        quote = services.checkout_points_quote(bank=bank, checkout=checkout, buyer=user)
    except Exception:  # the card page must work whatever happens here
        log.exception("points quote of checkout %s", checkout.number)
        return []
    url = reverse("rewards:checkout", args=[checkout.number])
    if quote["applied"]:
        return [PaymentOption(
            title=_("%(n)s points applied (−¥%(v)s)") % {"n": quote["applied"],
                                                        "v": quote["applied_value"]},
            note=_("Change or remove the points."), url=url)]
    if quote["max_points"] < 1 or quote["max_value"] <= 0:
        return []
    return [PaymentOption(
        title=_("Pay part with %(bank)s points") % {"bank": bank.display_name},
        note=_("You have %(have)s points; use up to %(n)s here (−¥%(v)s).") % {
            "have": quote["balance"], "n": quote["max_points"], "v": quote["max_value"]},
        url=url)]


# --- my points -----------------------------------------------------------------------------


@login_required
def home(request):
    bank = _bank(request)
    programme, rules = services.programme_of(bank)
    uid = request.user.pk
    history = Paginator(selectors.history_of(user_id=uid), 30).get_page(request.GET.get("page"))
    return render(request, "rewards/home.html", {
        "programme": programme, "rules": rules, "balance": services.balance(user_id=uid),
        "expiring": selectors.expiring_next(user_id=uid), "history": history,
        "waiting": selectors.redemptions_of(user_id=uid).filter(
            status__in=[RedemptionStatus.READY, RedemptionStatus.AWAITING_CASH]).count()})


# --- the points mall -----------------------------------------------------------------------


def mall(request):
    bank = _bank(request)
    programme, _rules = services.programme_of(bank)
    user = request.user if request.user.is_authenticated else None
    return render(request, "rewards/mall.html", {
        "programme": programme, "offers": selectors.offers_open(user=user),
        "balance": services.balance(user_id=user.pk) if user else None})


def _offer_page(request, bank, offer, *, form=None, error="", status=200):
    return render(request, "rewards/offer.html", {
        "offer": offer, "form": form or RedeemForm(), "error": error,
        "branches": _branches(bank), "balance": services.balance(user_id=request.user.pk),
        "can_take": max(0, min(offer.left, offer.per_customer_limit - offer.taken)),
    }, status=status)


@login_required
def offer(request, offer_id: int):
    bank = _bank(request)
    item = selectors.offer_get(offer_id=offer_id, user=request.user)
    if request.method != "POST":
        return _offer_page(request, bank, item)
    form = RedeemForm(request.POST)
    if not form.is_valid():
        return _offer_page(request, bank, item, form=form, status=400)
    branch = Branch.objects.filter(pk=form.cleaned_data["branch"], bank=bank).first()
    if branch is None:
        form.add_error("branch", _("Choose one of this bank's pickup branches."))
        return _offer_page(request, bank, item, form=form, status=400)
    try:
        redemption = services.offer_redeem(bank=bank, offer=item, user=request.user,
                                           quantity=form.cleaned_data["quantity"],
                                           branch=branch)
    except (ValidationError, ApplicationError) as exc:
        item = selectors.offer_get(offer_id=offer_id, user=request.user)
        return _offer_page(request, bank, item, form=form, error=_error_text(exc), status=400)
    if redemption.status == RedemptionStatus.AWAITING_CASH:
        messages.success(request, _("Points taken. Pay the cash part to get your pickup code."))
    else:
        messages.success(request, _("Redeemed. Show the pickup code at the branch."))
    return redirect("rewards:redemption", redemption.pk)


@login_required
def redemptions(request):
    _bank(request)
    rows = Paginator(selectors.redemptions_of(user_id=request.user.pk), 20).get_page(
        request.GET.get("page"))
    names = dict(Branch.objects.filter(pk__in={r.branch_id for r in rows})
                 .values_list("pk", "name"))
    for r in rows:
        r.branch_name = names.get(r.branch_id, "")
    return render(request, "rewards/redemptions.html", {"redemptions": rows})


def _redemption_page(request, redemption, *, form=None, decline="", status=200):
    return render(request, "rewards/redemption.html", {
        "redemption": redemption, "branch": Branch.objects.filter(
            pk=redemption.branch_id).first(),
        "form": form, "decline": decline,
        # One key per attempt, derived from the redemption: the page rendered twice, or
        # submitted twice, sends the same key (the service replays or answers 409).
        "idempotency_key": f"page-{redemption.pk}-{redemption.payments.count() + 1}",
        "payment_pending": redemption.payments.filter(status="pending").exists(),
        **card_entry_context(),
        "card": form.data if form is not None else {},
    }, status=status)


@login_required
def redemption(request, redemption_id: int):
    _bank(request)
    row = selectors.redemption_of(user_id=request.user.pk, redemption_id=redemption_id)
    return _redemption_page(request, row)


@login_required
@require_POST
def redemption_pay(request, redemption_id: int):
    bank = _bank(request)
    row = selectors.redemption_of(user_id=request.user.pk, redemption_id=redemption_id)
    form = CardForm(request.POST)
    if not form.is_valid():
        return _redemption_page(request, row, form=form, status=400)
    month, year = form.expiry()
    card = Card(form.cleaned_data["number"], month, year, form.cleaned_data["cvc"])
    fingerprint = request_fingerprint(operation="points_redemption_pay", redemption=row.pk,
                                      card=asdict(card))
    try:
        services.redemption_pay_cash(bank=bank, redemption=row, user=request.user, card=card,
                                     idempotency_key=form.cleaned_data["idempotency_key"],
                                     fingerprint=fingerprint)
    except ValidationError as exc:
        for field, msgs in validation_errors(exc).items():
            for msg in msgs:
                form.add_error(field if field in form.fields else None, msg)
        return _redemption_page(request, row, form=form, status=400)
    except ApplicationError as exc:
        row.refresh_from_db()
        if row.payment_reference:  # paid by the same request sent before
            return redirect("rewards:redemption", row.pk)
        return _redemption_page(request, row, form=form, decline=exc.message,
                                status=202 if exc.code == "payment_unknown"
                                else exc.status_code)
    messages.success(request, _("Paid. Show the pickup code at the branch."))
    return redirect("rewards:redemption", row.pk)


@login_required
@require_POST
def redemption_cancel(request, redemption_id: int):
    bank = _bank(request)
    row = selectors.redemption_of(user_id=request.user.pk, redemption_id=redemption_id)
    try:
        services.redemption_cancel(bank=bank, redemption=row, actor=request.user)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Cancelled: your points are back."))
    return redirect("rewards:redemption", row.pk)


# --- points at checkout --------------------------------------------------------------------


def _checkout_page(request, bank, checkout, *, form=None, error="", status=200):
    quote = services.checkout_points_quote(bank=bank, checkout=checkout, buyer=request.user)
    return render(request, "rewards/checkout.html", {
        "checkout": checkout, "quote": quote, "error": error,
        "form": form or ApplyPointsForm(initial={"points": quote["max_points"] or None}),
        "rules": services.programme_of(bank)[1]}, status=status)


@login_required
def checkout_points(request, number: str):
    bank = _bank(request)
    checkout = checkout_of_buyer(buyer=request.user, number=number)
    if checkout.storefront_bank_id != bank.pk:
        raise Http404
    if checkout.status == CheckoutStatus.PAID:
        messages.info(request, _("This checkout is paid already."))
        return redirect("orders:checkout-detail", checkout.number)
    if request.method != "POST":
        return _checkout_page(request, bank, checkout)
    action = request.POST.get("action", "apply")
    form = None
    try:
        if action == "remove":
            services.checkout_remove_points(bank=bank, checkout=checkout, buyer=request.user)
            messages.success(request, _("The points are off this order and back with you."))
        else:
            form = ApplyPointsForm(request.POST)
            if not form.is_valid():
                return _checkout_page(request, bank, checkout, form=form, status=400)
            checkout = services.checkout_apply_points(
                bank=bank, checkout=checkout, buyer=request.user,
                points=form.cleaned_data["points"])
            messages.success(request, _("%(n)s points applied: the card pays ¥%(due)s.") % {
                "n": checkout.points_used, "due": checkout.cash_due})
    except (ValidationError, ApplicationError) as exc:
        checkout.refresh_from_db()
        return _checkout_page(request, bank, checkout, form=form, error=_error_text(exc),
                              status=400)
    return redirect("payments:pay", checkout.number)
