"""Financing pages on a bank's domain: the buyer's "my credit", pay later or instalments
for a checkout, "my loans" with card repayment (under /credit/); and the merchant's
"financing" (under /merchant/<merchant_id>/financing/): consent, limit, financeable
orders with their quote, applications and loans.

Credit is the bank's own: every page works in the schema of the bank whose domain this
is (``request.bank``), so a buyer's credit and loans here are this bank's only. Thin:
every write is a ``lending.services`` call, every read a selector scoped to the person
(someone else's loan is a 404); the services decide and their messages are shown.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.timezone import localdate
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import ConsentPurpose
from accounts.selectors import has_consent
from catalog.selectors import merchant_for_member
from core.errors import ApplicationError, first_message, validation_errors
from lending import selectors, services
from lending.forms import CheckoutFinanceForm, OrderFinanceForm, RepayForm
from lending.models import (
    FINANCEABLE,
    ApplicationStatus,
    PartyKind,
    RepaymentStatus,
    unpaid_principal,
)
from lending.scoring import factor_table
from orders.models import CheckoutStatus
from orders.selectors import checkout_of_buyer, orders_of_merchant
from payments import services as payment_services
from payments.card_entry import card_entry_context
from payments.interfaces import PaymentOption

log = logging.getLogger(__name__)

# What the buyer's and the merchant's consent lets the bank read (shown before consent).
BUYER_DATA = [
    gettext_lazy("When you joined the platform and whether you buy as a registered business"),
    gettext_lazy("Your purchases over the last 3, 6 and 12 months and how many orders"),
    gettext_lazy("Refunds and disputes on your orders"),
    gettext_lazy("How you repaid earlier credit from this bank"),
]
MERCHANT_DATA = [
    gettext_lazy("The shop's time on the platform, its sales over 3, 6 and 12 months and "
                 "their growth, and its number of orders"),
    gettext_lazy("Shipping within 48 hours, orders fulfilled, refunds and disputes"),
    gettext_lazy("Traceability of its products to a batch and its latest on-site inspection"),
    gettext_lazy("How it repaid earlier financing from this bank"),
]


# --- helpers -------------------------------------------------------------------------------


def _bank(request):
    bank = getattr(request, "bank", None)
    if bank is None:  # credit is a bank's: there is none on the portal
        raise Http404
    return bank


def _error_text(exc: Exception) -> str:
    if isinstance(exc, ApplicationError):
        return exc.message
    return first_message(validation_errors(exc)) or _("Please check your input.")


def _factor_rows(profile) -> list[dict]:
    """The profile's factors with labels in the page's language and a share of the most."""
    if profile is None or not profile.factors:
        return []
    labels = {name: label for name, _w, label in factor_table(profile.party)}
    rows = []
    for f in profile.factors:
        most = f.get("max") or 0
        rows.append({**f, "label": labels.get(f["factor"], f.get("label", "")),
                     "pct": round(100 * f["points"] / most) if most else 0})
    return rows


def _credit_context(party: str, party_id: int) -> dict:
    credit = services.credit_of(party=party, party_id=party_id)
    profile = credit.profile if credit.profile and credit.profile.consented else None
    return {"credit": credit, "profile": profile, "factors": _factor_rows(profile),
            "policy": services.policy_get()}


def _schedule(rows, *, today=None) -> dict:
    """Rows of a schedule (a preview's instalments or a loan's lines) for the page, with
    their totals: every instalment's date, principal, interest and amount."""
    out, principal, interest = [], Decimal("0.00"), Decimal("0.00")
    for r in rows:
        paid_at = getattr(r, "paid_at", None)
        out.append({"seq": r.seq, "due_date": r.due_date, "principal": r.principal,
                    "interest": r.interest, "amount": r.principal + r.interest,
                    "paid_at": paid_at, "principal_paid": getattr(r, "principal_paid", None),
                    "late": bool(today and not paid_at and r.due_date < today)})
        principal += r.principal
        interest += r.interest
    return {"rows": out, "principal_total": principal, "interest_total": interest,
            "total": principal + interest}


