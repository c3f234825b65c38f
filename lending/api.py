"""Financing API on a bank's domain: a shopper's credit, pay later and instalments at
checkout and their loans; a shop's members' order financing; the bank's credit officers'
queue, decisions, profiles, scoring runs, portfolio and loans.

Everything here runs in the schema of the bank whose domain it is (the tenant
middleware put the connection there): a lookup of another bank's application, loan or
profile finds nothing and answers 404. Every id in a URL goes through a scoped
accessor: another shopper's loan, another shop's order and another bank's merchant are
all 404. Money-moving POSTs (checkout financing, order financing, card repayments) take
an ``Idempotency-Key`` header.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from catalog.models import Merchant
from catalog.selectors import merchant_for_member
from core.api import PageQuerySerializer, valid
from core.errors import ApplicationError
from core.idempotency import (
    idempotency_bind,
    idempotency_check,
    idempotency_in_flight,
    request_fingerprint,
)
from lending import selectors, services
from lending.models import (
    Application,
    ApplicationStatus,
    CreditProfile,
    Loan,
    LoanRepayment,
    LoanStatus,
    PartyKind,
    Product,
    ScoringRun,
    Tier,
    unpaid_principal,
)
from lending.serializers import (
    ApplicationDecisionInputSerializer,
    ApplicationPageSerializer,
    ApplicationSerializer,
    CheckoutFinanceInputSerializer,
    CheckoutFinancingSerializer,
    CheckoutOptionsSerializer,
    ConsentInputSerializer,
    ConsoleApplicationDetailSerializer,
    ConsoleLoanDetailSerializer,
    CreditSerializer,
    LoanDetailSerializer,
    LoanPageSerializer,
    LoanSerializer,
    MerchantFinancingSerializer,
    OrderFinancingInputSerializer,
    OrderQuotePageSerializer,
    OrderQuoteSerializer,
    OverdueLoanPageSerializer,
    OverdueLoanSerializer,
    PolicySerializer,
    PortfolioSerializer,
    ProfileDetailSerializer,
    ProfilePageSerializer,
    ProfileSerializer,
    RecomputeInputSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
    ScoringRunSerializer,
    WriteOffInputSerializer,
    credit_data,
)
from orders.models import Checkout, Order
from orders.selectors import checkout_of_buyer, orders_of_merchant
from payments.services import Card

log = logging.getLogger(__name__)
LIVE = (ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
        ApplicationStatus.APPROVED, ApplicationStatus.DISBURSED)
OPEN = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)
KEY_DAYS = 7


@contextmanager
def _not_found_as_404():
    """The services say ``not_found`` when an id is not the bank's (a merchant of another
    bank, a checkout that is not yours): the API answers 404 as for any other id."""
    try:
        yield
    except ApplicationError as exc:
        if exc.code == "not_found":
            raise exceptions.NotFound(exc.message) from None
        raise


def _page(query: dict, rows, serializer_class, context_for) -> dict:
    """One page; ``context_for(rows)`` gives the serializer context (names looked up for
    the rows of this page only)."""
    paginator = Paginator(rows, query["per_page"])
    page = paginator.get_page(query["page"])
    items = list(page.object_list)
    return {"total": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "results": serializer_class(items, many=True, context=context_for(items)).data}


# --- names of shared rows, looked up once per response -------------------------------------


def _names(rows) -> dict:
    """Names and numbers of the shared rows lending rows point at, by kind and id."""
    ids: dict[str, set] = {"merchant": set(), "user": set(), "order": set(),
                           "checkout": set()}
    for row in rows:
        for attr, kind in (("merchant_id", "merchant"), ("user_id", "user"),
                           ("actor_id", "user"), ("first_approver_id", "user"),
                           ("decided_by_id", "user"), ("order_id", "order"),
                           ("checkout_id", "checkout")):
            value = getattr(row, attr, None)
            if value is not None:
                ids[kind].add(value)
    users = {u.pk: u.shown_name for u in get_user_model().objects.filter(pk__in=ids["user"])}
    return {
        "merchant": dict(Merchant.objects.filter(pk__in=ids["merchant"])
                         .values_list("pk", "name")),
        "user": users, "buyer": users,
        "order": dict(Order.objects.filter(pk__in=ids["order"]).values_list("pk", "number")),
        "checkout": dict(Checkout.objects.filter(pk__in=ids["checkout"])
                         .values_list("pk", "number")),
    }


def _context(rows, **extra) -> dict:
    return {"names": _names(rows), **extra}


def _dues(loans) -> dict:
    """What repaying each open loan today takes: (due now, everything)."""
    dues = {}
    for loan in loans:
        now, everything = services.loan_due_now(loan=loan)
        if now is not None:
            dues[loan.pk] = (now, everything)
    return dues


def _with_unpaid(loans):
    return loans.annotate(unpaid=unpaid_principal())


def _loan_detail(loan: Loan, serializer_class=LoanDetailSerializer) -> dict:
    loan = Loan.objects.prefetch_related("lines", "repayments", "events").get(pk=loan.pk)
    rows = [loan, *loan.events.all()]
    return serializer_class(loan, context=_context(rows, due=_dues([loan]))).data


# --- idempotency keys ---------------------------------------------------------------------


def _idempotency_key(request, *, longest: int = 60) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > longest:
        raise serializers.ValidationError({"idempotency_key": [
            _("Send an Idempotency-Key header (1 to %(n)s characters).") % {"n": longest}]})
    return key


def _key_bound(request, *, scope: str, key: str, fingerprint: str) -> None:
    """Binds the key to the request (its fingerprint: what it finances and how) for
    ``KEY_DAYS`` days in the bank's cache (the key function keeps banks apart): the same
    key with another request is a 422 (core.idempotency). Whatever happens to the cache,
    a checkout or an order is financed at most once (the services and the database refuse
    a second time)."""
    stored = idempotency_bind(name=f"lending:idem:{scope}:{request.user.pk}:{key}",
                              fingerprint=fingerprint, seconds=KEY_DAYS * 86400)
    idempotency_check(stored=stored, fingerprint=fingerprint)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="A key of your choosing (up to 60 characters), new for each attempt. "
                "Sending the same request again with the same key returns the first "
                "result (200) and never lends or charges twice.")
REPLAY = "a replay of an earlier request with the same Idempotency-Key"


# --- shopper: my credit at this bank -------------------------------------------------------


class _ShopperApi(APIView):
    permission_classes = [IsAuthenticated]

    def credit(self, request) -> dict:
        return credit_data(services.credit_of(party=PartyKind.BUYER,
                                              party_id=request.user.pk))


class CreditApi(_ShopperApi):
    @extend_schema(operation_id="credit_retrieve", responses=CreditSerializer,
                   description="My credit at this bank: whether I agreed that it uses my "
                               "platform data, and then my score, tier, limit, rate, what "
                               "I owe and what is available, with every factor.")
    def get(self, request):
        return Response(CreditSerializer(self.credit(request)).data)


class CreditConsentApi(_ShopperApi):
    @extend_schema(
        operation_id="credit_consent", request=ConsentInputSerializer,
        responses=CreditSerializer,
        description="Agree (or no longer agree) that this bank uses my purchase and "
                    "repayment record on the platform for credit. Agreeing works out my "
                    "limit at once; withdrawing removes it (loans already taken stay).")
    def put(self, request):
        agree = valid(ConsentInputSerializer, request.data)["agree"]
        services.buyer_consent_set(bank=request.bank, user=request.user, agree=agree,
                                   source="api")
        return Response(CreditSerializer(self.credit(request)).data)


class CheckoutFinancingOptionsApi(_ShopperApi):
    @extend_schema(responses=CheckoutOptionsSerializer,
                   description="What this bank offers for my checkout: pay later (business "
                               "buyers) or equal instalments with every instalment's date, "
                               "principal and interest (individual buyers), within my "
                               "available limit.")
    def get(self, request, number: str):
        checkout = checkout_of_buyer(buyer=request.user, number=number)
        with _not_found_as_404():
            options = services.checkout_financing_options(bank=request.bank,
                                                          checkout=checkout,
                                                          buyer=request.user)
        credit = options["credit"]
        instalments = [
            {**option, "schedule": [
                {"seq": r.seq, "due_date": r.due_date, "principal": r.principal,
                 "interest": r.interest, "amount": r.amount}
                for r in selectors.instalment_preview(amount=checkout.total,
                                                      rate=option["rate"],
                                                      months=option["months"])]}
            for option in options["instalments"]]
        return Response(CheckoutOptionsSerializer({
            "checkout": checkout.number, "total": checkout.total,
            "consented": options["consented"],
            "tier": credit.profile.tier if credit.profile else Tier.D,
            "available": credit.available, "pay_later": options["pay_later"],
            "instalments": instalments}).data)


class CheckoutFinanceApi(_ShopperApi):
    @extend_schema(
        parameters=[IDEMPOTENCY_KEY], request=CheckoutFinanceInputSerializer,
        responses={201: CheckoutFinancingSerializer,
                   200: OpenApiResponse(CheckoutFinancingSerializer, description=REPLAY)},
        description="Pays the checkout with this bank's credit: pay later (business buyers; "
                    "leave months out) or instalments over `months` (individual buyers). "
                    "Decided at once within the available limit; the bank pays the "
                    "merchants' escrow and the checkout is paid. 400 with code no_consent, "
                    "no_credit, not_eligible or over_limit when it cannot be.")
    def post(self, request, number: str):
        checkout = checkout_of_buyer(buyer=request.user, number=number)
        key = _idempotency_key(request)
        data = valid(CheckoutFinanceInputSerializer, request.data)
        _key_bound(request, scope="checkout", key=key, fingerprint=request_fingerprint(
            operation="checkout_finance", checkout=checkout.number, **data))
        replay = self.financed(request, checkout)
        if replay is not None:
            return Response(self.result(replay))
        try:
            with _not_found_as_404(), idempotency_in_flight(
                    name=f"lending:busy:checkout:{request.user.pk}:{key}"):
                app = services.checkout_finance(bank=request.bank, checkout=checkout,
                                                buyer=request.user, months=data["months"])
        except ApplicationError:
            replay = self.financed(request, checkout)  # a duplicate sent at the same time
            if replay is None:
                raise
            return Response(self.result(replay))
        return Response(self.result(app), status=status.HTTP_201_CREATED)

    @staticmethod
    def financed(request, checkout) -> Application | None:
        return Application.objects.filter(checkout_id=checkout.pk, user_id=request.user.pk,
                                          status=ApplicationStatus.DISBURSED).first()

    @staticmethod
    def result(app: Application) -> dict:
        app = Application.objects.select_related("loan").get(pk=app.pk)
        return {"application": ApplicationSerializer(app, context=_context([app])).data,
                "loan": _loan_detail(app.loan),
                "checkout_status": Checkout.objects.get(pk=app.checkout_id).status}


class LoanQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=LoanStatus.choices, required=False,
                                     allow_blank=True, default="")


class LoanListApi(_ShopperApi):
    @extend_schema(operation_id="credit_loans_list", parameters=[LoanQuerySerializer],
                   responses=LoanPageSerializer,
                   description="My loans at this bank (pay later and instalments), newest "
                               "first.")
    def get(self, request):
        query = valid(LoanQuerySerializer, request.query_params)
        loans = selectors.loans_of_user(user_id=request.user.pk)
        if query["status"]:
            loans = loans.filter(status=query["status"])
        return Response(_page(query, _with_unpaid(loans).order_by("-disbursed_at", "-pk"),
                              LoanSerializer, _context))


class LoanDetailApi(_ShopperApi):
    @extend_schema(responses=LoanDetailSerializer,
                   description="One of my loans: its schedule, repayments and what a "
                               "repayment today takes.")
    def get(self, request, loan_id: int):
        loan = selectors.loan_of_user(user_id=request.user.pk, loan_id=loan_id)
        return Response(_loan_detail(loan))


class LoanRepaymentApi(_ShopperApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY], request=RepaymentInputSerializer,
        responses={201: RepaymentSerializer,
                   200: OpenApiResponse(RepaymentSerializer, description=REPLAY)},
        description="Repays by card what is due now (overdue instalments and the next one; "
                    "the whole loan for pay later) or, with everything, the whole loan. A "
                    "declined card gives a repayment with status failed and a message; "
                    "nothing is taken.")
    def post(self, request, loan_id: int):
        loan = selectors.loan_of_user(user_id=request.user.pk, loan_id=loan_id)
        key = _idempotency_key(request)
        data = valid(RepaymentInputSerializer, request.data)
        earlier = LoanRepayment.objects.filter(idempotency_key=f"card:{key}").exists()
        repayment = services.loan_repay_by_card(
            bank=request.bank, loan=loan, payer=request.user, card=Card(**data["card"]),
            idempotency_key=key, everything=data["everything"],
            fingerprint=request_fingerprint(operation="loan_repay", loan=loan.pk, **data))
        if earlier:
            return Response(RepaymentSerializer(repayment).data)
        repayment = LoanRepayment.objects.select_related("loan").get(pk=repayment.pk)
        return Response(RepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)


# --- merchant: order financing ---------------------------------------------------------------


class _MerchantApi(APIView):
    """A member of the shop, on the domain of the shop's bank; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int) -> Merchant:
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)

    def order(self, merchant, number: str) -> Order:
        return get_object_or_404(orders_of_merchant(merchant=merchant), number=number)

    def overview(self, request, merchant) -> dict:
        policy = services.policy_get()
        credit = services.credit_of(party=PartyKind.MERCHANT, party_id=merchant.pk)
        return MerchantFinancingSerializer({
            "merchant": merchant.pk, "merchant_name": merchant.name,
            "credit": credit_data(credit), "advance_ratio": policy.advance_ratio,
            "term_days": policy.order_financing_days}).data


