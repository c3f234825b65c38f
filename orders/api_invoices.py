"""Invoices API (发票): the buyer asks for an invoice on an order, withdraws it, downloads
the e-invoice PDF, lists their invoices by month and downloads a month's archive (every
host); a shop's members list the requests, issue or reject them (the shop's bank's
domain). Someone else's order or invoice is a 404.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.selectors import merchant_for_member
from core.api import PageQuerySerializer, valid
from core.uploads import UploadSerializerField
from orders import selectors, services
from orders import selectors_invoices as invoices
from orders.api import _page
from orders.models import InvoiceRequest, InvoiceStatus, InvoiceTitleKind, InvoiceType

MONEY_FIELD = {"max_digits": 14, "decimal_places": 2}


class _FileRenderer(BaseRenderer):
    """Lets a client ask for the file's type; errors still come as JSON."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class PdfRenderer(_FileRenderer):
    media_type = "application/pdf"
    format = "pdf"


class ZipRenderer(_FileRenderer):
    media_type = "application/zip"
    format = "zip"


class InvoiceSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number")
    merchant = serializers.CharField(source="merchant.name")
    kind_display = serializers.CharField(source="get_kind_display")
    invoice_type_display = serializers.CharField(source="get_invoice_type_display")
    status_display = serializers.CharField(source="get_status_display")
    amount = serializers.DecimalField(**MONEY_FIELD, allow_null=True,
                                      help_text="issued: the order's total less refunds "
                                                "at the time of issue")
    pdf_url = serializers.SerializerMethodField(
        help_text="the e-invoice PDF, when the merchant uploaded one")

    class Meta:
        model = InvoiceRequest
        fields = ["id", "order", "merchant", "kind", "kind_display", "invoice_type",
                  "invoice_type_display", "title", "taxpayer_number", "email",
                  "address_phone", "bank_name", "bank_account", "status", "status_display",
                  "requested_at", "decided_at", "reject_reason", "invoice_number",
                  "issued_on", "amount", "pdf_url"]

    def get_pdf_url(self, invoice) -> str | None:
        pdf_url = self.context.get("pdf_url")
        if invoice.status != InvoiceStatus.ISSUED or not invoice.pdf or pdf_url is None:
            return None
        return pdf_url(invoice)


class InvoiceBoxSerializer(serializers.Serializer):
    invoice = InvoiceSerializer(source="current", allow_null=True,
                                help_text="the request in force, else the last one "
                                          "(rejected or withdrawn), else null")
    can_ask = serializers.BooleanField(help_text="whether the buyer may ask (again) now")
    blocker = serializers.CharField(help_text="why not, when the order cannot be invoiced")
    amount = serializers.DecimalField(**MONEY_FIELD,
                                      help_text="what an invoice would be for now")


class InvoicePageSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    results = InvoiceSerializer(many=True)


class InvoiceRequestInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=InvoiceTitleKind.choices,
                                   help_text="individual (个人) or business (单位)")
    invoice_type = serializers.ChoiceField(
        choices=InvoiceType.choices, required=False, default=InvoiceType.PLAIN,
        help_text="plain (电子普通发票) or special (增值税专用发票, businesses only)")
    title = serializers.CharField(max_length=100, allow_blank=True,
                                  help_text="the buyer's name or the business's full name")
    taxpayer_number = serializers.CharField(
        max_length=30, required=False, allow_blank=True, default="",
        help_text="businesses: the 18-character unified social credit code (its check "
                  "character is verified)")
    email = serializers.CharField(max_length=254, required=False, allow_blank=True,
                                  default="")
    address_phone = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                          default="")
    bank_name = serializers.CharField(max_length=100, required=False, allow_blank=True,
                                      default="")
    bank_account = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                         default="")


class MonthQuerySerializer(serializers.Serializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", required=True,
                                   help_text="YYYY-MM: invoices issued in that month")

    def validate_month(self, value):
        invoices.parse_month(value)  # a month that does not exist: 400 on "month"
        return value