def _recompute(bank, party: str, party_id: int, actor) -> None:
    try:
        services.profile_compute(bank=bank, party=party, party_id=party_id, actor=actor)
    except ApplicationError as exc:  # e.g. a shop that is not (yet) this bank's
        log.info("no profile for %s %s: %s", party, party_id, exc.message)


# --- the pay page's other options (registered with payments in LendingConfig.ready) ------


def checkout_payment_options(*, request, checkout) -> list[PaymentOption]:
    """Pay later (business buyers) or instalments (individuals) from the storefront bank's
    credit, when the buyer consented and the available limit covers the checkout."""
    bank = getattr(request, "bank", None)
    user = request.user
    if (bank is None or not user.is_authenticated or checkout.buyer_id != user.pk
            or checkout.status != CheckoutStatus.PENDING_PAYMENT):
        return []
    try:
        options = services.checkout_financing_options(bank=bank, checkout=checkout,
                                                      buyer=user)
    except Exception:  # the card page must work whatever happens here
        log.exception("financing options of checkout %s", checkout.number)
        return []
    url = reverse("lending:checkout", args=[checkout.number])
    later = options["pay_later"]
    if later:
        return [PaymentOption(
            title=_("Pay later with %(bank)s") % {"bank": bank.display_name},
            note=_("Pay ¥%(total)s by %(due)s; interest for the days used, about "
                   "¥%(interest)s for %(days)s days.") % {
                "total": checkout.total, "due": later["due"].isoformat(),
                "interest": later["interest"], "days": later["days"]},
            url=url)]
    if options["instalments"]:
        cheapest = options["instalments"][-1]
        terms = "/".join(str(o["months"]) for o in options["instalments"])
        return [PaymentOption(
            title=_("Instalments with %(bank)s") % {"bank": bank.display_name},
            note=_("%(terms)s months, from ¥%(payment)s a month.") % {
                "terms": terms, "payment": cheapest["payment"]},
            url=url)]
    return []


# --- the buyer: my credit ------------------------------------------------------------------


@login_required
def credit_home(request):
    bank = _bank(request)
    consented = has_consent(user_id=request.user.pk, purpose=ConsentPurpose.CREDIT,
                            bank_id=bank.pk)
    context = _credit_context(PartyKind.BUYER, request.user.pk)
    loans = list(selectors.loans_of_user(user_id=request.user.pk)
                 .filter(status__in=selectors.OPEN_LOANS)[:5])
    return render(request, "lending/shop/credit.html", {
        **context, "consented": consented, "data_used": BUYER_DATA, "open_loans": loans,
        "business": request.user.is_business_buyer})


@login_required
@require_POST
def credit_consent(request):
    """action=grant | withdraw | refresh. Granting works out the limit at once."""
    bank = _bank(request)
    action = request.POST.get("action", "")
    user = request.user
    if action == "grant":
        services.buyer_consent_set(bank=bank, user=user, agree=True, source="credit_page")
        messages.success(request, _("Thank you. Your credit at %(bank)s is worked out from "
                                    "your trading record.") % {"bank": bank.display_name})
    elif action == "withdraw":
        services.buyer_consent_set(bank=bank, user=user, agree=False)
        messages.success(request, _("Consent withdrawn: the bank no longer uses your "
                                    "platform data, and you have no new credit here. "
                                    "Loans you have stay as they are."))
    elif action == "refresh" and has_consent(user_id=user.pk, purpose=ConsentPurpose.CREDIT,
                                             bank_id=bank.pk):
        _recompute(bank, PartyKind.BUYER, user.pk, user)
        messages.success(request, _("Your credit was worked out again from your latest "
                                    "trading record."))
    else:
        messages.error(request, _("Nothing was changed."))
    return redirect("lending:home")


# --- the buyer: pay a checkout with credit -------------------------------------------------