def _quote_row(bank, order, application) -> dict:
    quote = services.order_financing_quote(bank=bank, order=order)
    return {**quote, "order": order, "application": application}


class MerchantFinancingApi(_MerchantApi):
    @extend_schema(operation_id="merchant_financing_retrieve",
                   responses=MerchantFinancingSerializer,
                   description="The shop's credit at its bank and the bank's terms for "
                               "order financing.")
    def get(self, request, merchant_id: int):
        return Response(self.overview(request, self.merchant(request, merchant_id)))


class MerchantConsentApi(_MerchantApi):
    @extend_schema(operation_id="merchant_financing_consent", request=ConsentInputSerializer,
                   responses=MerchantFinancingSerializer,
                   description="Agree (or no longer agree) that the bank uses the shop's "
                               "trading record on the platform for credit; agreeing works "
                               "out the limit at once.")
    def put(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        agree = valid(ConsentInputSerializer, request.data)["agree"]
        services.merchant_consent_set(bank=request.bank, merchant=merchant,
                                      actor=request.user, agree=agree)
        return Response(self.overview(request, merchant))


class MerchantFinanceableOrdersApi(_MerchantApi):
    class QuerySerializer(PageQuerySerializer):
        per_page = serializers.IntegerField(min_value=1, max_value=50, required=False,
                                            default=20)

    @extend_schema(operation_id="merchant_financing_orders_list",
                   parameters=[QuerySerializer], responses=OrderQuotePageSerializer,
                   description="The shop's paid, unsettled orders (the latest 200), each "
                               "with what the bank would advance on it and its financing "
                               "if any.")
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(self.QuerySerializer, request.query_params)
        rows = selectors.financeable_orders(merchant_id=merchant.pk, bank_id=request.bank.pk)

        def context(items):
            apps = [r["application"] for r in items if r["application"]]
            return _context(apps)

        paginator = Paginator(rows, query["per_page"])
        page = paginator.get_page(query["page"])
        items = list(page.object_list)
        quotes = [_quote_row(request.bank, r["order"], r["application"]) for r in items]
        return Response({"total": paginator.count, "page": page.number,
                         "pages": paginator.num_pages,
                         "results": OrderQuoteSerializer(quotes, many=True,
                                                         context=context(items)).data})


class MerchantOrderQuoteApi(_MerchantApi):
    @extend_schema(responses=OrderQuoteSerializer,
                   description="What the bank would advance on this order, at what rate.")
    def get(self, request, merchant_id: int, number: str):
        order = self.order(self.merchant(request, merchant_id), number)
        app = Application.objects.filter(order_id=order.pk, status__in=LIVE).first()
        return Response(OrderQuoteSerializer(_quote_row(request.bank, order, app),
                                             context=_context([app] if app else [])).data)


class MerchantOrderFinanceApi(_MerchantApi):
    @extend_schema(
        parameters=[IDEMPOTENCY_KEY], request=OrderFinancingInputSerializer,
        responses={201: ApplicationSerializer,
                   200: OpenApiResponse(ApplicationSerializer, description=REPLAY)},
        description="Finance this order: the bank advances up to its share of the order's "
                    "value (paid out with the next payout) and takes it back with the "
                    "interest for the days used at settlement, before the shop is paid. "
                    "Within the limit and an automatic tier it is disbursed at once "
                    "(status disbursed); otherwise it waits for a credit officer "
                    "(in_review). 400 with code no_consent, no_credit, not_financeable or "
                    "already_financed when it cannot be.")
    def post(self, request, merchant_id: int, number: str):
        merchant = self.merchant(request, merchant_id)
        order = self.order(merchant, number)
        key = _idempotency_key(request)
        data = valid(OrderFinancingInputSerializer, request.data)
        _key_bound(request, scope=f"order:{merchant.pk}", key=key,
                   fingerprint=request_fingerprint(operation="order_financing",
                                                   order=order.number, **data))
        replay = Application.objects.filter(order_id=order.pk, status__in=LIVE,
                                            user_id=request.user.pk).first()
        if replay is not None:
            return Response(self.data(replay))
        try:
            with _not_found_as_404(), idempotency_in_flight(
                    name=f"lending:busy:order:{request.user.pk}:{key}"):
                app = services.order_financing_apply(bank=request.bank, order=order,
                                                     actor=request.user,
                                                     amount=data["amount"])
        except ApplicationError:
            replay = Application.objects.filter(order_id=order.pk, status__in=LIVE,
                                                user_id=request.user.pk).first()
            if replay is None:
                raise
            return Response(self.data(replay))
        return Response(self.data(app), status=status.HTTP_201_CREATED)

    @staticmethod
    def data(app: Application) -> dict:
        app = Application.objects.get(pk=app.pk)
        return ApplicationSerializer(app, context=_context([app])).data


class MerchantApplicationsApi(_MerchantApi):
    @extend_schema(operation_id="merchant_financing_applications_list",
                   parameters=[PageQuerySerializer], responses=ApplicationPageSerializer)
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(PageQuerySerializer, request.query_params)
        apps = (selectors.applications_of_merchant(merchant_id=merchant.pk)
                .select_related("loan").order_by("-created_at", "-pk"))
        return Response(_page(query, apps, ApplicationSerializer, _context))


class MerchantLoansApi(_MerchantApi):
    @extend_schema(operation_id="merchant_financing_loans_list",
                   parameters=[LoanQuerySerializer], responses=LoanPageSerializer)
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(LoanQuerySerializer, request.query_params)
        loans = selectors.loans_of_merchant(merchant_id=merchant.pk)
        if query["status"]:
            loans = loans.filter(status=query["status"])
        return Response(_page(query, _with_unpaid(loans).order_by("-disbursed_at", "-pk"),
                              LoanSerializer, _context))


class MerchantLoanDetailApi(_MerchantApi):
    @extend_schema(responses=LoanDetailSerializer,
                   description="One of the shop's loans: schedule, repayments (taken at "
                               "settlement) and what repaying it today would take.")
    def get(self, request, merchant_id: int, loan_id: int):
        merchant = self.merchant(request, merchant_id)
        loan = selectors.loan_of_merchant(merchant_id=merchant.pk, loan_id=loan_id)
        return Response(_loan_detail(loan))


# --- bank staff: credit officers (and bank admins) ---------------------------------------------


class _ConsoleApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.CREDIT_OFFICER,)  # and bank admins


