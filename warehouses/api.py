"""Warehouses API under /api/v1/: the bank console's (register and decide warehouses,
see the lots in them, issue and cancel receipts), the merchant's (its lots and their
movements, the receipts it holds and their transfer) and the public verification of a
receipt. The views parse, check who may, and call ``warehouses.services``."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff
from catalog.models import Batch, Sku
from catalog.selectors import merchant_for_member
from core.api import valid
from warehouses import selectors, services
from warehouses.models import (
    Lot,
    TemperatureClass,
    Warehouse,
    WarehouseReceipt,
)

STAFF = (StaffRole.BANK_ADMIN, StaffRole.ACCOUNT_MANAGER)
READERS = (StaffRole.BANK_ADMIN, StaffRole.ACCOUNT_MANAGER, StaffRole.CREDIT_OFFICER)


class WarehouseSerializer(serializers.ModelSerializer):
    decided_by = serializers.CharField(source="decided_by.username", default=None,
                                       allow_null=True, read_only=True)

    class Meta:
        model = Warehouse
        fields = ["id", "name", "operator", "address", "capacity", "temperature_class",
                  "status", "inspection_note", "decided_by", "decided_at", "created_at"]


class WarehouseLotSerializer(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.name")
    warehouse_id = serializers.IntegerField()
    sku_id = serializers.IntegerField()
    product = serializers.CharField(source="sku.product.name")
    spec = serializers.CharField(source="sku.spec")
    merchant = serializers.CharField(source="merchant.name")
    batch = serializers.CharField(source="batch.code", default=None, allow_null=True)
    free = serializers.IntegerField(help_text="on_hand - pledged: the units that may sell")

    class Meta:
        model = Lot
        fields = ["id", "warehouse_id", "warehouse", "sku_id", "product", "spec", "merchant",
                  "batch", "grade", "on_hand", "pledged", "free"]


class WarehouseReceiptSerializer(serializers.ModelSerializer):
    lot = serializers.IntegerField(source="lot_id")
    warehouse = serializers.CharField(source="lot.warehouse.name")
    product = serializers.CharField(source="lot.sku.product.name")
    grade = serializers.CharField(source="lot.grade")
    holder = serializers.CharField(source="holder.name")
    holder_id = serializers.IntegerField()
    verify_url = serializers.SerializerMethodField()

    class Meta:
        model = WarehouseReceipt
        fields = ["id", "number", "lot", "warehouse", "product", "grade", "quantity",
                  "pledged", "status", "holder", "holder_id", "issued_at", "verify_url"]

    def get_verify_url(self, receipt) -> str:
        return f"/receipts/verify/{receipt.verify_token}/"


class ReceiptVerifySerializer(serializers.Serializer):
    number = serializers.CharField()
    bank = serializers.CharField()
    warehouse = serializers.CharField()
    temperature_class = serializers.CharField()
    product = serializers.CharField()
    spec = serializers.CharField()
    unit = serializers.CharField()
    grade = serializers.CharField()
    batch = serializers.CharField()
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    status_label = serializers.CharField()
    issued_at = serializers.DateTimeField()


class WarehouseRegisterInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    operator = serializers.CharField(max_length=100)
    address = serializers.CharField(max_length=200)
    capacity = serializers.IntegerField(min_value=1, max_value=10**9)
    temperature_class = serializers.ChoiceField(choices=TemperatureClass.choices)


class WarehouseDecideInput(serializers.Serializer):
    action = serializers.ChoiceField(choices=list(Warehouse.STATES.table))
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class ReceiptIssueInput(serializers.Serializer):
    lot = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=10**8)


class ReceiptCancelInput(serializers.Serializer):
    note = serializers.CharField(max_length=300)


class LotInboundInput(serializers.Serializer):
    warehouse = serializers.IntegerField(min_value=1)
    sku = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=10**8)
    grade = serializers.CharField(max_length=20, required=False, default="", allow_blank=True)
    batch = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class LotOutboundInput(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=10**8)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


class LotTransferInput(LotOutboundInput):
    to_warehouse = serializers.IntegerField(min_value=1)


class LotStocktakeInput(serializers.Serializer):
    counted = serializers.IntegerField(min_value=0, max_value=10**8)
    note = serializers.CharField(max_length=300)


class ReceiptTransferInput(serializers.Serializer):
    to_merchant = serializers.IntegerField(min_value=1)
    note = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)


def _receipt(receipt) -> dict:
    return WarehouseReceiptSerializer(selectors.receipt_by_id(receipt_id=receipt.pk)).data


# --- bank console --------------------------------------------------------------------------


class ConsoleWarehousesApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF

    @extend_schema(operation_id="console_warehouses_list", responses=WarehouseSerializer(many=True))
    def get(self, request):
        rows = selectors.warehouses_for_bank(bank=request.bank)[:500]
        return Response(WarehouseSerializer(rows, many=True).data)

    @extend_schema(operation_id="console_warehouses_register", request=WarehouseRegisterInput,
                   responses={201: WarehouseSerializer},
                   description="Registers a warehouse of this bank; it waits for inspection.")
    def post(self, request):
        data = valid(WarehouseRegisterInput, request.data)
        warehouse = services.warehouse_register(bank=request.bank, actor=request.user, **data)
        return Response(WarehouseSerializer(warehouse).data, status=status.HTTP_201_CREATED)


class ConsoleWarehouseDecideApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF

    @extend_schema(operation_id="console_warehouses_decide", request=WarehouseDecideInput,
                   responses=WarehouseSerializer,
                   description="approve or reject (after inspection), suspend, reinstate; "
                               "reject and suspend need a note. 400 for a step the status "
                               "does not allow; 404 for another bank's warehouse.")
    def post(self, request, warehouse_id: int):
        warehouse = selectors.warehouse_for_bank(bank=request.bank, warehouse_id=warehouse_id)
        data = valid(WarehouseDecideInput, request.data)
        warehouse = services.warehouse_decide(warehouse=warehouse, actor=request.user, **data)
        return Response(WarehouseSerializer(warehouse).data)


class ConsoleLotsApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = READERS

    @extend_schema(operation_id="console_warehouse_lots_list",
                   responses=WarehouseLotSerializer(many=True),
                   description="The lots in this bank's warehouses (the latest 500).")
    def get(self, request):
        rows = selectors.lots_for_bank(bank=request.bank).order_by("-id")[:500]
        return Response(WarehouseLotSerializer(rows, many=True).data)


class ConsoleReceiptsApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF

    @extend_schema(operation_id="console_warehouse_receipts_list",
                   responses=WarehouseReceiptSerializer(many=True))
    def get(self, request):
        rows = selectors.receipts_for_bank(bank=request.bank)[:500]
        return Response(WarehouseReceiptSerializer(rows, many=True).data)

    @extend_schema(operation_id="console_warehouse_receipts_issue", request=ReceiptIssueInput,
                   responses={201: WarehouseReceiptSerializer},
                   description="Issues a receipt for units of a lot in one of this bank's "
                               "approved warehouses, to the lot's merchant. 400 when the "
                               "warehouse is not approved or the lot has too few units not "
                               "covered by a receipt.")
    def post(self, request):
        data = valid(ReceiptIssueInput, request.data)
        lot = selectors.lot_for_bank(bank=request.bank, lot_id=data["lot"])
        receipt = services.receipt_issue(bank=request.bank, actor=request.user, lot=lot,
                                         quantity=data["quantity"])
        return Response(_receipt(receipt),
                        status=status.HTTP_201_CREATED)


class ConsoleReceiptCancelApi(APIView):
    permission_classes = [IsBankStaff]
    staff_roles = STAFF

    @extend_schema(operation_id="console_warehouse_receipts_cancel", request=ReceiptCancelInput,
                   responses=WarehouseReceiptSerializer,
                   description="Cancels a receipt that is not pledged (goods collected).")
    def post(self, request, receipt_id: int):
        receipt = selectors.receipt_for_bank(bank=request.bank, receipt_id=receipt_id)
        data = valid(ReceiptCancelInput, request.data)
        receipt = services.receipt_cancel(receipt=receipt, actor=request.user, **data)
        return Response(_receipt(receipt))


# --- merchant ------------------------------------------------------------------------------


class _MerchantApi(APIView):
    """A member of the shop, on the domain of the shop's bank; 404 for anyone else."""

    permission_classes = [IsAuthenticated]

    def merchant(self, request, merchant_id: int):
        return merchant_for_member(user=request.user, bank=request.bank,
                                   merchant_id=merchant_id)


class MerchantLotsApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_lots_list",
                   responses=WarehouseLotSerializer(many=True))
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        return Response(WarehouseLotSerializer(selectors.lots_of_merchant(merchant=merchant)[:500],
                                      many=True).data)

    @extend_schema(operation_id="merchant_warehouse_lots_inbound", request=LotInboundInput,
                   responses={201: WarehouseLotSerializer},
                   description="Goods received into an approved warehouse of the shop's "
                               "bank (入库). The SKU is kept in warehouses from then on: its "
                               "stock is its lots' units not pledged.")
    def post(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        data = valid(LotInboundInput, request.data)
        warehouse = get_object_or_404(Warehouse.objects.filter(bank_id=merchant.bank_id),
                                      pk=data["warehouse"])
        sku = get_object_or_404(Sku.objects.filter(product__merchant=merchant), pk=data["sku"])
        batch = (get_object_or_404(Batch.objects.filter(product__merchant=merchant),
                                   pk=data["batch"]) if data["batch"] else None)
        lot = services.lot_inbound(actor=request.user, merchant=merchant, warehouse=warehouse,
                                   sku=sku, quantity=data["quantity"], grade=data["grade"],
                                   batch=batch, note=data["note"])
        return Response(WarehouseLotSerializer(lot).data, status=status.HTTP_201_CREATED)


class MerchantLotOutboundApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_lots_outbound", request=LotOutboundInput,
                   responses=WarehouseLotSerializer,
                   description="Units leave the warehouse other than for a platform order "
                               "(出库). 400 for pledged units or units reserved for orders.")
    def post(self, request, merchant_id: int, lot_id: int):
        lot = selectors.lot_of_merchant(merchant=self.merchant(request, merchant_id),
                                        lot_id=lot_id)
        data = valid(LotOutboundInput, request.data)
        return Response(WarehouseLotSerializer(services.lot_outbound(actor=request.user, lot=lot,
                                                            **data)).data)


class MerchantLotTransferApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_lots_transfer", request=LotTransferInput,
                   responses=WarehouseLotSerializer,
                   description="Free units move to another approved warehouse of the bank.")
    def post(self, request, merchant_id: int, lot_id: int):
        merchant = self.merchant(request, merchant_id)
        lot = selectors.lot_of_merchant(merchant=merchant, lot_id=lot_id)
        data = valid(LotTransferInput, request.data)
        target = get_object_or_404(Warehouse.objects.filter(bank_id=merchant.bank_id),
                                   pk=data["to_warehouse"])
        moved = services.lot_transfer(actor=request.user, lot=lot, to_warehouse=target,
                                      quantity=data["quantity"], note=data["note"])
        return Response(WarehouseLotSerializer(moved).data)


class MerchantLotStocktakeApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_lots_stocktake", request=LotStocktakeInput,
                   responses=WarehouseLotSerializer,
                   description="A stock-take: the count becomes what was counted; the "
                               "difference is recorded with the note.")
    def post(self, request, merchant_id: int, lot_id: int):
        lot = selectors.lot_of_merchant(merchant=self.merchant(request, merchant_id),
                                        lot_id=lot_id)
        data = valid(LotStocktakeInput, request.data)
        return Response(WarehouseLotSerializer(services.lot_stocktake(actor=request.user, lot=lot,
                                                             **data)).data)


class MerchantReceiptsApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_receipts_list",
                   responses=WarehouseReceiptSerializer(many=True))
    def get(self, request, merchant_id: int):
        merchant = self.merchant(request, merchant_id)
        rows = selectors.receipts_of_holder(merchant=merchant)[:500]
        return Response(WarehouseReceiptSerializer(rows, many=True).data)


class MerchantReceiptTransferApi(_MerchantApi):
    @extend_schema(operation_id="merchant_warehouse_receipts_transfer",
                   request=ReceiptTransferInput, responses=WarehouseReceiptSerializer,
                   description="Transfers a receipt the shop holds to another admitted "
                               "merchant (by its number); 400 when pledged or cancelled.")
    def post(self, request, merchant_id: int, receipt_id: int):
        receipt = selectors.receipt_of_holder(merchant=self.merchant(request, merchant_id),
                                              receipt_id=receipt_id)
        data = valid(ReceiptTransferInput, request.data)
        receipt = services.receipt_transfer(receipt=receipt, actor=request.user,
                                            to_merchant_id=data["to_merchant"],
                                            note=data["note"])
        return Response(_receipt(receipt))


# --- public --------------------------------------------------------------------------------


class ReceiptVerifyApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(operation_id="warehouse_receipts_verify", responses=ReceiptVerifySerializer,
                   description="The public facts of a receipt, from its QR code: number, "
                               "warehouse, product, grade, quantity and status; never its "
                               "holder.")
    def get(self, request, token):
        return Response(ReceiptVerifySerializer(selectors.receipt_verify(token=token)).data)
