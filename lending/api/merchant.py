"""A shop's members: the shop's credit, consent and order financing."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Merchant
from catalog.selectors import merchant_for_member
from core.api import PageQuerySerializer, valid
from core.idempotency import request_fingerprint
from lending import selectors, services
from lending.api._common import (
    IDEMPOTENCY_KEY,
    LIVE,
    REPAY_DESCRIPTION,
    REPLAY,
    LoanQuerySerializer,
    _context,
    _financed_once,
    _idempotency_key,
    _loan_detail,
    _page,
    _with_unpaid,
    repay_by_card,
)
from lending.models import Application, PartyKind
from lending.serializers import (
    ApplicationPageSerializer,
    ApplicationSerializer,
    ConsentInputSerializer,
    LoanDetailSerializer,
    LoanPageSerializer,
    LoanSerializer,
    MerchantFinancingSerializer,
    OrderFinancingInputSerializer,
    OrderQuotePageSerializer,
    OrderQuoteSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
    credit_data,
)
from orders.models import Order
from orders.selectors import orders_of_merchant


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
        app, created = _financed_once(
            request, scope="order_financing", key=key,
            fingerprint=request_fingerprint(operation="order_financing", order=order.number,
                                            **data),
            existing=lambda: Application.objects.filter(
                order_id=order.pk, status__in=LIVE, user_id=request.user.pk).first(),
            make=lambda: services.order_financing_apply(bank=request.bank, order=order,
                                                        actor=request.user,
                                                        amount=data["amount"]))
        if not created:
            return Response(self.data(app))
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


class MerchantLoanRepaymentApi(_MerchantApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(
        operation_id="merchant_loan_repay",
        parameters=[IDEMPOTENCY_KEY], request=RepaymentInputSerializer,
        responses={201: RepaymentSerializer,
                   200: OpenApiResponse(RepaymentSerializer, description=REPLAY)},
        description="A member of the shop repays the shop's loan by card, when settlement "
                    "has not covered it. " + REPAY_DESCRIPTION)
    def post(self, request, merchant_id: int, loan_id: int):
        merchant = self.merchant(request, merchant_id)
        return repay_by_card(request, selectors.loan_of_merchant(merchant_id=merchant.pk,
                                                                loan_id=loan_id))