def _profile_get(profile_id: int) -> CreditProfile:
    profile = CreditProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        raise Http404
    return profile


def _application_detail(app: Application) -> dict:
    app = Application.objects.select_related("loan").get(pk=app.pk)
    party_id = app.merchant_id if app.party == PartyKind.MERCHANT else app.user_id
    profile = selectors.profile_of(party=app.party, party_id=party_id)
    events = selectors.events_of(application=app)
    policy = services.policy_get()
    open_review = app.status in (ApplicationStatus.IN_REVIEW,
                                 ApplicationStatus.AWAITING_SECOND)
    if open_review:
        credit = services.credit_of(party=app.party, party_id=party_id)
        app.needs_second_approval = (app.status == ApplicationStatus.AWAITING_SECOND or
                                     app.amount > policy.second_approval_over or
                                     app.amount > credit.available)
    else:
        app.needs_second_approval = False
    rows = [app, *events, *([profile] if profile else [])]
    return ConsoleApplicationDetailSerializer(
        app, context=_context(rows, profile=profile, events=events)).data


class ConsoleApplicationsApi(_ConsoleApi):
    class QuerySerializer(PageQuerySerializer):
        status = serializers.ChoiceField(
            choices=[("queue", "queue"), ("all", "all"), *ApplicationStatus.choices],
            required=False, default="queue",
            help_text="queue (default): in review and awaiting a second approval, oldest "
                      "first; all; or one status")
        product = serializers.ChoiceField(choices=Product.choices, required=False,
                                          allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_applications_list",
                   parameters=[QuerySerializer], responses=ApplicationPageSerializer)
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        if query["status"] == "queue":
            apps = selectors.application_queue()
        else:
            apps = selectors.application_list(
                status="" if query["status"] == "all" else query["status"])
            apps = apps.order_by("-created_at", "-pk")
        if query["product"]:
            apps = apps.filter(product=query["product"])
        return Response(_page(query, apps.select_related("loan"), ApplicationSerializer,
                              _context))


