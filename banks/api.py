from dataclasses import asdict

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Segment
from banks.audit import AREAS, audit_query, audit_trail, with_actor_names
from banks.models import Branch, StaffRole
from banks.permissions import IsBankStaff
from banks.selectors import branch_get, branch_list, staff_list
from banks.serializers import BranchSerializer
from banks.services import (
    customer_set_segment,
    staff_change,
    staff_grant_by_login,
    staff_revoke,
)
from core.api import valid


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


class StaffOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    display_name = serializers.CharField(source="user.display_name")
    role = serializers.CharField()
    role_label = serializers.CharField(source="get_role_display")
    branch = serializers.CharField(source="branch.code", allow_null=True, default=None)


class _RoleInputSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=StaffRole.choices)
    branch = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="the branch's code; empty: the whole bank")


def _branch(bank, code: str):
    if not code:
        return None
    branch = Branch.objects.filter(bank=bank, code=code).first()
    if branch is None:
        raise serializers.ValidationError({"branch": [_("The bank has no such branch.")]})
    return branch


class ConsoleStaffListApi(APIView):
    """The bank's staff (any of its staff may read); a bank admin grants a role to a person
    found by mobile number or username."""

    permission_classes = [IsBankStaff]

    class GrantInputSerializer(_RoleInputSerializer):
        person = serializers.CharField(max_length=150,
                                       help_text="mobile number or username")

    def get_permissions(self):
        self.staff_roles = (StaffRole.BANK_ADMIN,) if self.request.method == "POST" else ()
        return super().get_permissions()

    @extend_schema(responses=StaffOutputSerializer(many=True))
    def get(self, request):
        return Response(StaffOutputSerializer(staff_list(bank=request.bank), many=True).data)

    @extend_schema(request=GrantInputSerializer, responses={201: StaffOutputSerializer})
    def post(self, request):
        data = valid(self.GrantInputSerializer, request.data)
        membership = staff_grant_by_login(bank=request.bank, person=data["person"],
                                          role=data["role"],
                                          branch=_branch(request.bank, data["branch"]),
                                          acting_user=request.user)
        return Response(StaffOutputSerializer(membership).data, status=201)


class ConsoleStaffDetailApi(APIView):
    """Change the role or branch of one of the bank's staff, or revoke it (bank admins)."""

    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.BANK_ADMIN,)

    @extend_schema(request=_RoleInputSerializer, responses=StaffOutputSerializer)
    def patch(self, request, membership_id: int):
        data = valid(_RoleInputSerializer, request.data)
        membership = staff_change(bank=request.bank, membership_id=membership_id,
                                  role=data["role"], branch=_branch(request.bank,
                                                                    data["branch"]),
                                  acting_user=request.user)
        return Response(StaffOutputSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, membership_id: int):
        staff_revoke(bank=request.bank, membership_id=membership_id, acting_user=request.user)
        return Response(status=204)


class ConsoleAuditApi(APIView):
    """The bank's audit trail, newest first (the newest 200 that match; bank admins)."""

    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.BANK_ADMIN,)

    class QuerySerializer(serializers.Serializer):
        area = serializers.ChoiceField(choices=list(AREAS), required=False)
        person = serializers.CharField(required=False, max_length=150,
                                       help_text="mobile number or username")
        since = serializers.DateField(required=False)
        until = serializers.DateField(required=False, help_text="included")

    class AuditEntrySerializer(serializers.Serializer):
        at = serializers.DateTimeField()
        area = serializers.CharField()
        area_label = serializers.CharField()
        actor_id = serializers.IntegerField(allow_null=True)
        actor = serializers.CharField()
        action = serializers.CharField()
        target = serializers.CharField()
        note = serializers.CharField()

    @extend_schema(parameters=[QuerySerializer], responses=AuditEntrySerializer(many=True))
    def get(self, request):
        data = valid(self.QuerySerializer, request.query_params)
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise serializers.ValidationError({"until": [_("The end is before the start.")]})
        query = audit_query(bank=request.bank, area=data.get("area", ""),
                            person=data.get("person", ""),
                            since=data.get("since"), until=data.get("until"))
        rows = [{**asdict(entry), "actor": who, "area_label": area}
                for entry, who, area in with_actor_names(audit_trail(query))]
        return Response(self.AuditEntrySerializer(rows, many=True).data)


class ConsoleCustomerGroupApi(APIView):
    """Any of the bank's staff record a customer's group, found by mobile number
    (audited on the bank's trail)."""

    permission_classes = [IsBankStaff]

    class CustomerGroupInputSerializer(serializers.Serializer):
        phone = serializers.CharField(max_length=20)
        segment = serializers.ChoiceField(choices=Segment.choices,
                                          allow_blank=True)

    class CustomerGroupSerializer(serializers.Serializer):
        display_name = serializers.CharField(source="shown_name")
        segment = serializers.CharField()
        segment_label = serializers.CharField(source="get_segment_display")

    @extend_schema(request=CustomerGroupInputSerializer, responses=CustomerGroupSerializer)
    def post(self, request):
        data = valid(self.CustomerGroupInputSerializer, request.data)
        customer = customer_set_segment(bank=request.bank, phone=data["phone"],
                                        segment=data["segment"], acting_user=request.user)
        return Response(self.CustomerGroupSerializer(customer).data)