def _checkout_page(request, bank, checkout, *, error="", chosen="", status=200):
    options = services.checkout_financing_options(bank=bank, checkout=checkout,
                                                  buyer=request.user)
    plans = []
    for option in options["instalments"]:
        rows = selectors.instalment_preview(amount=checkout.total, rate=option["rate"],
                                            months=option["months"])
        plans.append({**option, "schedule": _schedule(rows)})
    if not chosen:
        chosen = "later" if options["pay_later"] else (
            str(plans[0]["months"]) if plans else "")
    return render(request, "lending/shop/checkout.html", {
        "checkout": checkout, "options": options, "plans": plans, "error": error,
        "chosen": chosen, "credit": options["credit"],
        "business": request.user.is_business_buyer,
        "later_total": (checkout.total + options["pay_later"]["interest"])
        if options["pay_later"] else None,
    }, status=status)


@login_required
def checkout_finance(request, number: str):
    bank = _bank(request)
    checkout = checkout_of_buyer(buyer=request.user, number=number)
    if checkout.status == CheckoutStatus.PAID:
        messages.info(request, _("This checkout is paid already."))
        return redirect("orders:checkout-detail", checkout.number)
    if request.method != "POST":
        return _checkout_page(request, bank, checkout)
    form = CheckoutFinanceForm(request.POST)
    if not form.is_valid():
        return _checkout_page(request, bank, checkout, status=400,
                              error=first_message(form.errors) or _("Please check your input."))
    months = form.cleaned_data["choice"]
    try:
        app = services.checkout_finance(bank=bank, checkout=checkout, buyer=request.user,
                                        months=months)
    except (ValidationError, ApplicationError) as exc:
        if isinstance(exc, ApplicationError) and exc.code == "already_paid":
            messages.info(request, exc.message)
            return redirect("orders:checkout-detail", checkout.number)
        checkout.refresh_from_db()
        return _checkout_page(request, bank, checkout, error=_error_text(exc), status=400,
                              chosen=request.POST.get("choice", ""))
    if months:
        messages.success(request, _("Paid in %(months)s instalments: the shops will get to "
                                    "work. Your schedule is below.") % {"months": months})
    else:
        messages.success(request, _("Paid with pay later: the shops will get to work. Repay "
                                    "by %(due)s.") % {"due": app.loan.maturity_date.isoformat()})
    return redirect("lending:loan", app.loan.pk)


# --- the buyer: my loans -------------------------------------------------------------------


@login_required
def loan_list(request):
    _bank(request)
    loans = Paginator(selectors.loans_of_user(user_id=request.user.pk)
                      .select_related("application").order_by("-disbursed_at", "-pk")
                      .annotate(unpaid=unpaid_principal()),
                      20).get_page(request.GET.get("page"))
    return render(request, "lending/shop/loans.html", {"loans": loans})


def _loan_page(request, loan, *, form=None, decline="", status=200):
    due, everything = services.loan_due_now(loan=loan)
    return render(request, "lending/shop/loan.html", {
        "loan": loan, "schedule": _schedule(selectors.schedule_of(loan), today=localdate()),
        "repayments": list(loan.repayments.filter(status=RepaymentStatus.SUCCEEDED)),
        "due": due, "everything": everything, "form": form, "decline": decline,
        "idempotency_key": uuid.uuid4().hex,
        **card_entry_context(),
        "card": form.data if form is not None else {},
    }, status=status)


@login_required
def loan_detail(request, loan_id: int):
    _bank(request)
    loan = selectors.loan_of_user(user_id=request.user.pk, loan_id=loan_id)
    return _loan_page(request, loan)


