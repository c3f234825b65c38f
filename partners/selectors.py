"""Reads for partner platforms: the partners and their keys (federation admins), and a
partner's catalog: every product it may sell (the export) and what changed (the feed).

A partner's catalog is the shoppers' catalog (``catalog.selectors.visible_products``:
listed products of approved merchants of active banks) narrowed to the banks the
federation allows the partner, less the banks that opted out of it.

Both reads walk the products in key order, a chunk at a time (keyset pagination, no
server-side cursor), so that memory stays flat however large the catalog is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max, Min, Q, QuerySet, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from banks.models import BankEvent
from catalog.models import Batch, Product, Sku
from catalog.selectors import visible_products
from core.money import quantize_money
from partners.models import (
    BankPartnerOptOut,
    MemberRole,
    Partner,
    PartnerKey,
    PartnerMember,
    PartnerStatus,
)

EXPORT_CHUNK = 2000
CHANGES_LIMIT_DEFAULT = 500
CHANGES_LIMIT_MAX = 1000
# Stock bands: at least this many units available is "in_stock"; 1 up to it "low".
IN_STOCK_FROM = 10


# --- partners and keys (federation admins) ----------------------------------------------

def partner_list() -> QuerySet[Partner]:
    return Partner.objects.prefetch_related("banks").order_by("status", "name")


def partner_get(*, partner_id) -> Partner:
    return get_object_or_404(Partner, pk=partner_id)


# The partners' audit actions as people read them (``banks.BankEvent.action``).
ACTION_LABELS = {
    "partner_register": gettext_lazy("Partner registered"),
    "partner_update": gettext_lazy("Partner details changed"),
    "partner_suspend": gettext_lazy("Partner suspended"),
    "partner_reactivate": gettext_lazy("Partner reactivated"),
    "partner_close": gettext_lazy("Partner closed"),
    "partner_set_banks": gettext_lazy("Partner's banks changed"),
    "partner_key_create": gettext_lazy("Partner API key created"),
    "partner_key_rotate": gettext_lazy("Partner API key rotated"),
    "partner_key_revoke": gettext_lazy("Partner API key revoked"),
    "partner_bank_opt_out": gettext_lazy("Merchants kept out of a partner"),
    "partner_bank_opt_in": gettext_lazy("Merchants offered to a partner again"),
    "partner_member_add": gettext_lazy("Partner console member added"),
    "partner_member_remove": gettext_lazy("Partner console member removed"),
}
BANK_SIDE = ("partner_bank_opt_out", "partner_bank_opt_in")


@dataclass(frozen=True)
class PartnerTrailEntry:
    at: datetime
    actor: object
    partner: Partner | None
    action: str  # without the "partner_" prefix of the audit event's action
    label: str
    changes: dict


def partner_events(*, partner: Partner | None = None, limit: int = 50) -> list[PartnerTrailEntry]:
    """The partners' trail from the one audit table (``banks.BankEvent``), newest first."""
    prefix = "partners.partner:"
    rows = BankEvent.objects.select_related("actor").filter(
        **({"detail__object": f"{prefix}{partner.pk}"} if partner is not None
           else {"detail__object__startswith": prefix}))[:limit]
    partners = Partner.objects.in_bulk(
        {int(str(r.detail["object"]).removeprefix(prefix)) for r in rows})
    return [PartnerTrailEntry(
        at=r.created_at, actor=r.actor,
        partner=partners.get(int(str(r.detail["object"]).removeprefix(prefix))),
        action=r.action.removeprefix("partner_"),
        label=str(ACTION_LABELS.get(r.action, r.action)), changes=r.detail.get("changes", {}))
        for r in rows]


def key_list(*, partner: Partner | None = None) -> QuerySet[PartnerKey]:
    qs = PartnerKey.objects.select_related("partner")
    return qs.filter(partner=partner) if partner is not None else qs


