"""What the financing API views share: 404 for ids that are not the bank's, pages,
names of shared rows looked up once per response, idempotency keys."""

from __future__ import annotations

import logging
from contextlib import contextmanager

from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from catalog.models import Merchant
from core.api import PageQuerySerializer, valid
from core.errors import ApplicationError
from core.idempotency import (
    idempotency_begin,
    idempotency_find,
    idempotency_finish,
    idempotency_forget,
    key_owner,
    request_fingerprint,
)
from lending import services
from lending.models import (
    Application,
    ApplicationStatus,
    Loan,
    LoanRepayment,
    LoanStatus,
    unpaid_principal,
)
from lending.serializers import (
    LoanDetailSerializer,
    RepaymentInputSerializer,
    RepaymentSerializer,
)
from orders.models import Checkout, Order
from payments.services import Card

log = logging.getLogger(__name__)
LIVE = (ApplicationStatus.IN_REVIEW, ApplicationStatus.AWAITING_SECOND,
        ApplicationStatus.APPROVED, ApplicationStatus.DISBURSED)
OPEN = (LoanStatus.ACTIVE, LoanStatus.OVERDUE)


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


def _idempotency_key(request, *, longest: int = 60) -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key or len(key) > longest:
        raise serializers.ValidationError({"idempotency_key": [
            _("Send an Idempotency-Key header (1 to %(n)s characters).") % {"n": longest}]})
    return key


def _financed_once(request, *, scope: str, key: str, fingerprint: str, existing,
                   make) -> tuple[Application, bool]:
    """Run ``make`` (a financing service) once per Idempotency-Key: (application,
    created). The key and its request go into the idempotency store (scope ``scope``, the
    bank's user as owner): the same key with another request is a 422, while the first is
    in flight a 409, after it a replay of its application. An application the services
    already made for the same thing (``existing()``: under another key, or sent at the
    same moment) is answered as a replay; the services and the database never finance a
    checkout or an order twice."""
    record, replay = idempotency_begin(scope=scope,
                                       owner=key_owner(bank=request.bank, user=request.user),
                                       key=key, fingerprint=fingerprint)
    if replay:
        return Application.objects.get(pk=record.target_id), False
    try:
        app, created = existing(), False
        if app is None:
            try:
                with _not_found_as_404():
                    app, created = make(), True
            except ApplicationError:
                app = existing()  # a duplicate sent at the same time under another key
                if app is None:
                    raise
    except BaseException:
        idempotency_forget(record)  # nothing made: the key is free again
        raise
    idempotency_finish(record, target_id=app.pk)
    return app, created


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="A key of your choosing (up to 60 characters), new for each attempt. "
                "Sending the same request again with the same key returns the first "
                "result (200) and never lends or charges twice.")
REPLAY = "a replay of an earlier request with the same Idempotency-Key"


class LoanQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=LoanStatus.choices, required=False,
                                     allow_blank=True, default="")


REPAY_DESCRIPTION = ("Repays by card what is due now (overdue instalments and the next one; "
                     "the whole loan for pay later) or, with everything, the whole loan. A "
                     "declined card gives a repayment with status failed and a message; "
                     "nothing is taken.")


def repay_by_card(request, loan) -> Response:
    """The card repayment both a buyer and a shop's member post (one service, one answer):
    201 with the repayment, 200 for a replay of the same Idempotency-Key."""
    key = _idempotency_key(request)
    data = valid(RepaymentInputSerializer, request.data)
    earlier = idempotency_find(scope=LoanRepayment.KEY_SCOPE,
                               owner=key_owner(bank=request.bank, user=request.user),
                               key=key) is not None
    repayment = services.loan_repay_by_card(
        bank=request.bank, loan=loan, payer=request.user, card=Card(**data["card"]),
        idempotency_key=key, everything=data["everything"],
        fingerprint=request_fingerprint(operation="loan_repay", loan=loan.pk, **data))
    if earlier:
        return Response(RepaymentSerializer(repayment).data)
    repayment = LoanRepayment.objects.select_related("loan").get(pk=repayment.pk)
    return Response(RepaymentSerializer(repayment).data, status=status.HTTP_201_CREATED)
