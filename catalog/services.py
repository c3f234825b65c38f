"""Writes on the shared catalog: merchants' shop profiles and their state machine,
products and theirs, SKUs, wholesale tiers, stock, batches, and the search index.

State machines live here, one table each; nothing else assigns a status. An illegal
transition raises ``ApplicationError`` (a clear 400), never a silent no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Min
from django.utils import timezone
from django.utils.translation import gettext as _

from banks.models import Bank
from catalog import search
from catalog.models import (
    UNITS,
    Batch,
    Category,
    Merchant,
    MerchantKind,
    MerchantMember,
    MerchantRole,
    MerchantStatus,
    Product,
    ProductStatus,
    SearchTerm,
    Sku,
    SynonymGroup,
    WholesaleTier,
)
from catalog.selectors import SYNONYMS_CACHE_KEY
from core import uploads
from core.errors import ApplicationError
from core.money import quantize_money

# --- merchant state machine ---------------------------------------------------------------

M = MerchantStatus
MERCHANT_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    # action: (from states, to state)
    "start_review": ((M.APPLIED,), M.UNDER_REVIEW),
    "approve": ((M.UNDER_REVIEW,), M.APPROVED),
    "reject": ((M.APPLIED, M.UNDER_REVIEW), M.REJECTED),
    "suspend": ((M.APPROVED,), M.SUSPENDED),
    "reinstate": ((M.SUSPENDED,), M.APPROVED),
    "reapply": ((M.REJECTED,), M.APPLIED),
}
REASON_REQUIRED = {"reject", "suspend"}


def merchant_allowed_actions(merchant: Merchant) -> list[str]:
    return [a for a, (sources, _to) in MERCHANT_TRANSITIONS.items()
            if merchant.status in sources]


@transaction.atomic
def merchant_transition(*, merchant: Merchant, action: str, reason: str = "") -> Merchant:
    """Move a merchant through its admission state machine (callers audit it)."""
    if action not in MERCHANT_TRANSITIONS:
        raise ApplicationError(_("Unknown action “%(a)s”.") % {"a": action}, field="action")
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    sources, target = MERCHANT_TRANSITIONS[action]
    if locked.status not in sources:
        raise ApplicationError(
            _("A merchant that is “%(status)s” cannot be %(action)s.")
            % {"status": locked.get_status_display(), "action": _action_label(action)},
            code="illegal_transition")
    reason = (reason or "").strip()
    if action in REASON_REQUIRED and not reason:
        raise ApplicationError(_("Give a reason."), field="reason")
    locked.status = target
    locked.status_reason = reason
    locked.status_changed_at = timezone.now()
    locked.save(update_fields=["status", "status_reason", "status_changed_at"])
    merchant.status, merchant.status_reason = locked.status, locked.status_reason
    merchant.status_changed_at = locked.status_changed_at
    return locked


def _action_label(action: str) -> str:
    return {
        "start_review": _("taken into review"), "approve": _("approved"),
        "reject": _("rejected"), "suspend": _("suspended"), "reinstate": _("reinstated"),
        "reapply": _("re-submitted"),
    }.get(action, action)


@transaction.atomic
def merchant_register(*, bank: Bank, owner, name: str, kind: str, county: str,
                      township: str = "", intro: str = "") -> Merchant:
    """A new merchant applies to ``bank``; ``owner`` becomes its owner member."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Enter the shop's name.")]
    elif Merchant.objects.filter(bank=bank, name=name).exists():
        errors["name"] = [_("A shop of this name already exists at this bank.")]
    if kind not in MerchantKind.values:
        errors["kind"] = [_("Choose the kind of business.")]
    if not (county or "").strip():
        errors["county"] = [_("Enter the county.")]
    if errors:
        raise ValidationError(errors)
    merchant = Merchant.objects.create(bank=bank, name=name, kind=kind, county=county.strip(),
                                       township=(township or "").strip(),
                                       intro=(intro or "").strip())
    MerchantMember.objects.create(merchant=merchant, user=owner, role=MerchantRole.OWNER)
    return merchant


@transaction.atomic
def merchant_update_profile(*, merchant: Merchant, intro: str, township: str = "") -> Merchant:
    merchant.intro = (intro or "").strip()
    merchant.township = (township or "").strip()
    merchant.save(update_fields=["intro", "township"])
    return merchant