def _repay_by_card(request, bank, loan, *, page, done_url):
    """Repay ``loan`` by card from the posted form (the buyer's loan page and the shop's
    use the same form and service); ``page(form=, decline=, status=)`` renders a refusal."""
    form = RepayForm(request.POST)
    if not form.is_valid():
        return page(form=form, status=400)
    month, year = form.expiry()
    card = payment_services.Card(form.cleaned_data["number"], month, year,
                                 form.cleaned_data["cvc"])
    try:
        repayment = services.loan_repay_by_card(
            bank=bank, loan=loan, payer=request.user, card=card,
            idempotency_key=form.cleaned_data["idempotency_key"],
            everything=form.cleaned_data["everything"])
    except ValidationError as exc:
        for field, msgs in validation_errors(exc).items():
            for msg in msgs:
                form.add_error(field if field in form.fields else None, msg)
        return page(form=form, status=400)
    except ApplicationError as exc:
        loan.refresh_from_db()
        return page(form=form, decline=exc.message, status=400)
    loan.refresh_from_db()
    if repayment.status != RepaymentStatus.SUCCEEDED:
        return page(form=form, status=400, decline=_(
            "The card was declined (%(reason)s); nothing was taken. Try another card.")
            % {"reason": (repayment.message or "").rstrip(".") or _("no reason given")})
    messages.success(request, _("Repaid ¥%(amount)s. Thank you.") % {"amount": repayment.amount})
    return redirect(done_url)


@login_required
@require_POST
def loan_repay(request, loan_id: int):
    bank = _bank(request)
    loan = selectors.loan_of_user(user_id=request.user.pk, loan_id=loan_id)
    return _repay_by_card(request, bank, loan, done_url=reverse("lending:loan", args=[loan.pk]),
                          page=lambda **kw: _loan_page(request, loan, **kw))


# --- the merchant: financing ---------------------------------------------------------------


def _merchant(request, merchant_id: int):
    return merchant_for_member(user=request.user, bank=_bank(request), merchant_id=merchant_id)


