"""The signed-in shopper's credit at this bank: consent, pay later and instalments at
checkout, loans and card repayments."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import valid
from core.idempotency import request_fingerprint
from lending import selectors, services
from lending.api._common import (
    IDEMPOTENCY_KEY,
    REPAY_DESCRIPTION,
    REPLAY,
    LoanQuerySerializer,
    _context,
    _financed_once,
    _idempotency_key,
    _loan_detail,
    _not_found_as_404,
    _page,
    _with_unpaid,
    repay_by_card,
)
from lending.models import Application, ApplicationStatus, PartyKind, Tier
from lending.serializers import (
    ApplicationSerializer,
    CheckoutFinanceInputSerializer,
    CheckoutFinancingSerializer,
    CheckoutOptionsSerializer,
    ConsentInputSerializer,
    CreditSerializer,
    LoanDetailSerializer,
    LoanPageSerializer,
    LoanSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
    credit_data,
)
from orders.models import Checkout
from orders.selectors import checkout_of_buyer


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
        app, created = _financed_once(
            request, scope="checkout_financing", key=key,
            fingerprint=request_fingerprint(operation="checkout_finance",
                                            checkout=checkout.number, **data),
            existing=lambda: self.financed(request, checkout),
            make=lambda: services.checkout_finance(bank=request.bank, checkout=checkout,
                                                   buyer=request.user, months=data["months"]))
        if not created:
            return Response(self.result(app))
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
        description=REPAY_DESCRIPTION)
    def post(self, request, loan_id: int):
        return repay_by_card(request, selectors.loan_of_user(user_id=request.user.pk,
                                                            loan_id=loan_id))