class ConsoleApplicationApi(_ConsoleApi):
    @extend_schema(responses=ConsoleApplicationDetailSerializer,
                   description="An application with the score explanation (each factor's "
                               "points of its most and the figures) and the audit trail.")
    def get(self, request, application_id: int):
        app = selectors.application_get(application_id=application_id)
        return Response(_application_detail(app))


class ConsoleApplicationDecideApi(_ConsoleApi):
    @extend_schema(
        request=ApplicationDecisionInputSerializer, responses=ConsoleApplicationDetailSerializer,
        description="Approve or reject (a note saying why is required). An approval above "
                    "the bank's threshold or the party's available limit needs a second, "
                    "different officer: the first approval leaves it awaiting_second; 400 "
                    "with code same_officer when the first approver tries again. An "
                    "approved application is disbursed at once.")
    def post(self, request, application_id: int):
        app = selectors.application_get(application_id=application_id)
        data = valid(ApplicationDecisionInputSerializer, request.data)
        with _not_found_as_404():
            app = services.application_decide(bank=request.bank, application=app,
                                              officer=request.user, approve=data["approve"],
                                              note=data["note"])
        return Response(_application_detail(app))


class ConsoleProfilesApi(_ConsoleApi):
    class QuerySerializer(PageQuerySerializer):
        party = serializers.ChoiceField(choices=PartyKind.choices, required=False,
                                        allow_blank=True, default="")
        tier = serializers.ChoiceField(choices=Tier.choices, required=False,
                                       allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_profiles_list",
                   parameters=[QuerySerializer], responses=ProfilePageSerializer,
                   description="Credit profiles of the bank's merchants and customers, "
                               "best score first.")
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        profiles = selectors.profile_list(party=query["party"] or None, tier=query["tier"])
        return Response(_page(query, profiles, ProfileSerializer, _context))