@transaction.atomic
def merchant_set_featured(*, merchant: Merchant, featured: bool) -> Merchant:
    merchant.is_featured = featured
    merchant.save(update_fields=["is_featured"])
    return merchant


# --- products ------------------------------------------------------------------------------

P = ProductStatus
PRODUCT_TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "submit": ((P.DRAFT, P.DELISTED), P.PENDING_REVIEW),  # or LISTED, by bank policy
    "approve_listing": ((P.PENDING_REVIEW,), P.LISTED),
    "reject_listing": ((P.PENDING_REVIEW,), P.DRAFT),
    "delist": ((P.LISTED, P.PENDING_REVIEW), P.DELISTED),
}


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


@transaction.atomic
def stock_set(*, sku: Sku, on_hand: int) -> Sku:
    """The merchant counts its shelf: ``on_hand`` becomes the figure counted. Units held
    for orders whose goods have not left are on the shelf too, so a count below them is
    refused (and changes nothing): those orders must be sent or cancelled first."""
    if on_hand is None or int(on_hand) < 0:
        raise ValidationError({"on_hand": [_("Stock cannot be negative.")]})
    on_hand = int(on_hand)
    # One statement: a reservation committed meanwhile is either seen here or waits.
    if not Sku.objects.filter(pk=sku.pk, reserved__lte=on_hand).update(on_hand=on_hand):
        reserved = Sku.objects.filter(pk=sku.pk).values_list("reserved", flat=True).first()
        raise ValidationError({"on_hand": [_(
            "%(n)d units are reserved for orders not sent yet and are still on your shelf: "
            "count at least %(n)d, or wait until those orders are sent or cancelled."
        ) % {"n": reserved or 0}]})
    sku.refresh_from_db(fields=["on_hand", "reserved", "stock"])
    return sku


@transaction.atomic
def stock_adjust(*, sku: Sku, delta: int) -> Sku:
    """Add units to the shelf or take them off; taking units that are not available
    (on the shelf and not reserved) is refused."""
    updated = (Sku.objects.filter(pk=sku.pk, stock__gte=-min(delta, 0))
               .update(on_hand=F("on_hand") + delta))
    if not updated:
        raise ApplicationError(_("Not enough stock."), field="stock", code="out_of_stock")
    sku.refresh_from_db(fields=["on_hand", "reserved", "stock"])
    return sku


# Reservations. The buying side (orders) holds units when a checkout is placed, gives them
# back when it is cancelled or expires, and issues them when the goods leave the merchant
# (shipped, or handed to the pickup branch). Callers run inside their own transaction and
# pass SKUs in id order, so that concurrent callers lock rows in one order.


def stock_hold(*, sku_id: int, quantity: int) -> bool:
    """Hold ``quantity`` available units; False (and nothing held) if there are fewer."""
    return bool(Sku.objects.filter(pk=sku_id, stock__gte=quantity).update(
        reserved=F("reserved") + quantity))


def stock_hold_many(*, sku_quantities: dict[int, int]) -> list[int]:
    """Hold the units of every SKU in one statement, or none: the ids of the SKUs short of
    stock ([] = all held). The rows are locked in id order first (a MATERIALIZED CTE with
    FOR UPDATE), so concurrent checkouts of several SKUs cannot deadlock; the conditional
    UPDATE then counts the rows it could change. If some are short, the caller's
    transaction must roll back (the others were held)."""
    if not sku_quantities:
        return []
    ids = sorted(sku_quantities)
    table = Sku._meta.db_table
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(ids))
    params: list = [ids]
    for sku_id in ids:
        params += [sku_id, sku_quantities[sku_id]]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH locked AS MATERIALIZED (SELECT id FROM {table} "  # noqa: S608
            f"WHERE id = ANY(%s) ORDER BY id FOR UPDATE) "
            f"UPDATE {table} s SET reserved = s.reserved + v.q "
            f"FROM (VALUES {values}) AS v(id, q), locked "
            f"WHERE s.id = v.id AND locked.id = s.id AND s.on_hand - s.reserved >= v.q "
            f"RETURNING s.id", params)
        held = {row[0] for row in cursor.fetchall()}
    return [sku_id for sku_id in ids if sku_id not in held]


def stock_unhold(*, sku_quantities: dict[int, int]) -> None:
    """Held units are no longer wanted (checkout cancelled or expired): available again."""
    for sku_id in sorted(sku_quantities):
        Sku.objects.filter(pk=sku_id).update(reserved=F("reserved") - sku_quantities[sku_id])