def key_get(*, key_id, partner: Partner | None = None) -> PartnerKey:
    """A key by id; with ``partner``, only one of that partner's (404 otherwise)."""
    qs = PartnerKey.objects.select_related("partner")
    if partner is not None:
        qs = qs.filter(partner=partner)
    return get_object_or_404(qs, pk=key_id)


# --- members: who may open a partner's console ------------------------------------------


def members_of(*, partner: Partner | None = None) -> QuerySet[PartnerMember]:
    qs = PartnerMember.objects.select_related("partner", "user").order_by(
        "partner__name", "user__username")
    return qs.filter(partner=partner) if partner is not None else qs


def member_get(*, member_id, partner: Partner | None = None) -> PartnerMember:
    qs = PartnerMember.objects.select_related("partner", "user")
    if partner is not None:
        qs = qs.filter(partner=partner)
    return get_object_or_404(qs, pk=member_id)


def memberships_of(*, user) -> list[PartnerMember]:
    """The partners (not closed) whose console the person may open."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(PartnerMember.objects.select_related("partner")
                .filter(user=user).exclude(partner__status=PartnerStatus.CLOSED)
                .order_by("partner__name"))


def partner_for_member(*, user, partner_id, admin: bool = False) -> tuple[Partner, PartnerMember]:
    """The partner whose console the person opens, and the person's membership: 404 to
    anyone not its member (a closed partner's console is closed); with ``admin``, a
    viewer gets PermissionDenied (403)."""
    if not getattr(user, "is_authenticated", False):
        raise Http404
    member = (PartnerMember.objects.select_related("partner")
              .filter(user=user, partner_id=partner_id)
              .exclude(partner__status=PartnerStatus.CLOSED).first())
    if member is None:
        raise Http404
    if admin and member.role != MemberRole.ADMIN:
        raise PermissionDenied
    return member.partner, member


def partner_for_key_manager(*, user, partner_id, change: bool = False) -> Partner:
    """The partner whose keys the person manages: a federation admin any partner, a
    member of the partner its own (to change them, an admin of it; a viewer 403); anyone
    else 404."""
    if getattr(user, "is_federation_admin", False):
        return partner_get(partner_id=partner_id)
    partner, _member = partner_for_member(user=user, partner_id=partner_id, admin=change)
    return partner


def keys_for_manager(*, user, partner_id=None) -> QuerySet[PartnerKey]:
    """The keys the person sees: of one partner (``partner_for_key_manager``), or of every
    partner it may see (a federation admin: all; a member: its partners'; anyone else
    404)."""
    if partner_id is not None:
        return key_list(partner=partner_for_key_manager(user=user, partner_id=partner_id))
    if getattr(user, "is_federation_admin", False):
        return key_list()
    partner_ids = [m.partner_id for m in memberships_of(user=user)]
    if not partner_ids:
        raise Http404  # no partner's member: as if there were no such list
    return key_list().filter(partner_id__in=partner_ids)


def key_for_manager(*, user, key_id, change: bool = False) -> PartnerKey:
    """A key the person may manage (``partner_for_key_manager``), or 404."""
    if getattr(user, "is_federation_admin", False):
        return key_get(key_id=key_id)
    partner_ids = [m.partner_id for m in memberships_of(user=user)]
    key = get_object_or_404(PartnerKey.objects.select_related("partner"), pk=key_id,
                            partner_id__in=partner_ids)
    partner_for_key_manager(user=user, partner_id=key.partner_id, change=change)
    return key


def partners_of_bank(*, bank) -> list[Partner]:
    """The partners (not closed) the federation allows to sell this bank's merchants,
    each with ``opted_out``: whether the bank keeps its merchants out."""
    partners = list(Partner.objects.filter(banks=bank).exclude(status="closed")
                    .order_by("name"))
    out = set(BankPartnerOptOut.objects.filter(bank=bank).values_list("partner_id",
                                                                      flat=True))
    for partner in partners:
        partner.opted_out = partner.pk in out  # type: ignore[attr-defined]
    return partners


def partner_of_bank(*, bank, partner_id) -> Partner:
    """A partner allowed this bank's merchants (404 otherwise: another bank's business)."""
    return get_object_or_404(Partner.objects.filter(banks=bank).exclude(status="closed"),
                             pk=partner_id)


# --- the partner's catalog -------------------------------------------------------------

def partner_bank_ids(partner: Partner) -> list[int]:
    """The banks whose merchants the partner may sell now."""
    out = BankPartnerOptOut.objects.filter(partner=partner).values_list("bank_id", flat=True)
    return sorted(set(partner.banks.values_list("pk", flat=True)) - set(out))


def partner_products(partner: Partner, bank_ids: list[int] | None = None
                     ) -> QuerySet[Product]:
    if bank_ids is None:
        bank_ids = partner_bank_ids(partner)
    return visible_products().filter(merchant__bank_id__in=bank_ids)


def stock_band(available: int) -> str:
    if available >= IN_STOCK_FROM:
        return "in_stock"
    return "low" if available > 0 else "out"


def _yuan(value) -> str | None:
    return None if value is None else str(quantize_money(value))


_SENTINEL_ID = 987654321987
_SENTINEL_TOKEN = "00000000-0000-4000-8000-0000feed0000"


def _links(absolute) -> tuple[str, str]:
    """Absolute URL templates of a product's page and a batch's trace page: reversed once
    per export, not per item (reversing is most of an item's cost)."""
    product = absolute(reverse("catalog:product", kwargs={"product_id": _SENTINEL_ID}))
    trace = absolute(reverse("catalog:trace", kwargs={"token": _SENTINEL_TOKEN}))
    return (product.replace(str(_SENTINEL_ID), "{}"),
            trace.replace(_SENTINEL_TOKEN, "{}"))


# A product's fields an item shows, read as plain rows (no model instances: most of the
# export's time went into building them).
ITEM_FIELDS = ("id", "name", "image", "updated_at", "merchant_id", "merchant__name",
               "merchant__bank__code", "category__slug", "category__name")


def _items(products: list[dict], absolute, links: tuple[str, str] | None = None
           ) -> list[dict]:
    """The feed's items of these rows of ``ITEM_FIELDS`` (two more queries for the whole
    chunk)."""
    product_url, trace_url = links or _links(absolute)
    ids = [p["id"] for p in products]
    skus = {row["product_id"]: row for row in Sku.objects.filter(product_id__in=ids)
            .values("product_id").annotate(low=Min("price"), high=Max("price"),
                                           stock=Sum("stock")).order_by()}
    traces: dict[int, list[str]] = {}
    for product_id, token in (Batch.objects.filter(product_id__in=ids)
                              .order_by("product_id", "-harvest_date", "-id")
                              .values_list("product_id", "trace_token")):
        traces.setdefault(product_id, []).append(trace_url.format(token))
    items = []
    storage = Product._meta.get_field("image").storage
    for p in products:
        pk = p["id"]
        row = skus.get(pk, {})
        items.append({
            "id": pk,
            "title": p["name"],
            "merchant": {"id": p["merchant_id"], "name": p["merchant__name"]},
            "bank": p["merchant__bank__code"],
            "category": {"slug": p["category__slug"], "name": p["category__name"]},
            "price": {"min": _yuan(row.get("low")), "max": _yuan(row.get("high"))},
            "stock": stock_band(int(row.get("stock") or 0)),
            "images": [absolute(storage.url(p["image"]))] if p["image"] else [],
            "trace_urls": traces.get(pk, []),
            "url": product_url.format(pk),
            "updated_at": p["updated_at"].isoformat(),
        })
    return items


def catalog_export(*, partner: Partner, absolute=str, chunk: int = EXPORT_CHUNK
                   ) -> Iterator[dict]:
    """Every product the partner may sell, by id, one chunk of rows in memory at a time."""
    bank_ids = partner_bank_ids(partner)
    base = partner_products(partner, bank_ids).order_by("pk").values(*ITEM_FIELDS)
    links = _links(absolute)
    last = 0
    while True:
        products = list(base.filter(pk__gt=last)[:chunk])
        if not products:
            return
        yield from _items(products, absolute, links)
        last = products[-1]["id"]


@dataclass(frozen=True)
class Changes:
    items: list[dict]
    next_cursor: str
    has_more: bool
    etag: str


def encode_cursor(updated_at: datetime, product_id: int) -> str:
    raw = f"{updated_at.isoformat()}|{product_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The position a cursor names; a ValidationError on the field ``cursor`` if it is
    not one of ours."""
    bad = ValidationError({"cursor": [_("This cursor is not valid.")]})
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, product_id = text.split("|")
        at = parse_datetime(stamp)
        pk = int(product_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad
    if at is None or timezone.is_naive(at) or pk < 0:
        raise bad
    return at, pk


def parse_since(value: str) -> datetime:
    try:
        at = parse_datetime(value.strip())
    except ValueError:
        at = None
    if at is None:
        raise ValidationError({"updated_since": [_(
            "Give a date and time in ISO 8601, e.g. 2026-05-01T08:00:00+08:00.")]})
    if timezone.is_naive(at):
        at = timezone.make_aware(at)
    return at


def catalog_changes(*, partner: Partner, cursor: str = "", updated_since: str = "",
                    limit: int = CHANGES_LIMIT_DEFAULT, absolute=str) -> Changes:
    """Products changed after the cursor (or since ``updated_since``, or from the start),
    in (updated_at, id) order: an ``upsert`` with the whole item for each product the
    partner may sell, a ``delisted`` for one it may not (any more). Products never listed
    are not in the feed.

    Changes younger than PARTNER_FEED_SETTLE_SECONDS are left for the next page: a
    transaction still open may commit a product with an earlier ``updated_at``, which a
    cursor already past it would miss."""
    if cursor:
        after_at, after_id = decode_cursor(cursor)
        position = Q(updated_at__gt=after_at) | Q(updated_at=after_at, pk__gt=after_id)
    elif updated_since:
        since = parse_since(updated_since)
        position = Q(updated_at__gte=since)
    else:
        position = Q()
    if not 1 <= limit <= CHANGES_LIMIT_MAX:
        raise ValidationError({"limit": [_("The limit is between 1 and %(max)d.")
                                         % {"max": CHANGES_LIMIT_MAX}]})
    settle = timezone.now() - timedelta(seconds=settings.PARTNER_FEED_SETTLE_SECONDS)
    rows = list(Product.objects.filter(position, listed_at__isnull=False,
                                       updated_at__lte=settle)
                .order_by("updated_at", "pk")
                .values_list("pk", "updated_at")[:limit])
    bank_ids = partner_bank_ids(partner)
    ids = [pk for pk, _at in rows]
    sellable = list(partner_products(partner, bank_ids).filter(pk__in=ids)
                    .values(*ITEM_FIELDS))
    full = {item["id"]: item for item in _items(sellable, absolute)}
    items = []
    for pk, at in rows:
        if pk in full:
            items.append({"event": "upsert", **full[pk]})
        else:
            items.append({"event": "delisted", "id": pk, "updated_at": at.isoformat()})
    next_cursor = encode_cursor(rows[-1][1], rows[-1][0]) if rows else cursor
    has_more = len(rows) == limit
    # Of the page as sent (ids, times, and what the items say: a stock band may change
    # without a new updated_at), so that a 304 never hides a difference.
    digest = hashlib.sha256(json.dumps([items, next_cursor, has_more], sort_keys=True,
                                       ensure_ascii=False).encode())
    return Changes(items=items, next_cursor=next_cursor, has_more=has_more,
                   etag=f'"{digest.hexdigest()[:32]}"')