class ConsoleProfileApi(_ConsoleApi):
    @extend_schema(responses=ProfileDetailSerializer)
    def get(self, request, profile_id: int):
        profile = _profile_get(profile_id)
        return Response(ProfileDetailSerializer(profile, context=_context([profile])).data)


class ConsoleProfileRecomputeApi(_ConsoleApi):
    @extend_schema(request=RecomputeInputSerializer, responses=ProfileDetailSerializer,
                   description="Recompute one party's profile now (a merchant of this bank, "
                               "or a customer); 404 for a merchant of another bank.")
    def post(self, request):
        data = valid(RecomputeInputSerializer, request.data)
        with _not_found_as_404():
            profile = services.profile_compute(bank=request.bank, party=data["party"],
                                               party_id=data["party_id"], actor=request.user)
        return Response(ProfileDetailSerializer(profile, context=_context([profile])).data)


class ConsoleScoringRunsApi(_ConsoleApi):
    @extend_schema(operation_id="console_lending_scoring_runs_list",
                   responses=ScoringRunSerializer(many=True),
                   description="The latest 50 scoring runs, newest first.")
    def get(self, request):
        runs = ScoringRun.objects.order_by("-created_at", "-pk")[:50]
        return Response(ScoringRunSerializer(runs, many=True).data)

    @extend_schema(request=None, responses={201: ScoringRunSerializer},
                   description="Recompute every profile of the bank now: the run is queued "
                               "to the worker; follow done / total on the run. 400 with "
                               "code run_in_progress while another is open.")
    def post(self, request):
        run = services.scoring_run_start(bank=request.bank, trigger="manual",
                                         actor=request.user)
        from lending.tasks import run_scoring

        # Queued after commit, from this bank's schema: the task runs in it.
        transaction.on_commit(lambda: run_scoring.delay(run.pk))
        return Response(ScoringRunSerializer(run).data, status=status.HTTP_201_CREATED)


