from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsFederationAdmin
from banks.selectors import bank_list_active
from banks.serializers import BankSerializer
from banks.services import BranchSpec, bank_onboard


class BranchInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=100)
    county = serializers.CharField(max_length=60)
    address = serializers.CharField(max_length=200)
    phone = serializers.CharField(max_length=30, required=False, default="")
    opening_hours = serializers.CharField(max_length=120, required=False, default="")
    is_pickup_point = serializers.BooleanField(required=False, default=True)


class BankListOnboardApi(APIView):
    """Member banks: list them, or onboard one (federation admins only).

    POST answers 201 for a new bank, 200 when the same bank (same code and name) was
    already there and the call only completed it, 400 with field messages otherwise.
    """

    permission_classes = [IsFederationAdmin]

    class BankOnboardInputSerializer(serializers.Serializer):
        code = serializers.CharField(max_length=30)
        name = serializers.CharField(max_length=100)
        short_name = serializers.CharField(max_length=30, required=False, default="")
        region = serializers.CharField(max_length=60, required=False, default="")
        slogan = serializers.CharField(max_length=120, required=False, default="")
        brand_color = serializers.CharField(max_length=7, required=False, default="#1f7a4d")
        domains = serializers.ListField(child=serializers.CharField(max_length=253),
                                        required=False, default=list)
        branches = serializers.ListField(child=BranchInputSerializer(), required=False,
                                         default=list)

    @extend_schema(responses=BankSerializer(many=True))
    def get(self, request):
        return Response(BankSerializer(bank_list_active(), many=True).data)

    @extend_schema(request=BankOnboardInputSerializer,
                   responses={201: BankSerializer, 200: BankSerializer})
    def post(self, request):
        serializer = self.BankOnboardInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data["branches"] = [BranchSpec(**b) for b in data["branches"]]
        result = bank_onboard(acting_user=request.user, **data)
        return Response(BankSerializer(result.bank).data,
                        status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
