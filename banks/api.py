from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff
from banks.selectors import branch_get, branch_list, staff_list
from banks.serializers import BranchSerializer


class StorefrontApi(APIView):
    """The bank of this domain and its pickup branches (public)."""

    permission_classes = [AllowAny]

    class StorefrontOutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = serializers.CharField()
        short_name = serializers.CharField()
        slogan = serializers.CharField()
        brand_color = serializers.CharField()
        branches = BranchSerializer(many=True)

    @extend_schema(responses=StorefrontOutputSerializer)
    def get(self, request):
        bank = request.bank
        data = {"code": bank.code, "name": bank.name, "short_name": bank.short_name,
                "slogan": bank.slogan, "brand_color": bank.brand_color,
                "branches": branch_list(bank=bank)}
        return Response(self.StorefrontOutputSerializer(data).data)


class ConsoleBranchListApi(APIView):
    """Branches of the bank whose domain this is; staff of that bank only."""

    permission_classes = [IsBankStaff]

    @extend_schema(responses=BranchSerializer(many=True))
    def get(self, request):
        return Response(BranchSerializer(branch_list(bank=request.bank), many=True).data)


class ConsoleBranchDetailApi(APIView):
    permission_classes = [IsBankStaff]

    @extend_schema(responses=BranchSerializer)
    def get(self, request, branch_id: int):
        return Response(BranchSerializer(branch_get(bank=request.bank,
                                                    branch_id=branch_id)).data)


class ConsoleStaffListApi(APIView):
    permission_classes = [IsBankStaff]

    class StaffOutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        username = serializers.CharField(source="user.username")
        display_name = serializers.CharField(source="user.display_name")
        role = serializers.CharField()
        branch = serializers.CharField(source="branch.code", allow_null=True, default=None)

    @extend_schema(responses=StaffOutputSerializer(many=True))
    def get(self, request):
        return Response(self.StaffOutputSerializer(staff_list(bank=request.bank), many=True).data)