class ConsoleScoringRunApi(_ConsoleApi):
    @extend_schema(responses=ScoringRunSerializer)
    def get(self, request, run_id: int):
        return Response(ScoringRunSerializer(selectors.scoring_run_get(run_id=run_id)).data)


class ConsolePortfolioApi(_ConsoleApi):
    @extend_schema(responses=PortfolioSerializer,
                   description="Outstanding principal by product, loans by status and "
                               "overdue loans by delinquency bucket.")
    def get(self, request):
        return Response(PortfolioSerializer(selectors.portfolio_summary()).data)


class ConsoleOverdueApi(_ConsoleApi):
    @extend_schema(operation_id="console_lending_overdue_list",
                   parameters=[PageQuerySerializer],
                   responses=OverdueLoanPageSerializer,
                   description="Overdue loans, longest overdue first, with their bucket and "
                               "what is due now including the penalty interest.")
    def get(self, request):
        query = valid(PageQuerySerializer, request.query_params)
        return Response(_page(query, selectors.overdue_loans(), OverdueLoanSerializer,
                              lambda items: _context(items, due=_dues(items))))


class ConsoleLoansApi(_ConsoleApi):
    class QuerySerializer(LoanQuerySerializer):
        product = serializers.ChoiceField(choices=Product.choices, required=False,
                                          allow_blank=True, default="")

    @extend_schema(operation_id="console_lending_loans_list", parameters=[QuerySerializer],
                   responses=LoanPageSerializer)
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        loans = selectors.loans_list(status=query["status"], product=query["product"])
        return Response(_page(query, loans.order_by("-disbursed_at", "-pk"), LoanSerializer,
                              _context))


