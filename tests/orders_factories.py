"""Buying test data: two merchants of two banks with products, made by the real services."""

from __future__ import annotations

import uuid
from decimal import Decimal
from types import SimpleNamespace

from catalog.services import SkuSpec, product_create, product_transition
from orders import services as orders
from orders.models import Cart
from payments import services as payments
from tests import unique
from tests.catalog_factories import approved_merchant, category

GOOD_CARD = payments.Card("4242 4242 4242 4242", 12, 2030, "123")
DECLINED_CARD = payments.Card("4000000000000341", 12, 2030, "123")
AUTH_CARD = payments.Card("4000002760003184", 12, 2030, "123")


def product_with_sku(merchant, *, name, price, stock, tiers=None):
    product = product_create(merchant=merchant, name=name, category=category(),
                             origin_county="甲县",
                             skus=[SkuSpec(spec="5斤装", unit="箱", price=Decimal(price),
                                           stock=stock, tiers=tiers or [])])
    product_transition(product=product, action="submit")
    if product.status != "listed":
        product_transition(product=product, action="approve_listing")
    return product.skus.get()


def market(province, *, stock_a=20, stock_b=20):
    """Merchant A (bank A) sells apples at 45.50, merchant B (bank B) honey at 68.00."""
    m_a, _ = approved_merchant(province.bank_a, province.a_manager, name=f"甲果园{_short()}")
    m_b, _ = approved_merchant(province.bank_b, province.b_manager, name=f"乙蜂场{_short()}")
    sku_a = product_with_sku(m_a, name="甲县苹果", price="45.50", stock=stock_a,
                             tiers=[(10, Decimal("39.00")), (50, Decimal("35.00"))])
    sku_b = product_with_sku(m_b, name="乙县槐花蜜", price="68.00", stock=stock_b)
    return SimpleNamespace(merchant_a=m_a, merchant_b=m_b, sku_a=sku_a, sku_b=sku_b)


def _short() -> str:
    return unique.tag()


ADDRESS = orders.DeliveryAddress("张三", "13700000001", "甲县人民路 18 号 3 单元")


def place(buyer, bank, lines, *, fulfilment=None, delivery=ADDRESS):
    """lines: [(sku, qty)] -> a checkout placed on ``bank``'s storefront."""
    cart = Cart.objects.filter(user=buyer).first() or orders.cart_get_or_create(user=buyer)
    cart.items.all().delete()
    for sku, qty in lines:
        orders.cart_add(cart=cart, sku_id=sku.pk, quantity=qty)
    return orders.checkout_place(buyer=buyer, cart=cart, storefront_bank=bank,
                                 fulfilment=fulfilment, delivery=delivery)


def pay(checkout, card=GOOD_CARD, key=None):
    return payments.checkout_pay(checkout=checkout, buyer=checkout.buyer, card=card,
                                 idempotency_key=key or uuid.uuid4().hex)