class MyInvoicesQuerySerializer(PageQuerySerializer):
    month = serializers.RegexField(r"^\d{4}-\d{2}$", required=False, allow_blank=True,
                                   default="",
                                   help_text="YYYY-MM: only the invoices issued in that "
                                             "month; empty: every request, newest first")

    def validate_month(self, value):
        if value:
            invoices.parse_month(value)
        return value


def _buyer_pdf_url(request):
    return lambda inv: request.build_absolute_uri(
        reverse("api-order-invoice-pdf", args=[inv.order.number]))


# --- the buyer -----------------------------------------------------------------------------


class _BuyerInvoiceApi(APIView):
    permission_classes = [IsAuthenticated]

    def box_data(self, request, order) -> dict:
        return InvoiceBoxSerializer(invoices.invoice_box(order=order),
                                    context={"pdf_url": _buyer_pdf_url(request)}).data


class OrderInvoiceApi(_BuyerInvoiceApi):
    @extend_schema(responses=InvoiceBoxSerializer,
                   description="The order's invoice: the request in force (or the last "
                               "one), whether one may be asked now, and for how much.")
    def get(self, request, number: str):
        order = selectors.order_of_buyer(buyer=request.user, number=number)
        return Response(self.box_data(request, order))

    @extend_schema(request=InvoiceRequestInputSerializer, responses={201: InvoiceSerializer},
                   description="Asks the shop for an invoice on a paid order (not cancelled "
                               "or refunded in full). One request in force per order; a "
                               "rejected or withdrawn one may be asked again.")
    def post(self, request, number: str):
        order = selectors.order_of_buyer(buyer=request.user, number=number)
        data = valid(InvoiceRequestInputSerializer, request.data)
        invoice = services.invoice_request(order=order, actor=request.user, **data)
        return Response(InvoiceSerializer(invoice, context={
            "pdf_url": _buyer_pdf_url(request)}).data, status=status.HTTP_201_CREATED)


class OrderInvoiceWithdrawApi(_BuyerInvoiceApi):
    @extend_schema(request=None, responses=InvoiceSerializer,
                   description="Takes back a request the shop has not answered yet.")
    def post(self, request, number: str):
        invoice = invoices.invoice_of_buyer(buyer=request.user, number=number)
        invoice = services.invoice_withdraw(invoice=invoice, actor=request.user)
        return Response(InvoiceSerializer(invoice).data)


class OrderInvoicePdfApi(_BuyerInvoiceApi):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY},
                   description="The issued e-invoice's PDF (404 when the shop uploaded none).")
    def get(self, request, number: str):
        invoice = invoices.invoice_of_buyer(buyer=request.user, number=number)
        return invoices.invoice_pdf_response(invoice)


class MyInvoicesApi(_BuyerInvoiceApi):
    @extend_schema(operation_id="my_invoices_list", parameters=[MyInvoicesQuerySerializer],
                   responses=InvoicePageSerializer)
    def get(self, request):
        query = valid(MyInvoicesQuerySerializer, request.query_params)
        found = (invoices.issued_in_month(buyer=request.user, month=query["month"])
                 if query["month"] else invoices.invoices_of_buyer(buyer=request.user))
        return Response(_page(query, found, InvoiceSerializer,
                              {"pdf_url": _buyer_pdf_url(request)}))


class MyInvoicesArchiveApi(_BuyerInvoiceApi):
    renderer_classes = [JSONRenderer, ZipRenderer]
    # 404: a `format` other than json or zip (DRF's format override), as on every file view.
    error_statuses = {400, 401, 403, 404}

    @extend_schema(parameters=[MonthQuerySerializer],
                   responses={(200, "application/zip"): OpenApiTypes.BINARY},
                   description="Every invoice issued to me in a month, as one ZIP: the "
                               "e-invoice PDFs and a CSV summary (number, date, order, "
                               "shop, title, taxpayer number, type, amount, and a total "
                               "row). A month without invoices gives a ZIP whose summary "
                               "has no rows and a zero total.")
    def get(self, request):
        query = valid(MonthQuerySerializer, request.query_params)
        return invoices.month_archive_response(buyer=request.user, month=query["month"])