class ConsoleLoanApi(_ConsoleApi):
    @extend_schema(responses=ConsoleLoanDetailSerializer,
                   description="A loan: schedule, repayments, what is due, and the audit "
                               "trail (who did what).")
    def get(self, request, loan_id: int):
        loan = selectors.loan_get(loan_id=loan_id)
        return Response(_loan_detail(loan, ConsoleLoanDetailSerializer))


class ConsoleLoanWriteOffApi(_ConsoleApi):
    staff_roles = (StaffRole.BANK_ADMIN,)

    @extend_schema(request=WriteOffInputSerializer, responses=ConsoleLoanDetailSerializer,
                   description="Bank admins write off an overdue loan (the unpaid principal "
                               "becomes a loss); 403 for other staff.")
    def post(self, request, loan_id: int):
        loan = selectors.loan_get(loan_id=loan_id)
        data = valid(WriteOffInputSerializer, request.data)
        loan = services.loan_write_off(bank=request.bank, loan=loan, actor=request.user,
                                       note=data["note"])
        return Response(_loan_detail(loan, ConsoleLoanDetailSerializer))


class ConsolePolicyApi(_ConsoleApi):
    @extend_schema(responses=PolicySerializer,
                   description="The bank's lending parameters.")
    def get(self, request):
        return Response(PolicySerializer(services.policy_get()).data)

    @extend_schema(request=PolicySerializer(partial=True), responses=PolicySerializer,
                   description="Change some parameters (bank admins; 403 for other staff). "
                               "They take effect at the next scoring.")
    def patch(self, request):
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))
        data = valid(PolicySerializer, request.data, partial=True)
        policy = services.policy_update(bank=request.bank, actor=request.user, **data)
        return Response(PolicySerializer(policy).data)