@login_required
def merchant_home(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    bank = request.bank
    context = _credit_context(PartyKind.MERCHANT, merchant.pk)
    rows = selectors.financeable_orders(merchant_id=merchant.pk, bank_id=bank.pk)
    page = Paginator(rows, 20).get_page(request.GET.get("page"))
    if context["profile"] is not None:
        for row in page:
            if row["application"] is None:
                row["quote"] = services.order_financing_quote(bank=bank, order=row["order"])
    applications = list(selectors.applications_of_merchant(merchant_id=merchant.pk)[:20])
    loans = list(selectors.loans_of_merchant(merchant_id=merchant.pk)
                 .order_by("-disbursed_at", "-pk")
                 .annotate(unpaid=unpaid_principal())[:20])
    # Lending rows hold order ids (shared rows): show the orders' numbers.
    numbers = dict(orders_of_merchant(merchant=merchant)
                   .filter(pk__in={x.order_id for x in applications + loans})
                   .values_list("pk", "number"))
    for x in applications + loans:
        x.order_number = numbers.get(x.order_id, "")
    return render(request, "lending/merchant/home.html", {
        **context, "merchant": merchant, "orders": page,
        "consented": selectors.merchant_consent_live(merchant_id=merchant.pk),
        "data_used": MERCHANT_DATA, "applications": applications, "loans": loans,
    })


@login_required
@require_POST
def merchant_consent(request, merchant_id: int):
    merchant = _merchant(request, merchant_id)
    bank = request.bank
    action = request.POST.get("action", "")
    try:
        if action == "grant":
            services.merchant_consent_set(bank=bank, merchant=merchant, actor=request.user,
                                          agree=True)
            messages.success(request, _("Thank you. The shop's credit is worked out from its "
                                        "trading record."))
        elif action == "withdraw":
            services.merchant_consent_set(bank=bank, merchant=merchant, actor=request.user,
                                          agree=False)
            messages.success(request, _("Consent withdrawn: no new financing for this shop. "
                                        "Open loans are still repaid at settlement."))
        elif action != "refresh":
            messages.error(request, _("Nothing was changed."))
            return redirect("merchant_lending:home", merchant.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("merchant_lending:home", merchant.pk)
    if action == "refresh":
        _recompute(bank, PartyKind.MERCHANT, merchant.pk, request.user)
        messages.success(request, _("The shop's credit was worked out again."))
    return redirect("merchant_lending:home", merchant.pk)


def _order_page(request, merchant, order, *, form=None, error="", status=200):
    bank = request.bank
    quote = services.order_financing_quote(bank=bank, order=order)
    financed = (selectors.applications_of_merchant(merchant_id=merchant.pk)
                .filter(order_id=order.pk).order_by("-created_at", "-pk").first())
    loan = getattr(financed, "loan", None) if financed else None
    return render(request, "lending/merchant/order.html", {
        "merchant": merchant, "order": order, "quote": quote, "application": financed,
        "loan": loan, "form": form or OrderFinanceForm(), "error": error,
        "financeable": order.status in FINANCEABLE,
        "open": financed is not None and financed.status not in (
            ApplicationStatus.REJECTED, ApplicationStatus.CANCELLED),
    }, status=status)


@login_required
def merchant_order(request, merchant_id: int, number: str):
    merchant = _merchant(request, merchant_id)
    order = orders_of_merchant(merchant=merchant).filter(number=number).first()
    if order is None:
        raise Http404
    if request.method != "POST":
        return _order_page(request, merchant, order)
    form = OrderFinanceForm(request.POST)
    if not form.is_valid():
        return _order_page(request, merchant, order, form=form, status=400)
    try:
        app = services.order_financing_apply(bank=request.bank, order=order,
                                             actor=request.user,
                                             amount=form.cleaned_data["amount"])
    except ValidationError as exc:
        for field, msgs in validation_errors(exc).items():
            for msg in msgs:
                form.add_error(field if field in form.fields else None, msg)
        return _order_page(request, merchant, order, form=form, status=400)
    except ApplicationError as exc:
        return _order_page(request, merchant, order, form=form, error=exc.message, status=400)
    if app.status == ApplicationStatus.DISBURSED:
        messages.success(request, _(
            "Approved: ¥%(amount)s is advanced to the shop with the next payout, and repaid "
            "from this order's settlement.") % {"amount": app.amount})
        return redirect("merchant_lending:loan", merchant.pk, app.loan.pk)
    messages.success(request, _("Sent to the bank's credit officers: you will see their "
                                "decision here."))
    return redirect("merchant_lending:home", merchant.pk)


@login_required
def merchant_loan(request, merchant_id: int, loan_id: int):
    merchant = _merchant(request, merchant_id)
    loan = selectors.loan_of_merchant(merchant_id=merchant.pk, loan_id=loan_id)
    return _merchant_loan_page(request, merchant, loan)


def _merchant_loan_page(request, merchant, loan, *, form=None, decline="", status=200):
    due, everything = services.loan_due_now(loan=loan)
    order = orders_of_merchant(merchant=merchant).filter(pk=loan.order_id).first()
    return render(request, "lending/merchant/loan.html", {
        "merchant": merchant, "loan": loan,
        "schedule": _schedule(selectors.schedule_of(loan), today=localdate()),
        "repayments": list(loan.repayments.filter(status=RepaymentStatus.SUCCEEDED)), "due": due,
        "everything": everything, "order": order, "form": form, "decline": decline,
        "idempotency_key": uuid.uuid4().hex, **card_entry_context(),
        "card": form.data if form is not None else {}}, status=status)


@login_required
@require_POST
def merchant_loan_repay(request, merchant_id: int, loan_id: int):
    """The shop repays its loan by card when settlement has not covered it (the order was
    refunded, or is not settled yet and the loan is due)."""
    merchant = _merchant(request, merchant_id)
    loan = selectors.loan_of_merchant(merchant_id=merchant.pk, loan_id=loan_id)
    return _repay_by_card(
        request, _bank(request), loan,
        done_url=reverse("merchant_lending:loan", args=[merchant.pk, loan.pk]),
        page=lambda **kw: _merchant_loan_page(request, merchant, loan, **kw))