# --- the shop ------------------------------------------------------------------------------


class MerchantInvoiceQuerySerializer(PageQuerySerializer):
    status = serializers.ChoiceField(choices=InvoiceStatus.choices, required=False,
                                     allow_blank=True, default="",
                                     help_text="requested: the queue to answer")


class IssueInputSerializer(serializers.Serializer):
    invoice_number = serializers.CharField(
        max_length=30, help_text="8 digits, or 20 for a fully digital e-invoice (数电票)")
    issued_on = serializers.DateField(help_text="the issue date printed on the invoice")
    pdf = UploadSerializerField(policy="invoice", required=False,
                                help_text="the e-invoice PDF (checked by its content)")


class RejectInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=300, allow_blank=True)


class _MerchantInvoiceApi(APIView):
    """A member of the shop, on the domain of the shop's bank; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int):
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)

    def invoice(self, request, merchant_id: int, invoice_id: int):
        return invoices.invoice_of_merchant(merchant=self.merchant(request, merchant_id),
                                            invoice_id=invoice_id)

    def context(self, request) -> dict:
        def pdf_url(inv):
            return request.build_absolute_uri(reverse(
                "api-merchant-invoice-pdf", args=[inv.merchant_id, inv.pk]))
        return {"pdf_url": pdf_url}

    def data(self, request, invoice) -> dict:
        invoice = invoices.invoice_of_merchant(merchant=invoice.merchant,
                                               invoice_id=invoice.pk)
        return InvoiceSerializer(invoice, context=self.context(request)).data


class MerchantInvoiceListApi(_MerchantInvoiceApi):
    @extend_schema(operation_id="merchant_invoices_list",
                   parameters=[MerchantInvoiceQuerySerializer],
                   responses=InvoicePageSerializer,
                   description="The shop's invoice requests; `status=requested` is the "
                               "queue, oldest first.")
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        query = valid(MerchantInvoiceQuerySerializer, request.query_params)
        found = invoices.invoices_of_merchant(merchant=merchant, status=query["status"])
        return Response(_page(query, found, InvoiceSerializer, self.context(request)))


class MerchantInvoiceDetailApi(_MerchantInvoiceApi):
    @extend_schema(responses=InvoiceSerializer)
    def get(self, request, merchant_id: int, invoice_id: int):
        return Response(self.data(request, self.invoice(request, merchant_id, invoice_id)))


class MerchantInvoiceIssueApi(_MerchantInvoiceApi):
    parser_classes = [JSONParser, MultiPartParser]  # the PDF comes as multipart

    @extend_schema(request={"application/json": IssueInputSerializer,
                            "multipart/form-data": IssueInputSerializer},
                   responses=InvoiceSerializer,
                   description="Records the invoice issued for a request: its number and "
                               "date, and the e-invoice PDF if there is one. The amount is "
                               "the order's total less refunds now; while a refund request "
                               "is open this is refused.")
    def post(self, request, merchant_id: int, invoice_id: int):
        invoice = self.invoice(request, merchant_id, invoice_id)
        data = valid(IssueInputSerializer, request.data)
        services.invoice_issue(invoice=invoice, actor=request.user, **data)
        return Response(self.data(request, invoice))


class MerchantInvoiceRejectApi(_MerchantInvoiceApi):
    @extend_schema(request=RejectInputSerializer, responses=InvoiceSerializer,
                   description="Refuses a request with a reason the buyer reads; the buyer "
                               "may ask again.")
    def post(self, request, merchant_id: int, invoice_id: int):
        invoice = self.invoice(request, merchant_id, invoice_id)
        data = valid(RejectInputSerializer, request.data)
        services.invoice_reject(invoice=invoice, actor=request.user, reason=data["reason"])
        return Response(self.data(request, invoice))


class MerchantInvoicePdfApi(_MerchantInvoiceApi):
    renderer_classes = [JSONRenderer, PdfRenderer]

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request, merchant_id: int, invoice_id: int):
        return invoices.invoice_pdf_response(self.invoice(request, merchant_id, invoice_id))
