"""The partner API on the portal, under /api/v1/partner/.

- ``catalog/export.jsonl`` and ``catalog/changes``: for partner platforms, with an API key
  that has the ``catalog:read`` scope (``partners.auth``).
- ``keys/``: federation admins list, create, rotate and revoke partners' keys, and a
  partner's own admins those of their partner (signed in as people: session, token or
  Basic; the partner console's pages call the same services).
"""

from __future__ import annotations

import json

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.models import StaffRole
from banks.permissions import IsBankStaff
from core.api import valid, view_handles
from partners.auth import HasScope, PartnerKeyAuthentication, PartnerKeyThrottle
from partners.models import PartnerKind, PartnerStatus, Scope
from partners.selectors import (
    CHANGES_LIMIT_DEFAULT,
    CHANGES_LIMIT_MAX,
    catalog_changes,
    catalog_export,
    key_for_manager,
    keys_for_manager,
    partner_for_key_manager,
    partner_of_bank,
    partners_of_bank,
)
from partners.services import (
    bank_partner_opt_in,
    bank_partner_opt_out,
    key_create,
    key_revoke,
    key_rotate,
)


class PartnerApi(APIView):
    """Base of the endpoints partner platforms call with their keys."""

    authentication_classes = [PartnerKeyAuthentication]
    throttle_classes = [PartnerKeyThrottle]


class PartnerMerchantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class PartnerCategorySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class PartnerPriceSerializer(serializers.Serializer):
    min = serializers.CharField(allow_null=True, help_text="yuan, e.g. \"12.50\"")
    max = serializers.CharField(allow_null=True)


class PartnerItemSerializer(serializers.Serializer):
    """One product of a partner's catalog (a line of the export, an upsert of the feed)."""

    id = serializers.IntegerField()
    title = serializers.CharField()
    merchant = PartnerMerchantSerializer()
    bank = serializers.CharField(help_text="code of the merchant's bank")
    category = PartnerCategorySerializer()
    price = PartnerPriceSerializer()
    stock = serializers.ChoiceField(choices=["in_stock", "low", "out"],
                                    help_text="in_stock: 10 or more available; low: 1-9")
    images = serializers.ListField(child=serializers.URLField())
    trace_urls = serializers.ListField(child=serializers.URLField(),
                                       help_text="traceability pages of its batches")
    url = serializers.URLField(help_text="the product's page on the portal")
    updated_at = serializers.DateTimeField()


class CatalogExportApi(PartnerApi):
    """Every product the partner may sell, as JSON Lines (one product per line, in id
    order), streamed. Scope ``catalog:read``."""

    permission_classes = [HasScope(Scope.CATALOG_READ)]

    @extend_schema(responses={(200, "application/jsonl"): OpenApiResponse(
        OpenApiTypes.STR, description="one JSON object per line, each like "
                                      "PartnerChangeItem without `event`")})
    def get(self, request):
        lines = (json.dumps(item, ensure_ascii=False) + "\n"
                 for item in catalog_export(partner=request.auth.partner,
                                            absolute=request.build_absolute_uri))
        response = StreamingHttpResponse(lines, content_type="application/jsonl; charset=utf-8")
        response["Cache-Control"] = "no-store"
        return response


class PartnerChangeItemSerializer(PartnerItemSerializer):
    event = serializers.ChoiceField(choices=["upsert", "delisted"], help_text=(
        "delisted: the product is no longer for sale through you (only id and updated_at "
        "are given)"))


class CatalogChangesApi(PartnerApi):
    """What changed in the partner's catalog, oldest first, by (updated_at, id).
    Start with no cursor (or ``updated_since``), then pass ``next_cursor`` back; an empty
    page keeps the cursor. The page's ETag answers 304 to ``If-None-Match``. Scope
    ``catalog:read``."""

    permission_classes = [HasScope(Scope.CATALOG_READ)]

    class QuerySerializer(serializers.Serializer):
        cursor = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                       default="", help_text="next_cursor of a page")
        updated_since = serializers.CharField(
            required=False, allow_blank=True, max_length=40, default="",
            help_text="ISO 8601 date and time; ignored when a cursor is given")
        limit = serializers.IntegerField(required=False, min_value=1,
                                         max_value=CHANGES_LIMIT_MAX,
                                         default=CHANGES_LIMIT_DEFAULT)

    class PageSerializer(serializers.Serializer):
        items = PartnerChangeItemSerializer(many=True)
        next_cursor = serializers.CharField()
        has_more = serializers.BooleanField()

    @extend_schema(parameters=[QuerySerializer, OpenApiParameter(
        "If-None-Match", str, OpenApiParameter.HEADER, required=False,
        description="the ETag of the page you hold")],
        responses={200: PageSerializer, 304: OpenApiResponse(description="not changed")})
    def get(self, request):
        query = valid(self.QuerySerializer, request.query_params)
        page = catalog_changes(partner=request.auth.partner, absolute=request.build_absolute_uri,
                               **query)
        headers = {"ETag": page.etag, "Cache-Control": "private, no-cache"}
        if page.etag in {tag.strip() for tag in
                         request.headers.get("If-None-Match", "").split(",")}:
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        return Response({"items": page.items, "next_cursor": page.next_cursor,
                         "has_more": page.has_more}, headers=headers)


# --- keys, for federation admins ----------------------------------------------------------


class PartnerKeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    partner = serializers.IntegerField(source="partner_id")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="the key's first characters, to recognise it")
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices))
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True)
    revoked_at = serializers.DateTimeField(allow_null=True)
    last_used_at = serializers.DateTimeField(allow_null=True)
    use_count = serializers.IntegerField(help_text="written at most once a minute")


class NewPartnerKeySerializer(PartnerKeySerializer):
    key = serializers.CharField(help_text="the whole key: shown this once, never again")


def _new_key_data(new) -> dict:
    return {**PartnerKeySerializer(new.key).data, "key": new.secret}


class IsPersonOnPortal(permissions.BasePermission):
    """A signed-in person on the portal (not a bank's domain: 404 there); which partners'
    keys they reach is the selectors' business (``partner_for_key_manager``)."""

    answers_not_found = True  # to anyone who manages no partner's keys (see core.schema)

    def has_permission(self, request, view) -> bool:
        if not view_handles(view, request):
            return True
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated
        if getattr(request, "bank", None) is not None:
            raise exceptions.NotFound
        return True


class KeyListCreateApi(APIView):
    """Partners' API keys: list them (``?partner=<id>``), or create one (its whole value
    is in this answer only). Federation admins: any partner's; a partner's members: their
    partner's (to create, its admins; a viewer 403); anyone else 404."""

    permission_classes = [IsPersonOnPortal]

    class ListQuerySerializer(serializers.Serializer):
        partner = serializers.IntegerField(required=False, min_value=1)

    class CreateSerializer(serializers.Serializer):
        partner = serializers.IntegerField(min_value=1)
        name = serializers.CharField(max_length=60)
        scopes = serializers.ListField(child=serializers.ChoiceField(choices=Scope.choices),
                                       allow_empty=False)
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)

    @extend_schema(parameters=[ListQuerySerializer], responses=PartnerKeySerializer(many=True))
    def get(self, request):
        query = valid(self.ListQuerySerializer, request.query_params)
        return Response(PartnerKeySerializer(keys_for_manager(
            user=request.user, partner_id=query.get("partner")), many=True).data)

    @extend_schema(request=CreateSerializer, responses={201: NewPartnerKeySerializer})
    def post(self, request):
        data = valid(self.CreateSerializer, request.data)
        partner = partner_for_key_manager(user=request.user, partner_id=data["partner"],
                                          change=True)
        new = key_create(partner=partner, name=data["name"], scopes=data["scopes"],
                         expires_at=data["expires_at"], acting_user=request.user)
        return Response(_new_key_data(new), status=status.HTTP_201_CREATED)


class KeyRotateApi(APIView):
    """A new key with the same scopes (in this answer only); the old one works for
    ``overlap_hours`` more (default 24, 0 to 720), then expires. Federation admins, or the
    key's partner's admins."""

    permission_classes = [IsPersonOnPortal]

    class RotateSerializer(serializers.Serializer):
        overlap_hours = serializers.IntegerField(required=False, default=24, min_value=0,
                                                 max_value=720)

    @extend_schema(request=RotateSerializer, responses={201: NewPartnerKeySerializer})
    def post(self, request, key_id: int):
        data = valid(self.RotateSerializer, request.data)
        key = key_for_manager(user=request.user, key_id=key_id, change=True)
        new = key_rotate(key=key, acting_user=request.user, **data)
        return Response(_new_key_data(new), status=status.HTTP_201_CREATED)


class KeyRevokeApi(APIView):
    """Revoke a key at once: its next request is refused (401). Federation admins, or the
    key's partner's admins."""

    permission_classes = [IsPersonOnPortal]

    @extend_schema(request=None, responses=PartnerKeySerializer)
    def post(self, request, key_id: int):
        key = key_revoke(key=key_for_manager(user=request.user, key_id=key_id, change=True),
                         acting_user=request.user)
        return Response(PartnerKeySerializer(key).data)


# --- a bank's opt-out, for its staff (on the bank's domain) -------------------------------


class BankPartnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=PartnerKind.choices)
    status = serializers.ChoiceField(choices=PartnerStatus.choices)
    opted_out = serializers.BooleanField(
        help_text="the bank keeps its merchants out of this partner's catalog")


class BankPartnerListApi(APIView):
    """The partner platforms the federation allows to sell this bank's merchants, and
    whether the bank opted out of each (any staff of the bank)."""

    permission_classes = [IsBankStaff]

    @extend_schema(responses=BankPartnerSerializer(many=True))
    def get(self, request):
        return Response(BankPartnerSerializer(partners_of_bank(bank=request.bank),
                                              many=True).data)


class BankPartnerOptApi(APIView):
    """Opt the bank's merchants out of a partner's catalog, or back in (bank admins). The
    partner's feed reports the bank's products as delisted, or upserted again."""

    permission_classes = [IsBankStaff]
    staff_roles = (StaffRole.BANK_ADMIN,)
    opt_out = True

    @extend_schema(request=None, responses=BankPartnerSerializer)
    def post(self, request, partner_id: int):
        partner = partner_of_bank(bank=request.bank, partner_id=partner_id)
        service = bank_partner_opt_out if self.opt_out else bank_partner_opt_in
        service(bank=request.bank, partner=partner, acting_user=request.user)
        row = next(p for p in partners_of_bank(bank=request.bank) if p.pk == partner.pk)
        return Response(BankPartnerSerializer(row).data)
