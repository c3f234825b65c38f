"""Catalog test data made by calling the real services."""

from __future__ import annotations

import datetime
import itertools
from decimal import Decimal

from django_tenants.utils import schema_context

from accounts.services import user_register
from admission import services as admission
from admission.services import LicenceSpec
from catalog.models import Category
from catalog.services import SkuSpec, product_create, product_transition
from core.validators import ID_CHECK, ID_WEIGHTS, uscc_check_char

_seq = itertools.count(1)


def valid_uscc(n: int) -> str:
    base = f"9145030{n:06d}MA5K"[:17]
    base = base.ljust(17, "0")
    return base + uscc_check_char(base)


def valid_id_number(n: int) -> str:
    first17 = f"45030219800101{n:03d}"[:17]
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + ID_CHECK[total % 11]


def category(slug="dried-fruit", name="干果", parent_slug="fruit", parent_name="水果"):
    parent, _ = Category.objects.get_or_create(slug=parent_slug, defaults={"name": parent_name})
    child, _ = Category.objects.get_or_create(slug=slug,
                                              defaults={"name": name, "parent": parent})
    return child


def apply_merchant(bank, *, owner=None, name=None, password="Test@pass-2026"):
    n = next(_seq)
    owner = owner or user_register(username=f"owner-{bank.code}-{n}", password=password)
    with schema_context(bank.schema_name):
        return admission.admission_apply(
            bank=bank, applicant=owner, shop_name=name or f"测试合作社{n}",
            kind="cooperative", county="甲县", uscc=valid_uscc(n),
            legal_rep_name="王五", legal_rep_id=valid_id_number(n),
            contact_phone=f"139{n:08d}", address="甲县某路 1 号",
            licences=[LicenceSpec(kind="business", number=f"L{n}",
                                  expires_on=datetime.date(2031, 1, 1))])


def approved_merchant(bank, staff, **kwargs):
    dossier = apply_merchant(bank, **kwargs)
    with schema_context(bank.schema_name):
        admission.review_start(dossier=dossier, actor=staff)
        admission.inspection_record(dossier=dossier, inspector=staff,
                                    inspected_on=datetime.date.today(), findings="合格",
                                    verdict="pass")
        merchant = admission.merchant_approve(dossier=dossier, actor=staff)
    return merchant, dossier


def listed_product(merchant, name="香港罗汉果", price="39.90", cat=None, **fields):
    product = product_create(merchant=merchant, name=name, category=cat or category(),
                             origin_county=fields.pop("origin_county", "永福县"),
                             skus=[SkuSpec(spec="10个装", unit="盒", price=Decimal(price),
                                           stock=fields.pop("stock", 50))], **fields)
    product_transition(product=product, action="submit")
    if product.status != "listed":
        product_transition(product=product, action="approve_listing")
    return product
