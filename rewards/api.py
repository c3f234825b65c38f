"""Points API on a bank's domain: a shopper's points, history, the points mall,
redemptions (with the cash part by card) and points at checkout; the bank's console:
the programme, earning rules, mall offers and the pickup desk.

Everything runs in the schema of the bank whose domain it is: another bank's offer or
redemption does not exist here (404); another shopper's redemption or checkout is a 404
too. Staff of another bank get 404, staff whose role is too low 403 (bank admins change
the programme, rules and offers; any staff may verify and hand over at the desk).
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import Branch, StaffRole
from banks.permissions import IsBankStaff, require_bank_staff
from catalog.models import Sku
from core.api import PageQuerySerializer, valid
from core.errors import ApplicationError
from core.idempotency import request_fingerprint
from orders.selectors import checkout_of_buyer
from payments.services import Card
from rewards import selectors, services
from rewards.models import EarningRule, MallOffer, Redemption
from rewards.serializers import (
    ApplyPointsInputSerializer,
    CashInputSerializer,
    CheckoutPointsSerializer,
    CollectInputSerializer,
    ConsoleRedemptionSerializer,
    EarningRuleSerializer,
    EntryPageSerializer,
    EntrySerializer,
    OfferInputSerializer,
    OfferSerializer,
    PointsSummarySerializer,
    ProgrammeSerializer,
    RedeemInputSerializer,
    RedemptionPageSerializer,
    RedemptionSerializer,
)

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="A key of your choosing (up to 60 characters), new for each attempt; the "
                "card is never charged twice for one key.")
PAGE = [OpenApiParameter("page", int, required=False),
        OpenApiParameter("per_page", int, required=False)]


def _page(request, rows, serializer_class) -> dict:
    query = valid(PageQuerySerializer, request.query_params)
    paginator = Paginator(rows, query["per_page"])
    page = paginator.get_page(query["page"])
    return {"total": paginator.count, "page": page.number, "pages": paginator.num_pages,
            "results": serializer_class(list(page.object_list), many=True).data}


def _bank(request):
    bank = getattr(request, "bank", None)
    if bank is None:
        raise exceptions.NotFound
    return bank


def _with_skus(offers):
    skus = Sku.objects.select_related("product__merchant").in_bulk({o.sku_id for o in offers})
    for o in offers:
        o.sku = skus.get(o.sku_id)
    return offers


# --- the shopper ---------------------------------------------------------------------------


class _ShopperApi(APIView):
    permission_classes = [IsAuthenticated]


class PointsApi(_ShopperApi):
    @extend_schema(operation_id="points_retrieve", responses=PointsSummarySerializer,
                   description="My points at this bank: the balance (the sum of my ledger), "
                               "when the next points expire, and the programme's rules.")
    def get(self, request):
        bank = _bank(request)
        programme, rules = services.programme_of(bank)
        return Response(PointsSummarySerializer({
            "programme": programme.name,
            "balance": services.balance(user_id=request.user.pk),
            "points_per_yuan": programme.points_per_yuan,
            "yuan_per_point": programme.yuan_per_point,
            "expiry_months": rules.expiry_months,
            "sharer_points_per_yuan": rules.sharer_points_per_yuan,
            "max_order_share": rules.max_order_share,
            "expiring_next": selectors.expiring_next(user_id=request.user.pk)}).data)


class PointsHistoryApi(_ShopperApi):
    @extend_schema(parameters=PAGE, responses=EntryPageSerializer,
                   description="My points ledger, newest first: earned, spent, expired and "
                               "restored entries.")
    def get(self, request):
        _bank(request)
        return Response(_page(request, selectors.history_of(user_id=request.user.pk),
                              EntrySerializer))


class OfferListApi(_ShopperApi):
    @extend_schema(operation_id="points_offers_list", responses=OfferSerializer(many=True),
                   description="The points mall's offers for me: open now, or flash "
                               "redemptions about to open; offers for other customer groups "
                               "are left out.")
    def get(self, request):
        _bank(request)
        return Response(OfferSerializer(selectors.offers_open(user=request.user),
                                        many=True).data)


class OfferApi(_ShopperApi):
    @extend_schema(operation_id="points_offer_retrieve", responses=OfferSerializer)
    def get(self, request, offer_id: int):
        _bank(request)
        return Response(OfferSerializer(selectors.offer_get(offer_id=offer_id,
                                                            user=request.user)).data)


class OfferRedeemApi(_ShopperApi):
    @extend_schema(request=RedeemInputSerializer, responses={201: RedemptionSerializer},
                   description="Redeem points for goods picked up at one of this bank's "
                               "branches. A points-plus-cash offer gives a redemption "
                               "awaiting_cash: pay it with /pay/. 400 with code not_open, "
                               "not_eligible, sold_out, limit_reached or not_enough_points.")
    def post(self, request, offer_id: int):
        bank = _bank(request)
        offer = selectors.offer_get(offer_id=offer_id, user=request.user)
        data = valid(RedeemInputSerializer, request.data)
        branch = Branch.objects.filter(pk=data["branch_id"], bank=bank).first()
        if branch is None:
            raise serializers.ValidationError({"branch_id": [
                _("Choose one of this bank's pickup branches.")]})
        redemption = services.offer_redeem(bank=bank, offer=offer, user=request.user,
                                           quantity=data["quantity"], branch=branch)
        return Response(RedemptionSerializer(redemption).data, status=status.HTTP_201_CREATED)


class RedemptionListApi(_ShopperApi):
    @extend_schema(operation_id="points_redemptions_list", parameters=PAGE,
                   responses=RedemptionPageSerializer)
    def get(self, request):
        _bank(request)
        return Response(_page(request, selectors.redemptions_of(user_id=request.user.pk),
                              RedemptionSerializer))


class RedemptionApi(_ShopperApi):
    @extend_schema(operation_id="points_redemption_retrieve", responses=RedemptionSerializer)
    def get(self, request, redemption_id: int):
        _bank(request)
        return Response(RedemptionSerializer(selectors.redemption_of(
            user_id=request.user.pk, redemption_id=redemption_id)).data)


class RedemptionPayApi(_ShopperApi):
    calls_payment_gateway = True  # 503 in the schema (core.schema)

    @extend_schema(parameters=[IDEMPOTENCY_KEY], request=CashInputSerializer,
                   responses={200: RedemptionSerializer,
                              202: OpenApiResponse(RedemptionSerializer,
                                                   description="the card service did not "
                                                   "answer; the payment is being checked"),
                              409: OpenApiResponse(description="a payment of this "
                                                   "redemption is in progress (Retry-After)"),
                              422: OpenApiResponse(description="the Idempotency-Key was "
                                                   "used for a different request")},
                   description="Pay the cash part of a points-plus-cash redemption by card; "
                               "then it is ready and has its pickup code. A declined card is "
                               "a 400 with code card_declined; nothing is taken. Sent again "
                               "with the same key and card, or once paid: the redemption as "
                               "it is. While a payment of it is in progress: 409. When the "
                               "card service does not answer: 202 with a message; the "
                               "payment is checked with the card service within minutes "
                               "(do not pay again).")
    def post(self, request, redemption_id: int):
        bank = _bank(request)
        row = selectors.redemption_of(user_id=request.user.pk, redemption_id=redemption_id)
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key or len(key) > 60:
            raise exceptions.ValidationError({"idempotency_key": [
                _("Send an Idempotency-Key header (1 to 60 characters).")]})
        card = valid(CashInputSerializer, request.data)["card"]
        fingerprint = request_fingerprint(operation="points_redemption_pay",
                                          redemption=row.pk, card=card)
        try:
            row = services.redemption_pay_cash(bank=bank, redemption=row, user=request.user,
                                               card=Card(**card), idempotency_key=key,
                                               fingerprint=fingerprint)
        except ApplicationError as exc:
            if exc.code != "payment_unknown":
                raise
            row.refresh_from_db()
            return Response({**RedemptionSerializer(row).data, "message": exc.message},
                            status=status.HTTP_202_ACCEPTED)
        return Response(RedemptionSerializer(row).data)


class RedemptionCancelApi(_ShopperApi):
    @extend_schema(request=None, responses=RedemptionSerializer,
                   description="Cancel before pickup and before any cash was paid: the points "
                               "come back (unless expired meanwhile).")
    def post(self, request, redemption_id: int):
        bank = _bank(request)
        row = selectors.redemption_of(user_id=request.user.pk, redemption_id=redemption_id)
        row = services.redemption_cancel(bank=bank, redemption=row, actor=request.user)
        return Response(RedemptionSerializer(row).data)


def _checkout(request, number: str):
    bank = _bank(request)
    checkout = checkout_of_buyer(buyer=request.user, number=number)
    if checkout.storefront_bank_id != bank.pk:
        raise Http404
    return bank, checkout


def _quote(bank, checkout, user) -> dict:
    checkout.refresh_from_db()
    quote = services.checkout_points_quote(bank=bank, checkout=checkout, buyer=user)
    return CheckoutPointsSerializer({**quote, "checkout": checkout.number,
                                     "total": checkout.total,
                                     "cash_due": checkout.cash_due}).data


class CheckoutPointsApi(_ShopperApi):
    @extend_schema(operation_id="points_checkout_retrieve", responses=CheckoutPointsSerializer,
                   description="How many of my points this checkout (on this bank's "
                               "storefront) can use, what they are worth, what is applied "
                               "and what the card pays.")
    def get(self, request, number: str):
        bank, checkout = _checkout(request, number)
        return Response(_quote(bank, checkout, request.user))

    @extend_schema(operation_id="points_checkout_apply", request=ApplyPointsInputSerializer,
                   responses=CheckoutPointsSerializer,
                   description="Apply points to the unpaid checkout, within the cap; the "
                               "card then pays cash_due. 400 with code points_applied when "
                               "some are applied already (DELETE them first).")
    def put(self, request, number: str):
        bank, checkout = _checkout(request, number)
        points = valid(ApplyPointsInputSerializer, request.data)["points"]
        services.checkout_apply_points(bank=bank, checkout=checkout, buyer=request.user,
                                       points=points)
        return Response(_quote(bank, checkout, request.user))

    @extend_schema(operation_id="points_checkout_remove", request=None,
                   responses=CheckoutPointsSerializer,
                   description="Take the points off the unpaid checkout; they come back.")
    def delete(self, request, number: str):
        bank, checkout = _checkout(request, number)
        services.checkout_remove_points(bank=bank, checkout=checkout, buyer=request.user)
        return Response(_quote(bank, checkout, request.user))


# --- the bank's console --------------------------------------------------------------------


class _ConsoleApi(APIView):
    permission_classes = [IsBankStaff]

    def admin_only(self, request) -> None:
        require_bank_staff(request, (StaffRole.BANK_ADMIN,))


def _programme_data(bank) -> dict:
    programme, rules = services.programme_of(bank)
    return ProgrammeSerializer({**{f: getattr(programme, f) for f in services.PROGRAMME_FIELDS},
                                **{f: getattr(rules, f) for f in services.RULES_FIELDS}}).data


class ConsoleProgrammeApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_programme_retrieve",
                   responses=ProgrammeSerializer,
                   description="The bank's points programme: rates and rules.")
    def get(self, request):
        return Response(_programme_data(request.bank))

    @extend_schema(operation_id="console_points_programme_update",
                   request=ProgrammeSerializer(partial=True), responses=ProgrammeSerializer,
                   description="Change some of the rates and rules (bank admins; 403 for "
                               "other staff).")
    def patch(self, request):
        self.admin_only(request)
        data = valid(ProgrammeSerializer, request.data, partial=True)
        services.programme_update(bank=request.bank, actor=request.user, **data)
        return Response(_programme_data(request.bank))


class ConsoleEarningRulesApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_rules_list",
                   responses=EarningRuleSerializer(many=True))
    def get(self, request):
        return Response(EarningRuleSerializer(selectors.earning_rules(), many=True).data)

    @extend_schema(operation_id="console_points_rules_create", request=EarningRuleSerializer,
                   responses={201: EarningRuleSerializer},
                   description="A category bonus (category_id) or a campaign (a window), as "
                               "a multiplier from 1 to 10 (bank admins).")
    def post(self, request):
        self.admin_only(request)
        data = valid(EarningRuleSerializer, request.data)
        rule = services.earning_rule_save(bank=request.bank, actor=request.user, **data)
        return Response(EarningRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


def _rule(rule_id: int) -> EarningRule:
    rule = EarningRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise Http404
    return rule


class ConsoleEarningRuleApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_rule_retrieve", responses=EarningRuleSerializer)
    def get(self, request, rule_id: int):
        return Response(EarningRuleSerializer(_rule(rule_id)).data)

    @extend_schema(operation_id="console_points_rule_update",
                   request=EarningRuleSerializer(partial=True), responses=EarningRuleSerializer)
    def patch(self, request, rule_id: int):
        self.admin_only(request)
        rule = _rule(rule_id)
        data = valid(EarningRuleSerializer, request.data, partial=True)
        rule = services.earning_rule_save(bank=request.bank, actor=request.user, rule=rule,
                                          **data)
        return Response(EarningRuleSerializer(rule).data)


class ConsoleOffersApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_offers_list",
                   responses=OfferSerializer(many=True))
    def get(self, request):
        rows = list(MallOffer.objects.order_by("-created_at", "-id")[:500])
        return Response(OfferSerializer(_with_skus(rows), many=True).data)

    @extend_schema(operation_id="console_points_offers_create", request=OfferInputSerializer,
                   responses={201: OfferSerializer},
                   description="A mall offer of an approved merchant's SKU (bank admins).")
    def post(self, request):
        self.admin_only(request)
        data = valid(OfferInputSerializer, request.data)
        offer = services.offer_save(bank=request.bank, actor=request.user, **data)
        return Response(OfferSerializer(_with_skus([offer])[0]).data,
                        status=status.HTTP_201_CREATED)


def _offer(offer_id: int) -> MallOffer:
    offer = MallOffer.objects.filter(pk=offer_id).first()
    if offer is None:
        raise Http404
    return offer


class ConsoleOfferApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_offer_retrieve", responses=OfferSerializer)
    def get(self, request, offer_id: int):
        return Response(OfferSerializer(_with_skus([_offer(offer_id)])[0]).data)

    @extend_schema(operation_id="console_points_offer_update",
                   request=OfferInputSerializer(partial=True), responses=OfferSerializer,
                   description="Change an offer (bank admins); its quantity never below "
                               "what is redeemed.")
    def patch(self, request, offer_id: int):
        self.admin_only(request)
        offer = _offer(offer_id)
        data = valid(OfferInputSerializer, request.data, partial=True)
        offer = services.offer_save(bank=request.bank, actor=request.user, offer=offer, **data)
        return Response(OfferSerializer(_with_skus([offer])[0]).data)


class ConsoleRedemptionsApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_redemptions_list",
                   parameters=[OpenApiParameter("branch_id", int, required=False)],
                   responses=ConsoleRedemptionSerializer(many=True),
                   description="Redemptions waiting for pickup (ready, or waiting for the "
                               "cash part), oldest first; the codes are not listed.")
    def get(self, request):
        raw = request.query_params.get("branch_id", "")
        if raw and not raw.isdigit():
            raise serializers.ValidationError({"branch_id": [_("Enter a whole number.")]})
        rows = selectors.redemptions_waiting(branch_id=int(raw) if raw else None)[:500]
        return Response(ConsoleRedemptionSerializer(rows, many=True).data)


class ConsoleCollectApi(_ConsoleApi):
    @extend_schema(operation_id="console_points_collect", request=CollectInputSerializer,
                   responses={200: ConsoleRedemptionSerializer,
                              400: OpenApiResponse(description="no redemption is ready with "
                                                   "this code (code not_found)")},
                   description="Hand the goods over against the customer's pickup code.")
    def post(self, request):
        code = valid(CollectInputSerializer, request.data)["code"]
        try:
            row = services.redemption_collect(bank=request.bank, code=code,
                                              staff=request.user)
        except ApplicationError as exc:
            raise serializers.ValidationError({"code": [exc.message]}) from None
        return Response(ConsoleRedemptionSerializer(
            Redemption.objects.select_related("offer").get(pk=row.pk)).data)

