"""Products and their SKUs and wholesale tiers, images, curation, and the listing state
machine (declared as ``Product.STATES``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.services import register_bank_audit
from catalog import search
from catalog.models import UNITS, Category, Merchant, Product, ProductStatus, Sku, WholesaleTier
from catalog.services.search_index import product_reindex
from core import uploads
from core.errors import ApplicationError
from core.money import quantize_money
from core.writes import AuditWriter, lock, require, transition

P = ProductStatus
# Declared on the model; "submit" lists at once where the bank does not review listings.
PRODUCT_TRANSITIONS = Product.STATES.table


@dataclass(frozen=True)
class SkuSpec:
    spec: str
    unit: str
    price: Decimal
    stock: int = 0
    tiers: Sequence[tuple[int, Decimal]] = ()  # (min quantity, unit price)


def _validate_product_fields(*, name: str, category: Category | None, origin_county: str,
                             errors: dict[str, list[str]]) -> None:
    if not (name or "").strip():
        errors.setdefault("name", []).append(_("Enter the product's name."))
    if category is None:
        errors.setdefault("category", []).append(_("Choose a category."))
    if not (origin_county or "").strip():
        errors.setdefault("origin_county", []).append(_("Enter the county of origin."))


def _validate_skus(skus: Sequence[SkuSpec], errors: dict[str, list[str]]) -> None:
    for index, sku in enumerate(skus, start=1):
        label = _("Specification %(n)s") % {"n": index}
        if not (sku.spec or "").strip():
            errors.setdefault("skus", []).append(_("%(l)s: enter the specification.")
                                                 % {"l": label})
        if sku.unit not in UNITS:
            errors.setdefault("skus", []).append(_("%(l)s: choose a unit.") % {"l": label})
        if sku.price is None or Decimal(sku.price) <= 0:
            errors.setdefault("skus", []).append(_("%(l)s: the price must be above zero.")
                                                 % {"l": label})
        if sku.stock is None or int(sku.stock) < 0:
            errors.setdefault("skus", []).append(_("%(l)s: stock cannot be negative.")
                                                 % {"l": label})
        previous_price = Decimal(sku.price or 0)
        seen: set[int] = set()
        for min_qty, unit_price in sorted(sku.tiers):
            if min_qty < 2 or min_qty in seen:
                errors.setdefault("skus", []).append(
                    _("%(l)s: wholesale tiers start at 2 units, one price per quantity.")
                    % {"l": label})
            elif Decimal(unit_price) <= 0:
                errors.setdefault("skus", []).append(
                    _("%(l)s: a wholesale price must be above zero.") % {"l": label})
            elif Decimal(unit_price) > previous_price:
                errors.setdefault("skus", []).append(
                    _("%(l)s: a larger quantity must not cost more per unit.") % {"l": label})
            seen.add(min_qty)
            previous_price = Decimal(unit_price)


@transaction.atomic
def product_create(*, merchant: Merchant, name: str, category: Category | None,
                   origin_county: str, skus: Sequence[SkuSpec], subtitle: str = "",
                   description: str = "", origin_province: str = "",
                   origin_township: str = "", gi_label: str = "", image=None,
                   name_en: str = "", aliases: str = "") -> Product:
    errors: dict[str, list[str]] = {}
    _validate_product_fields(name=name, category=category, origin_county=origin_county,
                             errors=errors)
    if not skus:
        errors.setdefault("skus", []).append(_("Add at least one specification."))
    _validate_skus(skus, errors)
    if errors:
        raise ValidationError(errors)
    product = Product.objects.create(
        merchant=merchant, category=category, name=name.strip(), subtitle=subtitle.strip(),
        description=description.strip(), origin_province=origin_province.strip(),
        origin_county=origin_county.strip(), origin_township=origin_township.strip(),
        gi_label=gi_label.strip(), name_en=(name_en or "").strip(),
        aliases=_clean_aliases(aliases))
    if image:
        _save_image(product, image)
    for spec in skus:
        _sku_create(product, spec)
    _refresh_price_from(product)
    return product


def _clean_aliases(aliases: str | None) -> str:
    """Aliases as one comma-separated string (what a merchant typed, tidied)."""
    return ", ".join(dict.fromkeys(search.split_aliases(aliases or "")))[:200]


def _save_image(product: Product, image) -> None:
    # Write only the image column: a full save of an instance held since before the last
    # reindex would write back its stale search columns.
    uploads.attach(product, "image", image)


def product_set_image(*, product: Product, image) -> Product:
    _save_image(product, image)
    return product


def _sku_create(product: Product, spec: SkuSpec) -> Sku:
    sku = Sku.objects.create(product=product, spec=spec.spec.strip(), unit=spec.unit,
                             price=quantize_money(spec.price), on_hand=int(spec.stock))
    WholesaleTier.objects.bulk_create(
        WholesaleTier(sku=sku, min_quantity=q, unit_price=quantize_money(p))
        for q, p in sorted(spec.tiers))
    return sku


def _refresh_price_from(product: Product) -> None:
    product.price_from = product.skus.aggregate(p=Min("price"))["p"]
    product.save(update_fields=["price_from"])


@transaction.atomic
def product_update(*, product: Product, name: str, category: Category | None,
                   origin_county: str, subtitle: str = "", description: str = "",
                   origin_province: str = "", origin_township: str = "",
                   gi_label: str = "", image=None, name_en: str | None = None,
                   aliases: str | None = None) -> Product:
    errors: dict[str, list[str]] = {}
    _validate_product_fields(name=name, category=category, origin_county=origin_county,
                             errors=errors)
    if errors:
        raise ValidationError(errors)
    product.name, product.category = name.strip(), category
    product.subtitle, product.description = subtitle.strip(), description.strip()
    product.origin_province, product.origin_county = origin_province.strip(), origin_county
    product.origin_township, product.gi_label = origin_township.strip(), gi_label.strip()
    if name_en is not None:
        product.name_en = name_en.strip()
    if aliases is not None:
        product.aliases = _clean_aliases(aliases)
    product.save(update_fields=["name", "category", "subtitle", "description",
                                "origin_province", "origin_county", "origin_township",
                                "gi_label", "name_en", "aliases"])
    if image:
        _save_image(product, image)
    if product.status == P.LISTED:
        product_reindex(product_ids=[product.pk])
    return product


@transaction.atomic
def sku_add(*, product: Product, spec: SkuSpec) -> Sku:
    errors: dict[str, list[str]] = {}
    _validate_skus([spec], errors)
    if errors:
        raise ValidationError(errors)
    sku = _sku_create(product, spec)
    _refresh_price_from(product)
    if product.status == P.LISTED:
        product_reindex(product_ids=[product.pk])   # its specification is searchable
    return sku


# On the bank's trail (staff decisions are written on the merchant's dossier instead).
register_bank_audit(Product, action="product_{action}", bank=lambda row: row.merchant.bank)


@transaction.atomic
def product_transition(*, product: Product, action: str, reason: str = "", actor=None,
                       audit: AuditWriter | None = None) -> Product:
    """Move a product through its listing machine, audited by ``audit`` (the bank's trail
    when not given). Submitting lists at once where the bank does not review listings:
    the submission is then approved by the platform in the same transaction."""
    if action not in PRODUCT_TRANSITIONS:
        raise ApplicationError(_("Unknown action “%(a)s”.") % {"a": action}, field="action")
    locked = lock(product, related=["merchant__bank"])
    refusal = (_("A product that is “%(status)s” cannot take this step.")
               % {"status": locked.get_status_display()})
    require(locked, action, message=refusal)
    if action in {"submit", "approve_listing"}:
        if not locked.merchant.is_trading:
            raise ApplicationError(_("Only an approved merchant's products can be listed."),
                                   code="merchant_not_approved")
        if not locked.skus.exists():
            raise ApplicationError(_("Add at least one specification first."), field="skus")
    if action == "reject_listing" and not (reason or "").strip():
        raise ApplicationError(_("Give a reason."), field="reason")
    steps = [(action, actor)]
    if action == "submit" and not locked.merchant.bank.requires_listing_review:
        steps.append(("approve_listing", None))  # the platform, by the bank's policy
    for step, by in steps:
        locked.status_reason = (reason or "").strip()
        if PRODUCT_TRANSITIONS[step][1] == P.LISTED:
            locked.listed_at = timezone.now()
        transition(locked, step, actor=by, note=reason, audit=audit, message=refusal,
                   save_fields=["status_reason", "listed_at"])
    if locked.status == P.LISTED:
        product_reindex(product_ids=[locked.pk])
    product.refresh_from_db(fields=["status", "status_reason", "listed_at"])  # caller's copy
    return locked


@transaction.atomic
def product_set_featured(*, product: Product, featured: bool) -> Product:
    product.is_featured = featured
    product.save(update_fields=["is_featured"])
    return product