def stock_issue(*, sku_quantities: dict[int, int]) -> None:
    """Held units leave the shelf: off both the shelf and the reservation."""
    for sku_id in sorted(sku_quantities):
        quantity = sku_quantities[sku_id]
        Sku.objects.filter(pk=sku_id).update(on_hand=F("on_hand") - quantity,
                                             reserved=F("reserved") - quantity)


@transaction.atomic
def product_transition(*, product: Product, action: str, reason: str = "") -> Product:
    if action not in PRODUCT_TRANSITIONS:
        raise ApplicationError(_("Unknown action “%(a)s”.") % {"a": action}, field="action")
    locked = (Product.objects.select_for_update().select_related("merchant__bank")
              .get(pk=product.pk))
    sources, target = PRODUCT_TRANSITIONS[action]
    if locked.status not in sources:
        raise ApplicationError(
            _("A product that is “%(status)s” cannot take this step.")
            % {"status": locked.get_status_display()}, code="illegal_transition")
    if action in {"submit", "approve_listing"}:
        if not locked.merchant.is_trading:
            raise ApplicationError(_("Only an approved merchant's products can be listed."),
                                   code="merchant_not_approved")
        if not locked.skus.exists():
            raise ApplicationError(_("Add at least one specification first."), field="skus")
    if action == "submit" and not locked.merchant.bank.requires_listing_review:
        target = P.LISTED
    if action == "reject_listing" and not (reason or "").strip():
        raise ApplicationError(_("Give a reason."), field="reason")
    locked.status = target
    locked.status_reason = (reason or "").strip()
    fields = ["status", "status_reason"]
    if target == P.LISTED:
        locked.listed_at = timezone.now()
        fields.append("listed_at")
    locked.save(update_fields=fields)
    if target == P.LISTED:
        product_reindex(product_ids=[locked.pk])
    product.status, product.status_reason = locked.status, locked.status_reason
    product.listed_at = locked.listed_at
    return locked


@transaction.atomic
def product_set_featured(*, product: Product, featured: bool) -> Product:
    product.is_featured = featured
    product.save(update_fields=["is_featured"])
    return product


# --- batches and traceability ----------------------------------------------------------------

INPUT_KINDS = ("fertiliser", "pesticide", "feed", "veterinary", "other")
# What a merchant may type for each kind (the code, or its Chinese name).
INPUT_KIND_NAMES = {"肥料": "fertiliser", "农药": "pesticide", "饲料": "feed",
                    "兽药": "veterinary", "其他": "other"}


@transaction.atomic
def batch_create(*, product: Product, code: str, harvest_date, farm: str, plot: str = "",
                 inputs: Iterable[dict] = (), lab_report: str = "",
                 inspection_report: str = "", report_file=None) -> Batch:
    errors: dict[str, list[str]] = {}
    code = (code or "").strip()
    if not code:
        errors["code"] = [_("Enter the batch code.")]
    elif Batch.objects.filter(product=product, code=code).exists():
        errors["code"] = [_("This product already has a batch with this code.")]
    if harvest_date is None:
        errors["harvest_date"] = [_("Enter the harvest or production date.")]
    elif harvest_date > timezone.localdate():
        errors["harvest_date"] = [_("The harvest date cannot be in the future.")]
    if not (farm or "").strip():
        errors["farm"] = [_("Enter the farm.")]
    clean_inputs = []
    for item in inputs:
        kind, name = item.get("kind", ""), (item.get("name") or "").strip()
        kind = INPUT_KIND_NAMES.get(kind, kind)
        if kind not in INPUT_KINDS or not name:
            errors.setdefault("inputs", []).append(
                _("Each input needs a kind (肥料, 农药, 饲料, 兽药 or 其他) and a name."))
            continue
        clean_inputs.append({"kind": kind, "name": name,
                             "date": str(item.get("date") or ""),
                             "amount": str(item.get("amount") or "")})
    if errors:
        raise ValidationError(errors)
    batch = Batch.objects.create(product=product, code=code, harvest_date=harvest_date,
                                 farm=farm.strip(), plot=(plot or "").strip(),
                                 inputs=clean_inputs, lab_report=(lab_report or "").strip(),
                                 inspection_report=(inspection_report or "").strip())
    if report_file:
        uploads.attach(batch, "report_file", report_file)
    return batch


