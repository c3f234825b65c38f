"""The traffic dashboards' tables as JSON: /api/v1/federation/traffic/<table>/ on the
portal (federation admins) and /api/v1/console/traffic/<table>/ on a bank's domain (that
bank's staff, only the bank's own rows).

Each endpoint serves one table of ``federation.reports`` (the same rows and columns as the
page and its downloads) for ``?start=YYYY-MM-DD&end=YYYY-MM-DD`` (default: the last 30
days): ``{"start", "end", "rows": [{column: value}]}``. Money is a string with two
decimals, rates are percentages with one decimal (null when there is nothing to divide by).
"""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from banks.permissions import IsBankStaff, IsFederationAdmin
from core.api import valid
from federation import reports


class RangeQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="first day, YYYY-MM-DD "
                                                            "(default: 29 days before end)")
    end = serializers.DateField(required=False, help_text="last day, YYYY-MM-DD "
                                                          "(default: today)")

    def validate(self, attrs):
        start, end = reports.date_range(start=attrs.get("start"), end=attrs.get("end"))
        return {"start": start, "end": end}


FIELD_OF_KIND = {
    "text": lambda: serializers.CharField(),
    "int": lambda: serializers.IntegerField(),
    "money": lambda: serializers.DecimalField(max_digits=16, decimal_places=2,
                                              allow_null=True),
    "pct": lambda: serializers.DecimalField(max_digits=7, decimal_places=1, allow_null=True,
                                            help_text="percentage"),
}


def _row_serializer(name: str, key: str):
    _title, columns = reports.SPECS[key]
    fields = {c.key: FIELD_OF_KIND[c.kind]() for c in columns}
    return inline_serializer(name, fields)


class _TableApi(APIView):
    tables: dict = {}
    table_key = ""

    def bank(self, request):
        return None

    def get(self, request):
        query = valid(RangeQuerySerializer, request.query_params)
        start, end = query["start"], query["end"]
        table = reports.build(self.tables, self.table_key, start=start, end=end,
                              bank=self.bank(request), today=timezone.localdate())
        keys = [c.key for c in table.columns]
        rows = [dict(zip(keys, values, strict=True)) for values in table.values()]
        out = self.row_serializer(rows, many=True).data
        return Response({"start": start.isoformat(), "end": end.isoformat(), "rows": out})


def _make(*, base_name: str, key: str, tables: dict, permission, bank_scoped: bool,
          summary: str):
    title, _columns = reports.SPECS[key]
    camel = "".join(part.capitalize() for part in key.split("_"))
    row = _row_serializer(f"{base_name}{camel}Row", key)

    def get(self, request):
        return _TableApi.get(self, request)

    get = extend_schema(
        operation_id=f"{base_name[0].lower()}{base_name[1:]}_{key}",
        summary=summary, description=str(title), parameters=[RangeQuerySerializer],
        responses=inline_serializer(f"{base_name}{camel}", {
            "start": serializers.DateField(), "end": serializers.DateField(),
            "rows": row.__class__(many=True)}),
        tags=["traffic"])(get)
    attrs = {"permission_classes": [permission], "tables": tables, "table_key": key,
             "row_serializer": row.__class__, "get": get,
             "__doc__": f"{summary} ({key})", "__module__": __name__}
    if bank_scoped:
        attrs["bank"] = lambda self, request: request.bank
    return type(f"{base_name}{camel}Api", (_TableApi,), attrs)


FEDERATION_SUMMARIES = {
    "storefronts": "Visits, searches, orders and GMV per storefront (the portal too)",
    "pairs": "Traffic, orders, GMV, conversion and referral fees per pair of banks",
    "series": "Traffic and GMV per day, with the cross-bank part",
    "funnel": "Visit to purchase funnel, province-wide",
    "products": "Top products by GMV",
    "regions": "Top regions of origin by GMV",
    "categories": "Top categories by GMV",
    "credit": "Referral credit between each pair of banks",
    "credit_banks": "Referral fees earned and paid per bank",
    "compliance": "Merchants admitted, suspended, in review; overdue re-reviews (today)",
    "partners": "Orders and GMV per partner platform and month",
    "partner_days": "Orders and GMV per partner platform and day",
}
BANK_SUMMARIES = {
    "flows": "This bank's traffic in and out per other bank and the portal",
    "merchants": "This bank's merchants' performance",
    "segments": "Purchases through this bank's storefront by customer group",
    "series": "This bank's traffic and GMV per day",
    "funnel": "Visit to purchase funnel on this bank's storefront",
    "products": "Top products of this bank's merchants",
    "regions": "Top regions of origin of this bank's merchants' goods",
    "credit": "Referral credit between this bank and each other bank",
}

FEDERATION_APIS = {
    key: _make(base_name="FederationTraffic", key=key, tables=reports.FEDERATION_TABLES,
               permission=IsFederationAdmin, bank_scoped=False, summary=summary)
    for key, summary in FEDERATION_SUMMARIES.items()}
BANK_APIS = {
    key: _make(base_name="ConsoleTraffic", key=key, tables=reports.BANK_TABLES,
               permission=IsBankStaff, bank_scoped=True, summary=summary)
    for key, summary in BANK_SUMMARIES.items()}