@transaction.atomic
def batch_set_report(*, batch: Batch, report_file) -> Batch:
    """Attach (or replace) a batch's report document."""
    if not report_file:
        raise ValidationError({"report_file": [_("Choose a file.")]})
    uploads.attach(batch, "report_file", report_file)
    return batch


# --- search index ----------------------------------------------------------------------------

def _search_document(p: Product) -> search.Document:
    category = p.category
    wholes = []
    for cat in (category, category.parent):
        if cat is not None:
            wholes += [cat.name, cat.name_en, *search.split_aliases(cat.aliases)]
    wholes += [p.origin_province, p.origin_county, p.origin_township, p.merchant.name]
    return search.Document(
        name=p.name, name_en=p.name_en, aliases=search.split_aliases(p.aliases),
        specs=[s.spec for s in p.skus.all()], subtitle=p.subtitle, gi_label=p.gi_label,
        wholes=[w for w in wholes if w],
        places=[w for w in (p.origin_province, p.origin_county, p.origin_township) if w])


def product_reindex(*, product_ids: Iterable[int]) -> int:
    """Rebuild the search vector of these products and add their names' terms to the
    vocabulary (see catalog.search)."""
    products = (Product.objects.filter(pk__in=list(product_ids))
                .select_related("category__parent", "merchant").prefetch_related("skus"))
    rows, terms = [], {}
    for p in products:
        doc = _search_document(p)
        rows.append((search.document_vector(doc), search.document_text(doc), p.pk))
        terms.update(search.vocabulary_terms(doc))
    if rows:
        with connection.cursor() as cur:
            cur.executemany("UPDATE catalog_product SET search_vector = %s::tsvector, "
                            "search_text = %s WHERE id = %s", rows)
    if terms:
        SearchTerm.objects.bulk_create(
            [SearchTerm(term=t[:120], display=d[:120]) for t, d in sorted(terms.items())],
            ignore_conflicts=True)
    return len(rows)


# --- synonym dictionary (federation admins) ----------------------------------------------------



def _synonym_words(text: str) -> list[str]:
    words = [search.normalize_text(w).replace(" ", "")
             for w in search.split_aliases(text.replace(" ", ","))]
    return list(dict.fromkeys(w for w in words if w))


def synonyms_changed() -> None:
    """Forget the cached dictionary (every process reads the table again)."""
    # The cache is an optimisation: without it the entry expires by itself.
    with contextlib.suppress(Exception):
        caches["shared"].delete(SYNONYMS_CACHE_KEY)


@transaction.atomic
def synonym_group_create(*, words: str) -> SynonymGroup:
    """A group of words that mean the same produce, e.g. "土豆, 马铃薯, 洋芋"."""
    clean = _synonym_words(words or "")
    errors = []
    if len(clean) < 2:
        errors.append(_("Enter at least two different words, separated by commas or spaces."))
    for word in clean:
        if len(word) > 30:
            errors.append(_("“%(w)s” is longer than 30 characters.") % {"w": word})
    taken = (SynonymGroup.objects.select_for_update()
             .filter(words__overlap=clean).values_list("words", flat=True))
    for group in taken:
        for word in sorted(set(group) & set(clean)):
            errors.append(_("“%(w)s” is already in the group %(g)s.")
                          % {"w": word, "g": " = ".join(group)})
    if errors:
        raise ValidationError({"words": errors})
    group = SynonymGroup.objects.create(words=clean)
    transaction.on_commit(synonyms_changed)
    return group


@transaction.atomic
def synonym_group_delete(*, group: SynonymGroup) -> None:
    SynonymGroup.objects.filter(pk=group.pk).delete()
    transaction.on_commit(synonyms_changed)


def sales_record(*, sku_quantities: dict[int, int]) -> None:
    """Paid orders count towards their products' sales (the storefront's "sales" sort)."""
    per_product: dict[int, int] = {}
    for product_id, sku_id in Sku.objects.filter(pk__in=list(sku_quantities)).values_list(
            "product_id", "pk"):
        per_product[product_id] = per_product.get(product_id, 0) + sku_quantities[sku_id]
    for product_id in sorted(per_product):
        Product.objects.filter(pk=product_id).update(
            sales_count=F("sales_count") + per_product[product_id])
